/**
 * Stale runs: every `staleCheckSeconds`, each active run is held against its template's
 * `expectedSeconds` for its state (pending since queued, running since started, finishing since
 * its phase says so, when the row has one). A run over it is flagged (`stale` in its view, a job
 * event) and admins are told once per run (a run flagged before a restart keeps its flag, so
 * it is not told again); a run back within its expectation (a new state) is cleared.
 */
import type { StaleFlag } from '../shared/api.js';
import type { Logger } from '../shared/logger.js';
import type { Template } from '../shared/template.js';
import type { ComputeJob } from './computeJob.js';
import type { JobRow } from './store.js';

export interface StaleDeps {
  active(): ComputeJob[];
  template(row: JobRow): Template | undefined;
  /** Told once per run when it is first flagged. */
  onStale(row: JobRow, flag: StaleFlag): void;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

/** The state a run is in for the stale check, and since when; null when it has no expectation there. */
export function staleFlag(row: JobRow, template: Pick<Template, 'expectedSeconds'> | undefined, now: number): StaleFlag | null {
  const expected = template?.expectedSeconds;
  if (!expected) return null;
  const phase = row.phase;
  const phaseAt = row.phaseTimes?.finishing;
  let state: StaleFlag['state'];
  let since: number | null;
  if (row.status === 'pending') [state, since] = ['pending', row.queuedAt];
  else if (row.status === 'running' && phase === 'finishing') [state, since] = ['finishing', phaseAt ?? null];
  else if (row.status === 'running') [state, since] = ['running', row.startedAt];
  else return null;
  const seconds = expected[state];
  if (seconds === undefined || since === null) return null;
  return now - since > seconds * 1000 ? { state, sinceMs: since, expectedSeconds: seconds } : null;
}

export class StaleRuns {
  private readonly timer: NodeJS.Timeout;
  /** Runs admins were told of (job id / serial). */
  private readonly told = new Set<string>();

  constructor(private readonly deps: StaleDeps) {
    this.timer = setInterval(() => this.check(), deps.intervalMs);
    this.timer.unref();
  }

  check(): void {
    const now = (this.deps.now ?? Date.now)();
    const live = new Set<string>();
    for (const job of this.deps.active()) {
      const key = `${job.row.id}/${job.row.serial}`;
      live.add(key);
      try {
        const flag = staleFlag(job.row, this.deps.template(job.row), now);
        const was = job.row.stale;
        if (flag?.state === was?.state && flag?.sinceMs === was?.sinceMs) continue;
        job.setStale(flag);
        if (flag && !this.told.has(key)) {
          this.told.add(key);
          this.deps.log.warn({ jobId: job.row.id, serial: job.row.serial, ...flag }, 'run is over its expected time');
          this.deps.onStale(job.row, flag);
        }
      } catch (err) {
        this.deps.log.warn({ jobId: job.row.id, err: (err as Error).message }, 'stale check of a run failed');
      }
    }
    for (const key of this.told) if (!live.has(key)) this.told.delete(key);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
