/**
 * When the batch engine asks the scheduler again (its ONE queue query for all of the user's
 * runs). Soon after something happened (a submission, a run whose state changed, a run whose log
 * file appeared: the job started), then longer and longer while nothing changes, up to the
 * target's `pollIntervalMs`; never later than a run's expected end (its time limit). Pure
 * functions of the history, so a test can read the sequence of delays.
 *
 * With the default settings (200 ms, x1.5, 5 s) a queue where nothing changes is asked at
 * 0.2, 0.5, 0.95, 1.63, 2.64, 4.16, 6.44, 9.86, 14.86, then every 5 s: a handful more queries in a
 * run's first seconds than a fixed 5 s poll, the same after; and as many for 100 runs as for one.
 */

export interface PollPolicy {
  /** The delay after a change (and the shortest between two queries). */
  soonMs: number;
  /** The delay grows by this factor after each query that saw no change (1: a fixed interval). */
  backoff: number;
  /** The longest delay: the target's `pollIntervalMs`. */
  maxMs: number;
}

/** A policy from the target's settings; a `soonMs` above the interval is the interval (a fixed poll). */
export function pollPolicy(pollIntervalMs: number, soonMs = 200, backoff = 1.5): PollPolicy {
  return { soonMs: Math.min(soonMs, pollIntervalMs), backoff: Math.max(1, backoff), maxMs: pollIntervalMs };
}

/**
 * The delay before the next query, given the previous delay (null: none yet) and whether the
 * last query saw a change. `untilDueMs`: the time left until the earliest expected end of a run
 * (undefined: none known); the next query is then no later than that (nor sooner than soonMs).
 */
export function nextPollDelay(previous: number | null, changed: boolean, p: PollPolicy, untilDueMs?: number): number {
  const delay = previous === null || changed ? p.soonMs : Math.min(p.maxMs, Math.round(previous * p.backoff));
  if (untilDueMs === undefined || untilDueMs >= delay) return delay;
  return Math.max(p.soonMs, untilDueMs);
}

/** The delays for a history of queries (true: that query saw a change): what a test reads. */
export function pollDelays(history: boolean[], p: PollPolicy): number[] {
  const out: number[] = [];
  let previous: number | null = null;
  for (const changed of history) out.push((previous = nextPollDelay(previous, changed, p)));
  return out;
}
