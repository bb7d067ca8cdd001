/**
 * Completion callbacks: when a run ends, a signed JSON POST to the site's `callbacks.url` and
 * to the run's own `callbackUrl`, if any. Each is stored before it is first tried, and every
 * attempt is recorded; it is tried again with exponential back-off (1 s doubling, at most
 * 5 min apart) until the receiver answers 2xx or `callbacks.maxAttempts` attempts were made.
 * A restarted supervisor resumes the pending ones.
 */
import type { CallbacksConfig } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import { delay, type RetryPolicy } from '../../shared/retry.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { JobRow } from '../store.js';
import { postSigned } from './sign.js';

export const CALLBACK_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 5 * 60_000, jitter: 0 };
const ATTEMPT_TIMEOUT_MS = 10_000;
/** How often delivered and failed callbacks past `callbacks.keepDays` are removed. */
const PRUNE_INTERVAL_MS = 6 * 3600_000;

/** The JSON body of a completion callback. */
export function callbackBody(row: JobRow): string {
  return JSON.stringify({
    type: 'jobvisor.run.ended',
    jobId: row.id,
    jobKey: row.jobKey,
    user: row.user,
    serial: row.serial,
    status: row.status,
    reason: row.reason,
    cause: row.cause,
    times: { queuedAt: row.queuedAt, startedAt: row.startedAt, endedAt: row.endedAt },
    template: row.template,
    target: row.target,
  });
}

export interface CallbackDeps {
  store: DeliveryStore;
  config: CallbacksConfig | undefined;
  log: Logger;
  policy?: RetryPolicy;
  now?: () => number;
}

export class Callbacks {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly now: () => number;
  private closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: CallbackDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Stores the callbacks of a run that ended and tries each at once. */
  runEnded(row: JobRow): void {
    const config = this.deps.config;
    if (!config) return;
    const urls = [...new Set([config.url, row.callbackUrl].filter((u): u is string => typeof u === 'string'))];
    if (urls.length === 0) return;
    const body = callbackBody(row);
    const now = this.now();
    for (const url of urls) {
      const id = this.deps.store.add({ jobId: row.id, serial: row.serial, url, body, nextAt: now, createdAt: now });
      this.schedule(id, now);
    }
  }

  /** Resumes every pending callback (after a restart), each at its next time; forgets the ended ones older than `callbacks.keepDays`. */
  resume(): void {
    this.prune();
    this.pruneTimer ??= setInterval(() => this.prune(), PRUNE_INTERVAL_MS).unref();
    const pending = this.deps.store.pending();
    if (pending.length > 0) this.deps.log.info({ deliveries: pending.length }, 'resuming pending completion callbacks');
    for (const d of pending) this.schedule(d.id, d.nextAt ?? this.now());
  }

  private prune(): void {
    const keepDays = this.deps.config?.keepDays;
    if (keepDays === undefined) return;
    try {
      const pruned = this.deps.store.prune(this.now() - keepDays * 86_400_000);
      if (pruned > 0) this.deps.log.info({ deliveries: pruned, keepDays }, 'old completion callbacks forgotten');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'old completion callbacks could not be removed');
    }
  }

  private schedule(id: number, at: number): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(id));
    const timer = setTimeout(() => {
      this.timers.delete(id);
      void this.attempt(id);
    }, Math.max(0, at - this.now()));
    this.timers.set(id, timer);
  }

  private async attempt(id: number): Promise<void> {
    const config = this.deps.config;
    const d = this.deps.store.get(id);
    if (!config || !d || d.state !== 'pending' || this.closed) return;
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await postSigned(d.url, config.secret, d.body, ATTEMPT_TIMEOUT_MS, this.now);
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      error = describe(err);
    }
    if (this.closed) return; // the next supervisor tries it again: a receiver may see it twice, never not at all
    const attempts = d.attempts + 1;
    const log = { deliveryId: id, jobId: d.jobId, serial: d.serial, url: d.url, attempt: attempts, status, err: error };
    try {
      if (error === null) {
        this.deps.store.recordAttempt(id, { at: this.now(), status, error }, 'delivered', null);
        this.deps.log.info(log, 'completion callback delivered');
      } else if (attempts >= config.maxAttempts) {
        this.deps.store.recordAttempt(id, { at: this.now(), status, error }, 'failed', null);
        this.deps.log.warn(log, 'completion callback failed; given up');
      } else {
        const next = this.now() + delay(attempts - 1, this.deps.policy ?? CALLBACK_RETRY);
        this.deps.store.recordAttempt(id, { at: this.now(), status, error }, 'pending', next);
        this.deps.log.warn({ ...log, nextAt: next }, 'completion callback failed; trying again');
        this.schedule(id, next);
      }
    } catch (err) {
      // The database could not be written (disk full, locked): try again later, never fatal.
      this.deps.log.error({ ...log, err: (err as Error).message }, 'completion callback attempt could not be recorded');
      this.schedule(id, this.now() + 5000);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pruneTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${err.message}: ${cause.code ?? cause.message ?? ''}` : err.message;
}
