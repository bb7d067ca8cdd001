/**
 * Prometheus metrics, liveness and readiness, against a real jobvisor (supervisor and server
 * processes, real agents, a real Slurm cluster): `GET /metrics` is scraped before and after
 * runs, and the numbers must move by exactly what happened (runs finished, waits and ops
 * observed, requests counted by route pattern, scheduler commands, reconnects); who may read
 * it follows setting metricsAccess; readiness says 503 while the supervisor is stopped.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { loadConfig, ConfigError } from '../src/shared/config.js';
import { secretFilePath } from '../src/shared/secret.js';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { Jobvisor, type Client } from './helpers/jobvisor.js';
import { onCleanup, runCleanups, silentLogger, startTestServer, tempDataDir } from './helpers/server.js';
import { errorHandler } from '../src/shared/httpErrors.js';
import { createSupervisorMetrics } from '../src/supervisor/metrics.js';
import { createSupervisorMetricsRouter } from '../src/supervisor/metricsRoutes.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import { TcpProxy } from './helpers/tcpProxy.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-metrics';
const SLURM = 'metrics-slurm';

/** One sample of Prometheus text: its name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

async function scrapeText(base: string, token?: string): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(`${base}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

describe('metrics of a running jobvisor', () => {
  let cluster: ClusterInfo;
  let proxy: TcpProxy;
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  const scrape = async () => {
    const r = await scrapeText(jv.serverUrl, admin.token);
    expect(r.status, r.text).toBe(200);
    return parse(r.text);
  };

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    proxy = new TcpProxy(() => Number(new URL(jv.supervisorUrl).port));
    const proxyPort = await proxy.listen();
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', SLURM, cluster, { remoteDir: REMOTE_DIR })];
    jv = new Jobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_AGENT_URL: `ws://127.0.0.1:${proxyPort}` } });
    await jv.start();
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 300_000);
  afterAll(async () => {
    await proxy?.close();
    await jv?.stop();
    if (cluster) killAgentOnLoginNode(cluster, SLURM, 'TERM', REMOTE_DIR);
  });

  it('serves one Prometheus text of the server and the supervisor, with no metric name twice', async () => {
    const r = await scrapeText(jv.serverUrl, admin.token);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const types = r.text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(types.length).toBeGreaterThan(20);
    expect(new Set(types).size).toBe(types.length);
    const s = parse(r.text);
    expect(value(s, 'jobvisor_supervisor_up')).toBe(1);
    expect(value(s, 'jobvisor_server_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(s, 'jobvisor_supervisor_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(s, 'jobvisor_slots_total', { target: 'local', size: 'sequential' })).toBe(1);
  });

  it('counts runs, their waits, their ops and the requests by exactly what happened', async () => {
    const before = await scrape();
    const jobs: JobView[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await alice.run({ template: 'sleep', jobKey: `m${i}`, parameters: { seconds: 0, lines: 1 } }));
    for (const j of jobs) await alice.waitJob(j.jobId, (x) => x.status === 'completed', 60_000, 'completed');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    const local = { target: 'local', template: 'sleep' };
    expect(delta('jobvisor_runs_finished_total', { ...local, status: 'completed' })).toBe(3);
    expect(delta('jobvisor_runs', { ...local, status: 'completed' })).toBe(3);
    expect(value(after, 'jobvisor_runs', { ...local, status: 'running' })).toBe(0);
    expect(delta('jobvisor_run_wait_seconds_count', { target: 'local', size: 'sequential' })).toBe(3);
    expect(delta('jobvisor_slot_wait_seconds_count', { target: 'local', size: 'sequential' })).toBe(3);
    expect(delta('jobvisor_op_duration_seconds_count', { kind: 'run', outcome: 'ok' })).toBe(3);
    expect(delta('jobvisor_http_request_duration_seconds_count', { method: 'POST', route: '/api/jobs', status: '2xx' })).toBe(3);
    // The scrape before this one is counted once it was answered; by its pattern, never the raw path.
    expect(delta('jobvisor_http_request_duration_seconds_count', { method: 'GET', route: '/metrics', status: '2xx' })).toBe(1);
    expect(delta('jobvisor_http_request_duration_seconds_count', { method: 'GET', route: '/api/jobs/:jobId' })).toBeGreaterThanOrEqual(3);
    expect(after.filter((s) => jobs.some((j) => Object.values(s.labels).some((v) => v.includes(j.jobId))))).toEqual([]);
    expect(value(after, 'jobvisor_agents', { target: 'local', state: 'connected' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'jobvisor_slot_queue_length', { target: 'local', size: 'sequential' })).toBe(0);
    expect(value(after, 'jobvisor_slots_used', { target: 'local', size: 'sequential' })).toBe(0);
  });

  it('counts the event streams open now', async () => {
    const base = value(await scrape(), 'jobvisor_event_stream_clients');
    const stop = new AbortController();
    const res = await fetch(`${jv.serverUrl}/api/events`, { headers: { authorization: `Bearer ${alice.token}` }, signal: stop.signal });
    expect(res.status).toBe(200);
    expect(value(await scrape(), 'jobvisor_event_stream_clients')).toBe(base + 1);
    stop.abort();
    await waitFor(async () => value(await scrape(), 'jobvisor_event_stream_clients') === base, { what: 'the stream to be counted gone' });
  });

  it('counts an agent\'s reconnect and the updates it sent again', async () => {
    const before = await scrape();
    const job = await alice.run({ template: 'sleep', jobKey: 'cut', parameters: { seconds: 3, lines: 30 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 4, 30_000, 'running with some lines');
    proxy.cut();
    const states = async () => ((await admin.get('/api/agents')).body.agents as { target: string; state: string }[]).filter((a) => a.target === 'local').map((a) => a.state);
    await waitFor(async () => (await states()).includes('disconnected'), { what: 'the supervisor to see the agent gone' });
    const seen = (await alice.job(job.jobId)).logLines;
    const runLog = path.join(jv.dataDir, 'runs', 'alice', job.jobId, '1', 'run.log');
    await waitFor(() => readFileSync(runLog, 'utf8').split('\n').length > seen + 4, { what: 'the cmd to write lines while cut' });
    proxy.restore();
    await alice.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, 'completed');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(delta('jobvisor_agent_reconnects_total', { target: 'local' })).toBe(1);
    expect(delta('jobvisor_agent_resent_updates_total', { target: 'local' })).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('counts the scheduler commands a cluster target ran, and those that failed', async () => {
    expect((await logInTo(alice, SLURM, cluster)).status).toBe(200);
    const before = await scrape();
    const ok = await alice.run({ template: 'sleep', target: SLURM, jobKey: 'slurm-ok', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(ok.jobId, (j) => j.status === 'completed', 90_000, 'the Slurm run');
    const bad = await alice.run({ template: 'sleep', target: SLURM, jobKey: 'slurm-refused', parameters: { seconds: 0, lines: 1 }, options: { partition: 'nosuchpartition' } });
    await alice.waitJob(bad.jobId, (j) => j.status === 'error', 60_000, 'the refused submission');
    let after = before;
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    // The agent sends its counts within a flush interval of each command.
    await waitFor(async () => {
      after = await scrape();
      return delta('jobvisor_scheduler_command_failures_total', { target: SLURM, command: 'sbatch' }) >= 1;
    }, { what: 'the failed sbatch to be counted' });
    expect(delta('jobvisor_scheduler_commands_total', { target: SLURM, command: 'sbatch' })).toBe(2);
    expect(delta('jobvisor_scheduler_command_failures_total', { target: SLURM, command: 'sbatch' })).toBe(1);
    expect(delta('jobvisor_scheduler_commands_total', { target: SLURM, command: 'squeue' })).toBeGreaterThanOrEqual(1);
    expect(delta('jobvisor_runs_finished_total', { target: SLURM, template: 'sleep', status: 'completed' })).toBe(1);
    expect(delta('jobvisor_runs_finished_total', { target: SLURM, template: 'sleep', status: 'error' })).toBe(1);
    expect(delta('jobvisor_run_wait_seconds_count', { target: SLURM })).toBe(1);
  }, 240_000);

  it('lets the server read the supervisor\'s own /metrics with the shared secret only', async () => {
    const secret = readFileSync(secretFilePath({ dataDir: jv.dataDir }), 'utf8').trim();
    expect((await scrapeText(jv.supervisorUrl)).status).toBe(401);
    expect((await scrapeText(jv.supervisorUrl, admin.token)).status).toBe(401);
    const r = await scrapeText(jv.supervisorUrl, secret);
    expect(r.status).toBe(200);
    expect(value(parse(r.text), 'jobvisor_supervisor_process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('is live while the supervisor is stopped, ready only while it answers', async () => {
    const live = await alice.get('/api/health/live');
    expect([live.status, live.body]).toEqual([200, { ok: true }]);
    const ready = await alice.get('/api/health/ready');
    expect([ready.status, ready.body]).toEqual([200, { ready: true, supervisor: 'up', database: 'ok' }]);
    await jv.stopSupervisor();
    try {
      const down = await alice.get('/api/health/ready');
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ ready: false, supervisor: 'down', database: 'unknown' });
      expect(down.body.reason).toMatch(/supervisor is not reachable/);
      expect((await alice.get('/api/health/live')).status).toBe(200);
      expect((await alice.get('/api/health')).body).toEqual({ ok: true, supervisor: 'down' });
      const scraped = await scrapeText(jv.serverUrl, admin.token);
      expect(scraped.status).toBe(200);
      expect(value(parse(scraped.text), 'jobvisor_supervisor_up')).toBe(0);
      expect(scraped.text).not.toContain('jobvisor_supervisor_process_cpu_seconds_total');
    } finally {
      await jv.startSupervisor();
    }
    await waitFor(async () => (await alice.get('/api/health/ready')).status === 200, { what: 'ready again' });
  }, 60_000);
});

describe('who may read the metrics (metricsAccess)', () => {
  afterEach(runCleanups);

  it('defaults to admins: 401 without a login, 403 to a user, 200 to an admin', async () => {
    const s = await startTestServer();
    expect(s.config.metricsAccess).toBe('admin');
    expect((await scrapeText(s.base)).status).toBe(401);
    expect((await scrapeText(s.base, s.aliceToken)).status).toBe(403);
    const r = await scrapeText(s.base, s.adminToken);
    expect(r.status).toBe(200);
    // This server's supervisor does not listen: its own metrics come, saying so.
    expect(value(parse(r.text), 'jobvisor_supervisor_up')).toBe(0);
  });

  it('with open, answers anyone', async () => {
    const s = await startTestServer({ JOBVISOR_METRICS_ACCESS: 'open' });
    expect((await scrapeText(s.base)).status).toBe(200);
  });

  it('answers /metrics as its router matches it (any case, a trailing slash) and nothing beside it', async () => {
    const s = await startTestServer({ JOBVISOR_METRICS_ACCESS: 'open' });
    for (const path of ['/metrics/', '/METRICS', '/Metrics/']) {
      const r = await fetch(`${s.base}${path}`);
      expect(r.status, path).toBe(200);
      expect(await r.text(), path).toContain('jobvisor_http_request_duration_seconds');
    }
    for (const path of ['/metricsx', '/metrics/x', '/api/metrics']) expect(await (await fetch(`${s.base}${path}`)).text(), path).not.toContain('jobvisor_http_request_duration_seconds');
  });

  it('with token, answers the scraper\'s bearer token and admins, and nobody else', async () => {
    const token = 'scraper-token-0123456789';
    const s = await startTestServer({ JOBVISOR_METRICS_ACCESS: 'token', JOBVISOR_METRICS_TOKEN: token });
    expect((await scrapeText(s.base, token)).status).toBe(200);
    expect((await scrapeText(s.base, `${token}x`)).status).toBe(401);
    expect((await scrapeText(s.base)).status).toBe(401);
    expect((await scrapeText(s.base, s.aliceToken)).status).toBe(403);
    expect((await scrapeText(s.base, s.adminToken)).status).toBe(200);
  });

  it('refuses to start with token access and no token, or an unknown access', () => {
    expect(() => loadConfig({ JOBVISOR_METRICS_ACCESS: 'token' })).toThrow(ConfigError);
    expect(() => loadConfig({ JOBVISOR_METRICS_ACCESS: 'token' })).toThrow(/metricsToken is not set/);
    expect(() => loadConfig({ JOBVISOR_METRICS_ACCESS: 'public' })).toThrow(/setting metricsAccess/);
    expect(() => loadConfig({ JOBVISOR_METRICS_ACCESS: 'token', JOBVISOR_METRICS_TOKEN: 'short' })).toThrow(/setting metricsToken/);
  });
});

describe('the supervisor\'s metrics and readiness routes, in this process', () => {
  afterEach(runCleanups);

  async function serve(store: SqliteJobStore, access: 'open' | 'admin' | 'token', metrics = createSupervisorMetrics()): Promise<string> {
    const app = new Koa();
    app.use(errorHandler(silentLogger));
    app.use(createSupervisorMetricsRouter({ metrics, store, secret: 'the-shared-secret-0123', access, token: 'scraper-token-0123456789' }).routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('says 503 with the reason when its job database does not answer, and the server passes it on', async () => {
    const store = new SqliteJobStore(path.join(tempDataDir(), 'jobs.sqlite'), () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    const url = await serve(store, 'admin');
    const ok = await fetch(`${url}/health/ready`);
    expect([ok.status, await ok.json()]).toEqual([200, { ready: true, database: 'ok' }]);
    store.close();
    const failed = await fetch(`${url}/health/ready`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ ready: false, database: 'failed', reason: expect.stringMatching(/job database does not answer/) });
    const s = await startTestServer({ JOBVISOR_SUPERVISOR_URL: url });
    const passed = await fetch(`${s.base}/api/health/ready`);
    expect(passed.status).toBe(503);
    expect(await passed.json()).toMatchObject({ ready: false, supervisor: 'up', database: 'failed' });
  });

  it('answers /metrics by its access: the shared secret always, the token with token, anyone with open', async () => {
    const store = new SqliteJobStore(':memory:', () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    onCleanup(() => store.close());
    const byAdmin = await serve(store, 'admin');
    expect((await scrapeText(byAdmin)).status).toBe(401);
    expect((await scrapeText(byAdmin, 'scraper-token-0123456789')).status).toBe(401);
    expect((await scrapeText(byAdmin, 'the-shared-secret-0123')).status).toBe(200);
    const byToken = await serve(store, 'token');
    expect((await scrapeText(byToken, 'scraper-token-0123456789')).status).toBe(200);
    expect((await scrapeText(byToken)).status).toBe(401);
    expect((await scrapeText(await serve(store, 'open'))).status).toBe(200);
  });

  it('turns an agent\'s cumulative command counts into increments, also across an agent that restarted its counts', async () => {
    const metrics = createSupervisorMetrics();
    const count = async (name: string, command: string) => value(parse(await metrics.text()), name, { target: 't', command });
    metrics.schedulerCommands('a1', 't', { issued: { sbatch: 1, squeue: 3 }, failed: {} });
    metrics.schedulerCommands('a1', 't', { issued: { sbatch: 2, squeue: 5 }, failed: { sbatch: 1 } });
    metrics.schedulerCommands('a2', 't', { issued: { squeue: 1 }, failed: {} });
    expect([await count('jobvisor_scheduler_commands_total', 'sbatch'), await count('jobvisor_scheduler_commands_total', 'squeue')]).toEqual([2, 6]);
    expect(await count('jobvisor_scheduler_command_failures_total', 'sbatch')).toBe(1);
    // The same report again adds nothing; a count below the last one is a new process's: all of it is new.
    metrics.schedulerCommands('a1', 't', { issued: { sbatch: 2, squeue: 5 }, failed: { sbatch: 1 } });
    metrics.schedulerCommands('a1', 't', { issued: { sbatch: 1, squeue: 5 }, failed: { sbatch: 1 } });
    expect(await count('jobvisor_scheduler_commands_total', 'sbatch')).toBe(3);
  });
});
