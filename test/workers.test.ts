/**
 * Enrolled workers and placement by labels: workers started by the test as separate processes
 * (`node dist/jobvisor-agent.mjs --enroll ...`) with enrollment tokens an admin made; runs go
 * to a worker whose labels and free slots fit (the fixture says which worker ran it), wait with
 * the reason while none does, and run once one joins; a worker killed with runs started and
 * queued; a revoked token; refusals of a bad token and of labels the token does not allow; the
 * admin view and its stale flag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { processesUnder, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const BUNDLE = path.join(ROOT, 'dist', 'jobvisor-agent.mjs');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'worker-templates');
const GRACE_MS = 6000;

interface Worker {
  name: string;
  child: ChildProcess;
  workDir: string;
  output: string[];
  exited: Promise<number | null>;
}

describe('enrolled workers', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let root: string;
  let tokenFile: string;
  const workers: Worker[] = [];

  const startWorker = (name: string, labels: string, slots: number, file = tokenFile): Worker => {
    const workDir = path.join(root, name);
    const child = spawn(process.execPath, [BUNDLE, '--enroll', jv.supervisorUrl, '--token-file', file, '--labels', labels, '--slots', String(slots), '--name', name, '--work-dir', workDir, '--templates', jv.templatesDir, '--status-ms', '500'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, JOBVISOR_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const w = { name, child, workDir, output, exited };
    workers.push(w);
    return w;
  };
  const listWorkers = async () => (await admin.get('/api/admin/workers')).body.workers as { id: string; name: string; labels: Record<string, string>; connected: boolean; stale: boolean; slots: { used: number; total: number }; runs: string[]; lastHeartbeat: number }[];
  const connected = (name: string) => waitFor(async () => (await listWorkers()).some((w) => w.name === name && w.connected), { timeoutMs: 30_000, what: `worker ${name} connected` });
  const logOf = async (c: Client, jobId: string) => (await c.get(`/api/jobs/${jobId}/log`)).body.text as string;
  const enroll = async (body: Record<string, unknown>) => {
    const r = await admin.post('/api/admin/enrollments', body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const file = path.join(root, `${body.name as string}.token`);
    writeFileSync(file, `${r.body.token as string}\n`, { mode: 0o600 });
    return { id: r.body.enrollment.id as string, file };
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-workers-'));
    const targets = [{ name: 'local', driver: 'local' }, { name: 'lab', driver: 'workers', title: 'Lab machines', lostGraceMs: GRACE_MS }];
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_HEARTBEAT_MS: '500' } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    tokenFile = (await enroll({ name: 'lab-main', labels: { os: 'linux', gpu: '*', code: '*' } })).file;
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const pid of processesUnder(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await jv?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps the token only hashed, shows it once, and refuses a bad token and labels the token does not allow', async () => {
    const list = await admin.get('/api/admin/enrollments');
    expect(list.status).toBe(200);
    expect(list.body.enrollments.map((e: { name: string }) => e.name)).toContain('lab-main');
    expect(JSON.stringify(list.body)).not.toContain(readFileSync(tokenFile, 'utf8').trim());
    expect((await alice.get('/api/admin/workers')).status).toBe(403);
    expect((await admin.post('/api/admin/enrollments', { name: 'x', target: 'local' })).body.error.code).toBe('INVALID_INPUT');

    const usage = startWorker('bad-slots', 'os=linux', 0);
    expect(await usage.exited).toBe(2);
    expect(usage.output.join('')).toMatch(/--slots must be a whole number[\s\S]*usage: jobvisor agent --enroll/);

    const badFile = path.join(root, 'bad.token');
    writeFileSync(badFile, 'not-a-token\n');
    const bad = startWorker('bad-token', 'os=linux', 1, badFile);
    expect(await bad.exited).toBe(1);
    expect(bad.output.join('')).toContain('ENROLLMENT_REFUSED');

    const outside = startWorker('windows-box', 'os=windows', 1);
    expect(await outside.exited).toBe(1);
    expect(outside.output.join('')).toMatch(/WORKER_CLAIM_REFUSED: labels os=windows are not allowed/);
    expect((await listWorkers()).map((w) => w.name)).not.toContain('windows-box');
  }, 60_000);

  it('places runs on the worker whose labels fit; a run no worker fits waits with the reason, then runs once a fitting worker joins', async () => {
    startWorker('gpu-box', 'os=linux,gpu=a100,code=lammps@2023', 1);
    startWorker('cpu-box', 'os=linux', 2);
    await connected('gpu-box');
    await connected('cpu-box');

    const onGpu = await alice.run({ template: 'whoami', jobKey: 'gpu', requires: { gpu: 'a100' } });
    const lammps = await alice.run({ template: 'whoami', jobKey: 'lammps', requires: { code: 'lammps>=2022' } });
    const any = await alice.run({ template: 'whoami', jobKey: 'any' });
    for (const [job, worker] of [[onGpu, 'gpu-box'], [lammps, 'gpu-box'], [any, 'cpu-box']] as [JobView, string][]) {
      await alice.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, `${job.jobKey} completed`);
      expect(await logOf(alice, job.jobId)).toContain(`worker ${worker}`);
      expect(readFileSync(path.join(root, worker, 'runs', 'alice', job.jobId, '1', 'worker.txt'), 'utf8')).toBe(worker);
    }

    const byTemplate = await alice.run({ template: 'gpu-whoami' });
    await alice.waitJob(byTemplate.jobId, (j) => j.status === 'completed', 60_000, 'template requires a gpu');
    expect(await logOf(alice, byTemplate.jobId)).toContain('worker gpu-box');
    expect((await alice.get('/api/templates')).body.templates.find((t: { name: string }) => t.name === 'gpu-whoami').requires).toEqual({ gpu: 'a100', code: 'lammps>=2022' });

    const tooOld = await alice.run({ template: 'whoami', jobKey: 'old', requires: { code: 'lammps>=2024' } });
    await alice.waitJob(tooOld.jobId, (j) => j.waitingFor === 'no connected worker has code lammps>=2024', 20_000, 'waiting for a newer lammps');
    const h100 = await alice.run({ template: 'whoami', jobKey: 'h100', requires: { gpu: 'h100' } });
    await alice.waitJob(h100.jobId, (j) => j.waitingFor === 'no connected worker has gpu=h100', 20_000, 'waiting for an h100');
    expect((await alice.job(h100.jobId)).status).toBe('pending');
    startWorker('h100-box', 'os=linux,gpu=h100', 1);
    await alice.waitJob(h100.jobId, (j) => j.status === 'completed', 60_000, 'h100 run completed once a worker joined');
    expect(await logOf(alice, h100.jobId)).toContain('worker h100-box');
    await alice.post(`/api/jobs/${tooOld.jobId}/cancel`, {});

    const bad = await alice.post('/api/jobs', { template: 'whoami', requires: { gpu: 'a100>' } });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    const local = await alice.post('/api/jobs', { template: 'sleep', target: 'local', requires: { gpu: 'a100' }, parameters: { seconds: 0 } });
    expect([local.status, local.body.error.code]).toEqual([400, 'REQUIREMENTS_UNMET']);
  }, 180_000);

  it('shows admins each worker with its labels, slots, runs and heartbeat, and flags one whose heartbeats stopped', async () => {
    const all = await listWorkers();
    const gpu = all.find((w) => w.name === 'gpu-box');
    expect(gpu).toMatchObject({ labels: { os: 'linux', gpu: 'a100', code: 'lammps@2023' }, slots: { used: 0, total: 1 }, connected: true, stale: false });
    const h100 = workers.find((w) => w.name === 'h100-box') as Worker;
    h100.child.kill('SIGSTOP');
    try {
      await waitFor(async () => (await listWorkers()).some((w) => w.name === 'h100-box' && w.stale && !w.connected), { timeoutMs: 20_000, what: 'h100-box stale' });
    } finally {
      h100.child.kill('SIGCONT');
    }
    await waitFor(async () => (await listWorkers()).some((w) => w.name === 'h100-box' && !w.stale && w.connected), { timeoutMs: 20_000, what: 'h100-box back' });
  }, 60_000);

  it('a worker killed: its started run ends as error after the grace, queued runs go to another worker that fits or wait', async () => {
    const gpu = workers.find((w) => w.name === 'gpu-box') as Worker;
    const started = await alice.run({ template: 'whoami', jobKey: 'long', requires: { gpu: 'a100' }, parameters: { seconds: 120 } });
    await alice.waitJob(started.jobId, (j) => j.status === 'running', 30_000, 'long run started');
    const queuedGpu = await alice.run({ template: 'whoami', jobKey: 'queued-gpu', requires: { gpu: 'a100' } });
    await alice.waitJob(queuedGpu.jobId, (j) => j.waitingFor === 'waiting for 1 free slot on a worker (1 fits, all busy)', 20_000, 'queued behind the long run');
    const before = (await listWorkers()).find((w) => w.name === 'gpu-box');
    expect(before?.runs).toContain(started.jobId);

    gpu.child.kill('SIGKILL');
    await gpu.exited;
    await alice.waitJob(queuedGpu.jobId, (j) => j.waitingFor === 'no connected worker has gpu=a100', 20_000, 'queued run waits for a gpu');
    const linux = await alice.run({ template: 'whoami', jobKey: 'linux', requires: { os: 'linux' } });
    await alice.waitJob(linux.jobId, (j) => j.status === 'completed', 30_000, 'a run another worker fits');
    expect(await logOf(alice, linux.jobId)).not.toContain('worker gpu-box');
    expect((await alice.job(started.jobId)).status).toBe('running');
    const ended = await alice.waitJob(started.jobId, (j) => j.status === 'error', GRACE_MS + 30_000, 'started run ends after the grace');
    expect(ended.reason).toMatch(/stayed down for 6 s/);
    expect(ended.cause).toBe('system');

    const again = startWorker('gpu-box', 'os=linux,gpu=a100,code=lammps@2023', 1);
    await alice.waitJob(queuedGpu.jobId, (j) => j.status === 'completed', 60_000, 'queued run placed once the worker is back');
    expect(readFileSync(path.join(again.workDir, 'runs', 'alice', queuedGpu.jobId, '1', 'worker.txt'), 'utf8')).toBe('gpu-box');
    const ids = (await listWorkers()).filter((w) => w.name === 'gpu-box').map((w) => w.id);
    expect(ids).toHaveLength(1);
  }, 180_000);

  it('a run started on a worker goes on across a supervisor restart and completes', async () => {
    const run = await alice.run({ template: 'whoami', jobKey: 'across-restart', requires: { gpu: 'a100' }, parameters: { seconds: 4 } });
    await alice.waitJob(run.jobId, (j) => j.status === 'running', 30_000, 'run started');
    await jv.stopSupervisor();
    await jv.startSupervisor();
    const done = await alice.waitJob(run.jobId, (j) => j.status === 'completed', 60_000, 'run completed after the restart');
    expect(done.serial).toBe(1);
    expect(await logOf(alice, run.jobId)).toContain('worker gpu-box');
    await connected('gpu-box');
    // Idle workers are not told to stop when the supervisor stops: they come back by themselves.
    await connected('cpu-box');
    expect(workers.find((w) => w.name === 'cpu-box')?.child.exitCode).toBeNull();
  }, 120_000);

  it('revoking a token disconnects its workers at once; they are refused when they come back', async () => {
    const e = await enroll({ name: 'lab-revoked', labels: { site: 'annex' } });
    const annex = startWorker('annex-box', 'site=annex', 1, e.file);
    await connected('annex-box');
    const listed = (await admin.get('/api/admin/enrollments')).body.enrollments.find((x: { id: string }) => x.id === e.id);
    expect(listed.connectedWorkers).toBe(1);
    const r = await admin.request('DELETE', `/api/admin/enrollments/${e.id}`);
    expect([r.status, r.body.disconnected, typeof r.body.enrollment.revokedAt]).toEqual([200, 1, 'number']);
    await annex.exited;
    expect((await listWorkers()).find((w) => w.name === 'annex-box')?.connected).toBe(false);
    const again = startWorker('annex-box-2', 'site=annex', 1, e.file);
    expect(await again.exited).toBe(1);
    expect(again.output.join('')).toContain('was revoked');
    const waits = await alice.run({ template: 'whoami', jobKey: 'annex', requires: { site: 'annex' } });
    await alice.waitJob(waits.jobId, (j) => j.waitingFor === 'no connected worker has site=annex', 20_000, 'no annex worker');
    await alice.post(`/api/jobs/${waits.jobId}/cancel`, {});
    expect((await admin.request('DELETE', '/api/admin/enrollments/000000000000')).body.error.code).toBe('ENROLLMENT_NOT_FOUND');
  }, 60_000);
});
