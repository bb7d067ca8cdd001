/**
 * Fault suite: the supervisor is SIGKILLed, twice, while runs are running and pending on every
 * kind of target at once (this machine, Docker, Slurm, Grid Engine; one CPU slot each, so the
 * others wait in jobvisor's queue), and started again each time. None is lost (all complete),
 * none runs twice (each run's command records its executions in a ledger outside its run
 * directory), the pending ones start in the order they were asked for, no two runs of a target
 * overlap (its slot is not given twice), and every log line arrives once.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { startTestCluster, type ClusterInfo, type ClusterKind } from './helpers/cluster.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { resumingEventReader } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-faults-kill';
const RUNS_PER_TARGET = 4;
const LINES = 12;
const SECONDS = 4;
const one = { sequential: { slots: 1 }, parallel: { slots: 1 } };

describe('the supervisor SIGKILLed twice with runs running and pending on local, docker, Slurm and Grid Engine', () => {
  const kinds: ClusterKind[] = ['slurm', 'sge'];
  const clusters = {} as Record<ClusterKind, ClusterInfo>;
  let jv: Jobvisor;
  let admin: Client;
  let localDir: string;
  /** Per target: the ledger folder its runs write to (as they see it) and how the test reads it. */
  const ledgers: Record<string, { dir: string; file: string }> = {};

  beforeAll(async () => {
    for (const kind of kinds) clusters[kind] = startTestCluster(kind);
    localDir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-faults-kill-'));
    for (const t of ['local', 'docker']) {
      const dir = path.join(localDir, t);
      mkdirSync(dir);
      chmodSync(dir, 0o777); // the docker agent runs as uid 1000
      ledgers[`kill-${t}`] = { dir, file: path.join(dir, 'ledger') };
    }
    const user = clusters.slurm.user;
    for (const kind of kinds) {
      const dir = `/home/${user}/${REMOTE_DIR}/ledger-${kind}`;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      execFileSync('chown', ['-R', `${user}:${user}`, `/home/${user}/${REMOTE_DIR}`]);
      ledgers[`kill-${kind}`] = { dir, file: path.join(dir, 'ledger') };
    }
    const targets = [
      { name: 'kill-local', driver: 'local', sizes: one },
      {
        name: 'kill-docker',
        driver: 'docker',
        stopTimeoutSeconds: 2,
        engines: [{ name: 'local', socketPath: '/var/run/docker.sock', slots: { sequential: 1, parallel: 1 } }],
        mounts: [{ host: ledgers['kill-docker']!.dir, container: ledgers['kill-docker']!.dir, readOnly: false }],
        allowedHostRoots: [localDir],
      },
      // An agent on a cluster may take a while to reconnect to a supervisor that was down (its retries back off).
      ...kinds.map((kind) => clusterTarget(kind, `kill-${kind}`, clusters[kind], { remoteDir: REMOTE_DIR, lostAfterMs: 60_000, sizes: { sequential: { slots: 1, maxTimeSeconds: 60 }, parallel: { slots: 1, maxTimeSeconds: 60 } } })),
    ];
    jv = await startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates'), env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    admin = await jv.login();
    for (const kind of kinds) {
      const r = await logInTo(admin, `kill-${kind}`, clusters[kind]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  }, 600_000);

  afterAll(async () => {
    // JOBVISOR_FAULT_DEBUG=<file>: keep the supervisor's and server's last log lines, and the cluster agents' logs beside it.
    const debug = process.env.JOBVISOR_FAULT_DEBUG;
    if (debug && jv) writeFileSync(debug, jv.logs());
    if (debug && clusters.slurm) execFileSync('bash', ['-c', `cp /home/${clusters.slurm.user}/${REMOTE_DIR}/agent-*.log ${path.dirname(debug)}/ 2>/dev/null; true`]);
    const jobs = admin ? ((await admin.get('/api/jobs').catch(() => ({ body: { jobs: [] } }))).body.jobs as JobView[]) : [];
    await Promise.all(jobs.filter((j) => j.status === 'pending' || j.status === 'running').map((j) => admin.post(`/api/jobs/${j.jobId}/cancel`, {})));
    await jv?.stop();
    for (const kind of kinds) if (clusters[kind]) killAgentOnLoginNode(clusters[kind], `kill-${kind}`, 'TERM', REMOTE_DIR);
    if (clusters.slurm) rmSync(`/home/${clusters.slurm.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    if (localDir) rmSync(localDir, { recursive: true, force: true });
  });

  it('loses none, runs none twice, keeps the pending ones in order and every log line once', async () => {
    const events = resumingEventReader(() => jv.serverUrl, admin.token as string);
    const targetNames = Object.keys(ledgers);
    // The last run of each target is a job's second run: its job is older than the others (the
    // order of the database's rows is not the order the runs were queued in).
    const earlier = await Promise.all(targetNames.map((target) => admin.run({ template: 'sleep', target, jobKey: `${target}-${RUNS_PER_TARGET}`, parameters: { seconds: 0, lines: 1 } })));
    await Promise.all(earlier.map((j) => admin.waitJob(j.jobId, (v) => v.status === 'completed', 90_000, `${j.jobKey}'s first run`)));
    const runs: { target: string; name: string; job: JobView }[] = [];
    // Asked for in turns over the targets, so every target has its first run going while the rest wait.
    for (let i = 1; i <= RUNS_PER_TARGET; i++) {
      for (const target of targetNames) {
        const name = `${target}-${i}`;
        const job = await admin.run({ template: 'once', target, jobKey: name, parameters: { ledger: ledgers[target]!.dir, name, seconds: SECONDS, lines: LINES } });
        runs.push({ target, name, job });
      }
    }
    const all = async () => Promise.all(runs.map(async (r) => ({ ...r, now: await admin.job(r.job.jobId) })));
    const states = async () => {
      const now = await all();
      return targetNames.map((t) => now.filter((r) => r.target === t).map((r) => r.now.status));
    };

    // First kill: every target has a run running and runs pending.
    await waitFor(async () => (await states()).every((s) => s.includes('running') && s.includes('pending')), { timeoutMs: 90_000, what: 'a run running and runs pending on every target' });
    console.log('faults-supervisor-kill: first kill with', JSON.stringify(await states()));
    await jv.stopSupervisor('SIGKILL');
    await jv.startSupervisor();

    // Second kill, at another moment: once a further run has started somewhere after the restart.
    const startedBefore = (await all()).filter((r) => r.now.startedAt !== null).length;
    await waitFor(async () => (await all()).filter((r) => r.now.startedAt !== null).length > startedBefore, { timeoutMs: 90_000, what: 'a further run to start after the first restart' });
    console.log('faults-supervisor-kill: second kill with', JSON.stringify(await states()));
    await jv.stopSupervisor('SIGKILL');
    await jv.startSupervisor();

    let last: string[][] = [];
    await waitFor(async () => (last = await states()).every((s) => s.every((status) => status !== 'pending' && status !== 'running')), {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: () => `every run to end: ${JSON.stringify(last)}`,
    });
    const done = await all();

    for (const r of done) {
      expect([r.name, r.now.status, r.now.reason]).toEqual([r.name, 'completed', null]);
      expect(r.now.logLines, `${r.name}: log lines`).toBe(LINES);
      const read = await admin.get(`/api/jobs/${r.job.jobId}/log`);
      expect(read.status, `${r.name}: run log read: ${JSON.stringify(read.body)}`).toBe(200);
      const log = read.body.text as string;
      expect(log, `${r.name}: run log`).toBe(Array.from({ length: LINES }, (_, k) => `${r.name} line ${k + 1}\n`).join(''));
      // The server resumes its supervisor stream after each restart: every line once, in order, no resync.
      const seen = events.lines(r.job.jobId, r.now.serial);
      expect(seen, `${r.name}: log events`).toEqual(Array.from({ length: LINES }, (_, k) => `${r.name} line ${k + 1}`));
    }
    expect(events.resyncs(), 'resync events').toBe(0);
    for (const target of targetNames) {
      const ledger = readFileSync(ledgers[target]!.file, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '));
      const mine = done.filter((r) => r.target === target);
      // Each ran exactly once, one after the other (one slot), in the order asked for.
      expect(ledger, `${target}: ledger`).toEqual(mine.flatMap((r) => [`start ${r.name}`, `end ${r.name}`]));
      const byStart = [...mine].sort((a, b) => a.now.startedAt! - b.now.startedAt!).map((r) => r.name);
      expect(byStart, `${target}: start order`).toEqual(mine.map((r) => r.name));
    }
    events.stop();
  }, 420_000);

  it('a cluster job whose agent died while the supervisor was down waits for the next login, which takes it back', async () => {
    const events = resumingEventReader(() => jv.serverUrl, admin.token as string);
    const runs = await Promise.all(kinds.map((kind) => admin.run({ template: 'sleep', target: `kill-${kind}`, jobKey: `orphan-${kind}`, parameters: { seconds: 8, lines: 16 } })));
    await Promise.all(runs.map((j) => admin.waitJob(j.jobId, (v) => v.status === 'running' && v.logLines >= 2, 90_000, `${j.jobKey} running`)));
    await jv.stopSupervisor('SIGKILL');
    for (const kind of kinds) killAgentOnLoginNode(clusters[kind], `kill-${kind}`, 'KILL', REMOTE_DIR);
    await jv.startSupervisor();
    const waiting = await Promise.all(runs.map((j) => admin.waitJob(j.jobId, (v) => v.loginRequired, 60_000, `${j.jobKey} to ask for a login`)));
    for (const w of waiting) expect(['running', 'pending']).toContain(w.status);
    for (const kind of kinds) {
      const r = await logInTo(admin, `kill-${kind}`, clusters[kind]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const done = await Promise.all(runs.map((j) => admin.waitJob(j.jobId, (v) => v.status !== 'pending' && v.status !== 'running', 90_000, `${j.jobKey} to end`)));
    for (const d of done) {
      expect([d.jobKey, d.status, d.reason, d.logLines]).toEqual([d.jobKey, 'completed', null, 32]);
      const seen = events.lines(d.jobId, d.serial).filter((l) => l.startsWith('line '));
      expect(seen, `${d.jobKey}: log events`).toEqual(Array.from({ length: 16 }, (_, k) => `line ${k + 1}`));
    }
    expect(events.resyncs()).toBe(0);
    events.stop();
  }, 300_000);
});
