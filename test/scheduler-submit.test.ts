/**
 * How a failed submission is read (each scheduler module, on the real texts of Slurm 22.05 and
 * Grid Engine 8.1.9), and what the batch engine does with it: try again while the scheduler
 * could not be contacted, look for the job before submitting again after an unknown outcome,
 * end at once on a refusal. Pure: the scheduler is a fake, no cluster.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { submitUntilTaken } from '../src/agent/engines/batchSubmit.js';
import { sgeScheduler } from '../src/drivers/sge/scheduler.js';
import { slurmScheduler } from '../src/drivers/slurm/scheduler.js';
import { createLogger } from '../src/shared/logger.js';
import { SchedulerCommandError, type Scheduler } from '../src/shared/scheduler.js';

const fail = (command: string, stderr: string, timedOut = false) => new SchedulerCommandError(command, stderr, timedOut ? null : 1, `${command} failed: ${stderr}`, timedOut);

describe('reading a failed submission', () => {
  it('reads Slurm: controller down is unreachable, a socket timeout unknown, an invalid partition a refusal', () => {
    const read = (stderr: string, timedOut = false) => slurmScheduler.submitFailure?.(fail('sbatch', stderr, timedOut));
    expect(read('sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)')).toBe('unreachable');
    expect(read('sbatch: error: Batch job submission failed: Socket timed out on send/recv operation')).toBe('unknown');
    expect(read('', true)).toBe('unknown');
    expect(read('sbatch: error: Batch job submission failed: Invalid partition name specified')).toBe('refused');
    expect(slurmScheduler.submitFailure?.(new Error('EACCES'))).toBe('refused');
  });

  it('reads Grid Engine: qmaster down is unreachable, a timeout unknown, an unknown queue a refusal', () => {
    const read = (stderr: string, timedOut = false) => sgeScheduler.submitFailure?.(fail('qsub', stderr, timedOut));
    expect(read('error: commlib error: got select error (Connection refused)\nUnable to run job: unable to send message to qmaster using port 6444 on host "vm": got send error\nExiting.')).toBe('unreachable');
    expect(read('Unable to run job: unable to send message to qmaster using port 6444 on host "vm": got send error', true)).toBe('unknown');
    expect(read('Unable to run job: Job was rejected because job requests unknown queue "nope.q".\nExiting.')).toBe('refused');
  });
});

describe('submitting until the scheduler takes the job', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const runDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-submit-'));
    dirs.push(d);
    return d;
  };
  const log = createLogger('test', 'silent');
  const policy = { baseMs: 1, maxMs: 5, jitter: 0 };

  /** A fake scheduler whose submits answer in turn from `answers` (an Error rejects). */
  function fake(answers: (string | Error)[], found: (string | undefined | Error)[] = []) {
    const calls = { submit: 0, find: 0 };
    const s = {
      ...slurmScheduler,
      submit: () => {
        const a = answers[calls.submit++];
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a as string);
      },
      findSubmitted: () => {
        const f = found[calls.find++];
        return f instanceof Error ? Promise.reject(f) : Promise.resolve(f);
      },
    } satisfies Scheduler;
    return { s, calls };
  }
  const down = fail('sbatch', 'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)');
  const timedOut = fail('sbatch', '', true);

  it('tries again while the scheduler cannot be contacted, saying so each time', async () => {
    const { s, calls } = fake([down, down, '42']);
    const said: string[] = [];
    const id = await submitUntilTaken('job.sbatch', runDir(), { scheduler: s, log, policy, waiting: (why) => said.push(why) }, new AbortController().signal);
    expect([id, calls.submit, said.length]).toEqual(['42', 3, 2]);
    expect(said[0]).toContain('Unable to contact slurm controller');
  });

  it('ends at once with the scheduler words on a refusal', async () => {
    const { s, calls } = fake([fail('sbatch', 'sbatch: error: Batch job submission failed: Invalid partition name specified')]);
    await expect(submitUntilTaken('job.sbatch', runDir(), { scheduler: s, log, policy, waiting: () => undefined }, new AbortController().signal)).rejects.toMatchObject({
      code: 'RUN_START_FAILED',
      message: 'sbatch: error: Batch job submission failed: Invalid partition name specified',
    });
    expect(calls.submit).toBe(1);
  });

  it('after a timed-out submit, follows the job the scheduler took instead of submitting again', async () => {
    const { s, calls } = fake([timedOut], [new Error('squeue failed: still down'), '43']);
    const id = await submitUntilTaken('job.sbatch', runDir(), { scheduler: s, log, policy, waiting: () => undefined }, new AbortController().signal);
    expect([id, calls.submit, calls.find]).toEqual(['43', 1, 2]);
  });

  it('after a timed-out submit that the scheduler did not take, submits again', async () => {
    const { s, calls } = fake([timedOut, '44'], [undefined]);
    const id = await submitUntilTaken('job.sbatch', runDir(), { scheduler: s, log, policy, waiting: () => undefined }, new AbortController().signal);
    expect([id, calls.submit, calls.find]).toEqual(['44', 2, 1]);
  });

  it('after a timed-out submit whose job has run and left the queue, does not submit again', async () => {
    const dir = runDir();
    writeFileSync(path.join(dir, 'run.log'), 'line 1\n');
    const { s, calls } = fake([timedOut, '45'], [undefined]);
    await expect(submitUntilTaken('job.sbatch', dir, { scheduler: s, log, policy, waiting: () => undefined }, new AbortController().signal)).rejects.toMatchObject({ code: 'RUN_START_FAILED' });
    expect(calls.submit).toBe(1);
  });

  it('stops when canceled', async () => {
    const { s, calls } = fake(Array.from({ length: 1000 }, () => down));
    const abort = new AbortController();
    const id = submitUntilTaken('job.sbatch', runDir(), { scheduler: s, log, policy, waiting: () => calls.submit >= 3 && abort.abort() }, abort.signal);
    expect(await id).toBeNull();
    expect(calls.submit).toBe(3);
  });
});
