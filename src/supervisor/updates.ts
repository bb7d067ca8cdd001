/**
 * What an agent's update does to a job's current run, as a pure function: the new row, what
 * the run now waits for (undefined: unchanged), and log lines to publish. `exit` is not here:
 * ending a run is a transition of ComputeJob.
 */
import type { Update } from '../shared/protocol.js';
import type { JobRow } from './store.js';

export interface Applied {
  row: JobRow;
  waitingFor?: string | null;
  lines?: string[];
}

type SchedulerUpdate = Extract<Update, { kind: 'scheduler' }>;

/** How a scheduler's word reads to a user: "<scheduler> job 12: PENDING (Priority), estimated start 2026-11-24T15:00:00". */
export function describeScheduler(scheduler: string, u: SchedulerUpdate): string {
  const reason = u.reason ? ` (${u.reason})` : '';
  const start = u.estimatedStart ? `, estimated start ${u.estimatedStart}` : '';
  if (u.externalId === undefined) return `${scheduler}: ${u.state}${reason}`;
  if (u.unconfirmed) return `${scheduler} job ${u.externalId}: state unconfirmed, last seen ${u.state}${reason}`;
  return `${scheduler} job ${u.externalId}: ${u.state}${reason}${start}`;
}

type PhaseUpdate = Extract<Update, { kind: 'phase' }>;

/**
 * A phase of the run began: it becomes the run's phase, its time kept (the agent's, within the
 * run's queued time and now, never before an earlier phase). A phase the run already reached
 * (an update sent again by a new agent that reads the phase file again) changes nothing.
 */
export function applyPhase(row: JobRow, update: PhaseUpdate, now: number): Applied {
  if (row.phaseTimes[update.phase] !== undefined) return { row };
  const earliest = Math.max(row.queuedAt, ...Object.values(row.phaseTimes));
  const at = Math.min(now, Math.max(earliest, update.at ?? now));
  return { row: { ...row, phase: update.phase, phaseTimes: { ...row.phaseTimes, [update.phase]: at }, updatedAt: now } };
}

/** `scheduler` names the run's scheduler in texts for users. */
export function applyUpdate(row: JobRow, update: Exclude<Update, { kind: 'exit' }>, now: number, scheduler: string): Applied {
  switch (update.kind) {
    case 'started':
      if (row.status !== 'pending') return { row };
      return { row: { ...row, status: 'running', pid: update.pid, startedAt: now, updatedAt: now }, waitingFor: null };
    case 'phase':
      return applyPhase(row, update, now);
    case 'progress':
      return { row: { ...row, progress: update.value, progressMessage: update.message ?? row.progressMessage, updatedAt: now } };
    case 'log':
      return {
        row: { ...row, logLines: row.logLines + update.lines.length, logOffset: update.offset ?? row.logOffset, updatedAt: now },
        lines: update.lines,
      };
    case 'scheduler': {
      const waiting = row.status === 'pending' || update.unconfirmed ? describeScheduler(scheduler, update) : null;
      const state = { state: update.state, reason: update.reason ?? null, estimatedStart: update.estimatedStart ?? null, unconfirmed: update.unconfirmed ?? false };
      return { row: { ...row, externalId: update.externalId ?? row.externalId, scheduler: state, updatedAt: now }, waitingFor: waiting };
    }
    default: {
      const never: never = update;
      throw new Error(`unknown update ${JSON.stringify(never)}`);
    }
  }
}
