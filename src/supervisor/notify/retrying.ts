/** Sends a message, trying again with back-off when it fails: logged each time, never thrown. */
import type { Logger } from '../../shared/logger.js';
import { delay, sleep, type RetryPolicy } from '../../shared/retry.js';

export const SEND_ATTEMPTS = 6;
export const SEND_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 60_000, jitter: 0.2 };

export interface RetryingOptions {
  log: Logger;
  /** Log fields naming what is sent. */
  what: Record<string, unknown>;
  signal: AbortSignal;
  attempts?: number;
  policy?: RetryPolicy;
}

/** Resolves true once `send` succeeded, false when every attempt failed or `signal` aborted. */
export async function sendRetrying(send: () => Promise<void>, o: RetryingOptions): Promise<boolean> {
  const attempts = o.attempts ?? SEND_ATTEMPTS;
  for (let attempt = 0; attempt < attempts && !o.signal.aborted; attempt++) {
    try {
      await send();
      o.log.info(o.what, 'notification sent');
      return true;
    } catch (err) {
      const last = attempt + 1 >= attempts;
      o.log.warn({ ...o.what, attempt: attempt + 1, err: (err as Error).message }, last ? 'notification could not be sent; given up' : 'notification could not be sent; trying again');
      if (!last) await sleep(delay(attempt, o.policy ?? SEND_RETRY), o.signal);
    }
  }
  return false;
}
