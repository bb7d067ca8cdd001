import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { processesUnder, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { pidAlive, waitFor } from './helpers/wait.js';

describe('a job through server, supervisor, local driver and agent', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '1', JOBVISOR_MAX_TIME_SEQUENTIAL: '3' } });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('runs a simulation to completed with progress, log, result files and analysis frames', async () => {
    const queued = await admin.run({ template: 'heat1d', parameters: { nx: 101, frames: 10, endTime: 2, paceSeconds: 2 }, size: 'parallel' });
    expect(queued.status).toBe('pending');
    expect(queued.serial).toBe(1);
    expect(queued.nextRequestMs).toBeGreaterThan(0);

    const running = await admin.waitJob(queued.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 30_000, 'running with progress');
    expect(running.startedAt).not.toBeNull();
    const frame = await admin.post(`/api/jobs/${queued.jobId}/analysis`, { frame: 'temperature', index: 0 });
    expect(frame.status).toBe(200);
    expect(frame.body.data.x.length).toBe(101);

    const done = await admin.waitJob(queued.jobId, (j) => j.status === 'completed', 60_000, 'completed');
    expect(done.progress).toBe(1);
    expect(done.nextRequestMs).toBeNull();
    expect(done.logLines).toBeGreaterThan(10);

    const files = await admin.get(`/api/jobs/${queued.jobId}/files`);
    const byPath = Object.fromEntries(files.body.files.map((f: { path: string }) => [f.path, f]));
    expect(byPath['summary.json']).toMatchObject({ result: true });
    expect(byPath['temperature.csv']).toMatchObject({ result: true });
    expect(byPath['parameters.json']).toMatchObject({ result: false });

    const summary = await admin.get(`/api/jobs/${queued.jobId}/files/summary.json`);
    expect(summary.status).toBe(200);
    expect(summary.headers.get('content-disposition')).toContain('summary.json');
    expect(summary.body).toMatchObject({ template: 'heat1d' });

    const log = await admin.get(`/api/jobs/${queued.jobId}/log?offset=0`);
    expect(log.body.text).toContain('PROGRESS');
    const tail = await admin.get(`/api/jobs/${queued.jobId}/log?offset=${log.body.nextOffset}`);
    expect(tail.body).toMatchObject({ text: '', nextOffset: log.body.nextOffset });

    const energy = await admin.post(`/api/jobs/${queued.jobId}/analysis`, { frame: 'energy' });
    expect(energy.body.data.energy).toHaveLength(10);
  });

  it('answers UNKNOWN_FRAME for frame names every JavaScript object has (constructor, __proto__, toString, hasOwnProperty)', async () => {
    const job = await admin.run({ template: 'quick', jobKey: 'frames', parameters: { samples: 1000, batches: 1 } });
    for (const frame of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const r = await admin.post(`/api/jobs/${job.jobId}/analysis`, { frame });
      expect([frame, r.status, r.body.error?.code]).toEqual([frame, 400, 'UNKNOWN_FRAME']);
      expect(r.body.error.message).toBe(`template quick has no frame "${frame}"`);
    }
    await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'completed');
    const heat = await admin.run({ template: 'heat1d', jobKey: 'frames-heat', parameters: { nx: 101, frames: 2, endTime: 0.2, paceSeconds: 0 } });
    const r = await admin.post(`/api/jobs/${heat.jobId}/analysis`, { frame: 'constructor' });
    expect([r.status, r.body.error?.code]).toEqual([400, 'UNKNOWN_FRAME']);
    expect(r.body.error.message).toMatch(/^template heat1d has no frame "constructor"; known: /);
    await admin.waitJob(heat.jobId, (j) => !['pending', 'running'].includes(j.status), 60_000, 'heat1d ended');
  });

  it('ends a failing run as error with the command\'s own message', async () => {
    const job = await admin.run({ template: 'fail', parameters: { failAfterSteps: 2, stepSeconds: 0 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 30_000, 'error');
    expect(ended.reason).toMatch(/solver diverged at step/);
    expect(ended.reason).toMatch(/exited with code 2/);
  });

  it('queues a second run behind the only CPU slot, then runs it', async () => {
    const first = await admin.run({ template: 'sleep', jobKey: 'slot-a', parameters: { seconds: 2, lines: 2 } });
    const second = await admin.run({ template: 'sleep', jobKey: 'slot-b', parameters: { seconds: 0, lines: 1 } });
    await admin.waitJob(first.jobId, (j) => j.status === 'running', 20_000, 'first running');
    const waiting = await admin.waitJob(second.jobId, (j) => j.waitingFor === 'waiting for a CPU slot', 10_000, 'second waiting');
    expect(waiting.status).toBe('pending');
    expect(waiting.queuePosition).toBe(1);
    const done = await admin.waitJob(second.jobId, (j) => j.status === 'completed', 30_000, 'second completed');
    const firstDone = await admin.job(first.jobId);
    expect(firstDone.status).toBe('completed');
    expect(done.startedAt!).toBeGreaterThanOrEqual(firstDone.endedAt!);
  });

  it('cancels a pending run without ever starting it, and a running one with its whole process group', async () => {
    const running = await admin.run({ template: 'sleep', jobKey: 'cancel-running', parameters: { seconds: 60, lines: 60 } });
    const pending = await admin.run({ template: 'sleep', jobKey: 'cancel-pending', parameters: { seconds: 1, lines: 1 } });
    const r = await admin.waitJob(running.jobId, (j) => j.status === 'running' && j.logLines > 0, 20_000, 'running');
    await admin.waitJob(pending.jobId, (j) => j.waitingFor === 'waiting for a CPU slot', 10_000, 'pending waits');

    const c1 = await admin.post(`/api/jobs/${pending.jobId}/cancel`, { serial: pending.serial });
    expect(c1.status).toBe(200);
    expect(c1.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user', startedAt: null });

    const c2 = await admin.post(`/api/jobs/${running.jobId}/cancel`, {});
    expect(c2.status).toBe(200);
    expect(c2.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user' });
    expect(r.startedAt).not.toBeNull();

    const again = await admin.post(`/api/jobs/${running.jobId}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('JOB_NOT_ACTIVE');
  });

  it('leaves no process of a canceled run behind', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'pgroup', parameters: { seconds: 60, lines: 60 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const cmdPids = () => processesOfRun(jv.dataDir, job.jobId);
    await waitFor(() => cmdPids().length > 0, { what: 'the cmd process' });
    const pids = cmdPids();
    await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
    await waitFor(() => pids.every((p) => !pidAlive(p)), { timeoutMs: 10_000, what: 'the process group to be gone' });
  });

  it('ends a run that passes the run mode\'s time limit as canceled, with the reason', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'too-long', parameters: { seconds: 30, lines: 30 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'canceled', 30_000, 'canceled by time limit');
    expect(ended.reason).toBe('time limit of 3 s exceeded');
  });

  it('runs a job again: the serial grows, the earlier run goes to history (its log still read with ?serial), a stale cancel is refused', async () => {
    const first = await admin.run({ template: 'quick', jobKey: 'again', parameters: { samples: 1000, batches: 1 } });
    await admin.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'first run completed');
    const second = await admin.run({ template: 'quick', jobKey: 'again', parameters: { samples: 2000, batches: 1 } });
    expect(second.jobId).toBe(first.jobId);
    expect(second.serial).toBe(first.serial + 1);
    const done = await admin.waitJob(first.jobId, (j) => j.status === 'completed' && j.serial === second.serial, 30_000, 'second run completed');
    expect(done.history).toHaveLength(1);
    expect(done.history[0]).toMatchObject({ serial: first.serial, status: 'completed', parameters: { samples: 1000 } });
    const stale = await admin.post(`/api/jobs/${first.jobId}/cancel`, { serial: first.serial });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('STALE_SERIAL');
    const earlierLog = await admin.get(`/api/jobs/${first.jobId}/log?serial=${first.serial}`);
    expect([earlierLog.status, earlierLog.body.serial]).toEqual([200, first.serial]);
  });
});

/** Processes whose working folder is the job's run directory: the cmd and its children. */
function processesOfRun(dataDir: string, jobId: string): number[] {
  return processesUnder(path.join(dataDir, 'runs', 'admin', jobId));
}
