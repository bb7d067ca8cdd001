/**
 * Upgrading from jobvisor 0.1: its database (run modes and driver names, a Slurm run's options
 * under their own column) opens as targets and sizes, and its run requests still work.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jobvisor, ROOT, type Client } from './helpers/jobvisor.js';

/** 0.1's schema, as it made its databases (test/fixtures/v0.1). */
const SCHEMA_0_1 = readFileSync(path.join(ROOT, 'test', 'fixtures', 'v0.1', 'schema.sql'), 'utf8');

const T0 = Date.parse('2026-11-20T10:00:00Z');

function write01Database(file: string): void {
  const db = new Database(file);
  db.exec(SCHEMA_0_1);
  const job = db.prepare(`INSERT INTO jobs (id, user, job_key, template, run_mode, driver, serial, status, parameters, progress, reason, queued_at, started_at, ended_at,
    updated_at, log_lines, agent_id, pid, sent, external_id, log_offset, slurm_options) VALUES (@id, 'admin', @key, @template, @mode, @driver, @serial, @status, '{}', 1, NULL,
    @t, @t, @ended, @t, 3, @agent, NULL, 1, @external, @offset, @options)`);
  job.run({ id: 'aaaa000000000001', key: 'pi', template: 'quick', mode: 'sequential', driver: 'local', serial: 2, status: 'completed', t: T0, ended: T0 + 1000, agent: null, external: null, offset: 0, options: null });
  job.run({ id: 'aaaa000000000002', key: 'boxed', template: 'sleep', mode: 'parallel', driver: 'docker', serial: 1, status: 'error', t: T0, ended: T0 + 1000, agent: null, external: null, offset: 0, options: null });
  job.run({ id: 'aaaa000000000003', key: 'on-hpc', template: 'sleep', mode: 'sbatch', driver: 'sbatch', serial: 1, status: 'running', t: T0, ended: null, agent: 'sbatch-admin-sbatch-0a0b0c0d', external: '12345', offset: 120, options: '{"partition":"debug","minutes":5}' });
  db.prepare(`INSERT INTO job_runs (job_id, serial, status, template, run_mode, parameters, reason, queued_at, started_at, ended_at)
    VALUES ('aaaa000000000001', 1, 'completed', 'quick', 'parallel', '{}', NULL, ?, ?, ?)`).run(T0 - 5000, T0 - 4000, T0 - 3000);
  db.prepare(`INSERT INTO agents (id, token_hash, user, run_mode, driver, host, pid, last_seq, started_at)
    VALUES ('sbatch-admin-sbatch-0a0b0c0d', ?, 'admin', 'sbatch', 'sbatch', 'login.example.org', 4242, 17, ?)`).run('00'.repeat(32), T0);
  db.close();
}

describe('a jobvisor 0.1 database and 0.1 run requests', () => {
  let jv: Jobvisor;
  let admin: Client;
  const targets = [
    { name: 'local', driver: 'local' },
    { name: 'hpc', driver: 'slurm', title: 'HPC', host: '127.0.0.1', port: 9, knownHosts: ['[127.0.0.1]:9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyCVZrGkpsBRtjZrFSnt1vwIpYXOTvGr1BjYc5CMWtM'] },
  ];

  beforeAll(async () => {
    jv = new Jobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_RESTART_GRACE_MS: '500' } });
    mkdirSync(jv.dataDir, { recursive: true });
    write01Database(path.join(jv.dataDir, 'jobs.sqlite'));
    // 0.1's run folders (one per job): the retention sweep at start finds them, so no run is missing.
    for (const id of ['aaaa000000000001', 'aaaa000000000002']) mkdirSync(path.join(jv.dataDir, 'runs', 'admin', id), { recursive: true });
    await jv.start();
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('migrates every job, earlier run and agent to targets and sizes: cluster runs become runs of the configured Slurm target', async () => {
    const jobs = Object.fromEntries(((await admin.get('/api/jobs')).body.jobs as any[]).map((j) => [j.jobKey, j]));
    expect(jobs.pi).toMatchObject({ target: 'local', driver: 'local', size: 'sequential', status: 'completed', serial: 2 });
    expect(jobs.boxed).toMatchObject({ target: 'local', driver: 'local', size: 'parallel', status: 'error' });
    expect(jobs['on-hpc']).toMatchObject({ target: 'hpc', driver: 'slurm', size: 'parallel', status: 'running', externalId: '12345', options: { partition: 'debug', minutes: 5 } });
    expect((await admin.job('aaaa000000000001')).history).toMatchObject([
      { serial: 1, status: 'completed', template: 'quick', target: 'local', size: 'parallel', parameters: {}, reason: null, queuedAt: T0 - 5000, startedAt: T0 - 4000, endedAt: T0 - 3000, phaseTimes: {}, cause: null },
    ]);
    const onHpc = await admin.waitJob('aaaa000000000003', (j) => /^login required/.test(j.waitingFor ?? ''), 20_000, 'the cluster run to wait for a login');
    expect(onHpc.waitingFor).toMatch(/^login required: log in to HPC again to follow Slurm job 12345/);
    expect(onHpc.status).toBe('running');
    // 0.1's agents speak an older protocol: none is kept (one that connects is refused and ends itself).
    expect((await admin.get('/api/agents')).body.agents).toEqual([]);
    const db = new Database(path.join(jv.dataDir, 'jobs.sqlite'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(2);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r: any) => r.name)).toEqual(['agents', 'deliveries', 'delivery_attempts', 'enrollments', 'events', 'job_counts', 'job_runs', 'jobs', 'pipeline_stages', 'pipelines', 'run_places', 'run_requires', 'schedule_firings', 'schedules', 'sqlite_sequence', 'uploads', 'workers']);
    } finally {
      db.close();
    }
  });

  it('reads 0.1 run requests: a run mode as a size, a cluster run mode as the cluster target, its options under their old key', async () => {
    const asSize = await admin.run({ template: 'sleep', runMode: 'parallel', jobKey: 'old-request', parameters: { seconds: 0, lines: 1 } });
    expect(asSize).toMatchObject({ target: 'local', size: 'parallel' });
    const onCluster = await admin.post('/api/jobs', { template: 'sleep', runMode: 'sbatch', slurm: { minutes: 1 } });
    expect([onCluster.status, onCluster.body.error.code, onCluster.body.error.message]).toEqual([428, 'LOGIN_REQUIRED', 'log in to HPC first (POST /api/targets/hpc/login)']);
    const badOption = await admin.post('/api/jobs', { template: 'sleep', runMode: 'sbatch', slurm: { partition: 'a b' } });
    expect([badOption.status, badOption.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    const status = await admin.get('/api/cluster/status');
    expect(status.body).toMatchObject({ target: 'hpc', driver: 'slurm', loggedIn: false });
  });
});
