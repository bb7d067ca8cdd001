/**
 * Submitting one batch run, for the batch engine: a submission the scheduler could not take
 * because it could not be contacted (a maintenance, a daemon restart) is tried again, with a
 * growing delay, for as long as that lasts or until the run is canceled; a refusal (an unknown
 * partition or queue, over a limit) ends the start with the scheduler's own words at once.
 *
 * No job is submitted twice: only an error that says the scheduler could not be contacted (so
 * it did not take the job) is retried blind. After a submission whose outcome is unknown (the
 * command timed out, or the request went out and no answer came), the next attempt first asks
 * the scheduler for a job in its queue with this run's working directory, and follows that job
 * if there is one; only if there is none, and the run directory has no run log (a job of this
 * run that ran would have written it), is the script submitted again. A run log without a job
 * in the queue (the job ran and ended in between) ends the start as an error saying so.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { RUN_LOG } from '../../cmds/runDir.js';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { delay, sleep, type RetryPolicy } from '../../shared/retry.js';
import { SchedulerCommandError, type Scheduler, type SubmitFailure } from '../../shared/scheduler.js';

/** Every 5 s at first, then up to every 30 s (each ±20 %). */
export const SUBMIT_RETRY: RetryPolicy = { baseMs: 5000, maxMs: 30_000, jitter: 0.2 };

export interface SubmitDeps {
  scheduler: Scheduler;
  log: Logger;
  /** Hears each attempt that failed for want of the scheduler: its error, and when the next one is. */
  waiting(why: string, nextInMs: number): void;
  policy?: RetryPolicy;
}

/** A scheduler command's error as users read it: its own words, else what went wrong. */
export function submitErrorText(err: unknown): string {
  return err instanceof SchedulerCommandError ? err.stderr || err.message : (err as Error).message;
}

const exists = (file: string) => access(file).then(
  () => true,
  () => false,
);

/**
 * Submits `script` from `runDir` until the scheduler takes it (resolves with the job id) or
 * `signal` aborts (resolves with null; a command under way is let finish, and a job it got
 * submitted is still returned). Rejects with RUN_START_FAILED when the scheduler refuses it.
 */
export async function submitUntilTaken(script: string, runDir: string, deps: SubmitDeps, signal: AbortSignal): Promise<string | null> {
  const { scheduler } = deps;
  /** An earlier attempt's outcome is unknown: look for its job before submitting again. */
  let unsure = false;
  for (let attempt = 0; !signal.aborted; attempt++) {
    let failure: SubmitFailure;
    let why: string;
    try {
      if (unsure) {
        const found = await adopt(scheduler, runDir);
        if (found) return found;
        unsure = false;
      }
      return await scheduler.submit(script, runDir);
    } catch (err) {
      if (err instanceof JobvisorError) throw err;
      why = submitErrorText(err);
      // A look for the earlier job that failed: the scheduler still cannot be asked.
      failure = unsure ? 'unreachable' : (scheduler.submitFailure?.(err) ?? 'refused');
    }
    if (failure === 'refused') throw new JobvisorError('RUN_START_FAILED', why);
    if (failure === 'unknown') {
      if (!scheduler.findSubmitted) throw new JobvisorError('RUN_START_FAILED', `${why} (whether ${scheduler.title} took the job is unknown; it is not submitted again)`);
      unsure = true;
    }
    const next = delay(attempt, deps.policy ?? SUBMIT_RETRY);
    deps.log.warn({ runDir, attempt, failure, why, nextInMs: next }, 'submission not taken: the scheduler could not be contacted; trying again');
    deps.waiting(why, next);
    await sleep(next, signal);
  }
  return null;
}

/** After an unknown outcome: the job of this run in the queue, if any; throws if one ran already; undefined to submit again. */
async function adopt(scheduler: Scheduler, runDir: string): Promise<string | undefined> {
  const found = await (scheduler.findSubmitted as NonNullable<Scheduler['findSubmitted']>)(runDir);
  if (found) return found;
  if (await exists(path.join(runDir, RUN_LOG))) {
    throw new JobvisorError(
      'RUN_START_FAILED',
      `a submission whose outcome was unknown (${scheduler.title} did not answer in time) got a job that has run and left the queue: its output is in the run directory, but jobvisor cannot follow it`,
    );
  }
  return undefined;
}
