/**
 * The scheduler loop: one loop for every schedule. It sleeps until the earliest next firing (or
 * until a schedule changes), then fires what is due: it claims the firing time (a UNIQUE row,
 * written with the schedule's cursor before the run is queued, so a time fires at most once) and
 * queues an ordinary run as the schedule's owner. A firing that cannot run (quota, login, template
 * gone) is recorded on the schedule and the schedule goes on. When the loop starts (the supervisor
 * started) the times missed while it was down follow the schedule's policy: `skip` runs none,
 * `runOnce` runs one, for the latest missed time.
 */
import type { JobView } from '../../shared/api.js';
import type { Logger } from '../../shared/logger.js';
import { sleep } from '../../shared/retry.js';
import type { Caller } from '../../shared/types.js';
import type { JobService } from '../jobs.js';
import { firingJobKey, runBodyOf, timingOf } from './service.js';
import type { ScheduleRow, SqliteScheduleStore } from './store.js';
import { latestDue, nextAfter } from './timing.js';

export interface SchedulerDeps {
  store: SqliteScheduleStore;
  jobs: Pick<JobService, 'run'>;
  log: Logger;
  now?: () => number;
  /** The longest the loop sleeps without looking (default 30 s). */
  maxSleepMs?: number;
}

export class Scheduler {
  private readonly now: () => number;
  private readonly stop = new AbortController();
  private wake = new AbortController();
  private loop: Promise<void> | undefined;
  /** Firings whose run is being queued (close waits for them). */
  private readonly firing = new Set<Promise<void>>();

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Handles the times missed while the supervisor was down, then fires each schedule on time until close(). */
  start(): void {
    if (this.loop) return;
    this.catchUp();
    this.loop = this.run();
  }

  /** A schedule changed: look again at what is due. */
  changed(): void {
    this.wake.abort();
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.wake.abort();
    await this.loop;
    await Promise.allSettled([...this.firing]);
  }

  /** At start: every schedule's firing times since its cursor were missed while the supervisor was down. */
  private catchUp(): void {
    const now = this.now();
    for (const s of this.deps.store.list()) {
      if (s.paused) continue;
      try {
        const latest = latestDue(timingOf(s), s.cursor, now);
        if (latest === null) continue;
        const missed = countDue(s, now);
        if (s.missed === 'runOnce') {
          this.deps.log.info({ scheduleId: s.id, fireTime: latest, missed }, 'schedule: running once for the times missed while the supervisor was down');
          this.fire(s, latest, 'missed', missed - 1);
        } else {
          this.deps.log.info({ scheduleId: s.id, missed }, 'schedule: skipping the times missed while the supervisor was down');
          this.deps.store.passOver(s.id, latest, missed);
        }
      } catch (err) {
        this.deps.log.error({ scheduleId: s.id, err: (err as Error).message }, 'schedule: its missed firings could not be handled');
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      let sleepMs = this.deps.maxSleepMs ?? 30_000;
      try {
        sleepMs = Math.min(sleepMs, this.tick());
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, 'scheduler tick failed');
      }
      if (this.wake.signal.aborted) this.wake = new AbortController();
      await sleep(Math.max(0, sleepMs), AbortSignal.any([this.stop.signal, this.wake.signal]));
    }
  }

  /** Fires what is due (each schedule on its own: one that fails or is slow holds up no other); returns how long until the next firing. */
  private tick(): number {
    let nextAt = Infinity;
    for (const s of this.deps.store.list()) {
      if (this.stop.signal.aborted) break;
      if (s.paused) continue;
      try {
        const t = timingOf(s);
        const now = this.now();
        const latest = latestDue(t, s.cursor, now);
        // Late by more than one firing (the machine slept, the loop stalled): the latest runs, the ones before are passed over.
        if (latest !== null) this.fire(s, latest, 'onTime', countDue(s, now) - 1);
        const next = nextAfter(t, Math.max(latest ?? s.cursor, now));
        if (next !== null) nextAt = Math.min(nextAt, next);
      } catch (err) {
        this.deps.log.error({ scheduleId: s.id, err: (err as Error).message }, 'schedule: could not be fired');
      }
    }
    return nextAt - this.now();
  }

  /**
   * Claims one firing time (at once, in this turn of the event loop) and queues its run; a time
   * claimed before is not run again.
   */
  private fire(s: ScheduleRow, fireTime: number, kind: 'onTime' | 'missed', skipped: number): void {
    const firedAt = this.now();
    const jobKey = firingJobKey(s.name, fireTime);
    if (!this.deps.store.claim({ scheduleId: s.id, fireTime, firedAt, jobKey, kind, skipped: Math.max(0, skipped) })) return;
    const p = this.queueRun(s, fireTime, firedAt, jobKey, kind).catch((err: unknown) => this.deps.log.error({ scheduleId: s.id, err: (err as Error).message }, 'schedule: firing not recorded'));
    this.firing.add(p);
    void p.finally(() => this.firing.delete(p));
  }

  private async queueRun(s: ScheduleRow, fireTime: number, firedAt: number, jobKey: string, kind: 'onTime' | 'missed'): Promise<void> {
    const { store, log } = this.deps;
    const owner: Caller = { username: s.user, role: s.ownerRole as Caller['role'] };
    let job: JobView | undefined;
    try {
      job = await this.deps.jobs.run(owner, runBodyOf(s, jobKey), undefined, { scheduleId: s.id, scheduleName: s.name });
      log.info({ scheduleId: s.id, fireTime, jobId: job.jobId, jobKey, kind }, 'schedule fired');
    } catch (err) {
      log.warn({ scheduleId: s.id, fireTime, jobKey, err: (err as Error).message }, 'schedule fired, but its run could not be queued');
      store.settle(s.id, fireTime, firedAt, null, (err as Error).message);
      return;
    }
    store.settle(s.id, fireTime, firedAt, job.jobId, null);
  }
}

/** How many firing times are due since the schedule's cursor (counted up to 10 000). */
function countDue(s: ScheduleRow, now: number): number {
  const t = timingOf(s);
  if (t.intervalSeconds !== null) {
    const latest = latestDue(t, s.cursor, now);
    const first = nextAfter(t, s.cursor);
    return latest === null || first === null ? 0 : Math.round((latest - first) / (t.intervalSeconds * 1000)) + 1;
  }
  let n = 0;
  for (let at = nextAfter(t, s.cursor); at !== null && at <= now && n < 10_000; at = nextAfter(t, at)) n++;
  return n;
}
