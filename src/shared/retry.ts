/** Retry by data: a pure delay per attempt with jitter, and an abortable sleep. */

export interface RetryPolicy {
  /** Delay before the first retry, in ms. */
  baseMs: number;
  /** The delay never grows past this, in ms. */
  maxMs: number;
  /** 0..1: how much of the delay is random, so that many clients do not retry in step. */
  jitter: number;
}

export const RECONNECT_POLICY: RetryPolicy = { baseMs: 200, maxMs: 10_000, jitter: 0.3 };

/** Delay before retry number `attempt` (0-based): exponential, capped, with jitter. `random` is injectable for tests. */
export function delay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt));
  const spread = exp * policy.jitter;
  return Math.round(exp - spread + random() * 2 * spread);
}

/** Sleeps `ms`, or less if `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
