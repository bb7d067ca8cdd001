/**
 * What an agent's update does to a job's current run, as a pure function: the new row, what
 * the run now waits for (undefined: unchanged), and log lines to publish. `exit` is not here:
 * ending a run is a transition of ComputeJob.
 */
import type { Update } from '../shared/protocol.js';
import type { JobRow } from './db.js';

export interface Applied {
  row: JobRow;
  waitingFor?: string | null;
  lines?: string[];
}

/** How a Slurm state reads to a user: "Slurm: PENDING (Priority), estimated start 2026-11-24T15:00:00". */
export function describeSlurm(u: Extract<Update, { kind: 'slurm' }>): string {
  const reason = u.reason ? ` (${u.reason})` : '';
  const start = u.startTime ? `, estimated start ${u.startTime}` : '';
  if (u.unconfirmed) return `Slurm job ${u.slurmJobId}: state unconfirmed, last seen ${u.state}${reason}`;
  return `Slurm job ${u.slurmJobId}: ${u.state}${reason}${start}`;
}

export function applyUpdate(row: JobRow, update: Exclude<Update, { kind: 'exit' }>, now: number): Applied {
  switch (update.kind) {
    case 'started':
      if (row.status !== 'pending') return { row };
      return { row: { ...row, status: 'running', pid: update.pid, startedAt: now, updatedAt: now }, waitingFor: null };
    case 'progress':
      return { row: { ...row, progress: update.value, progressMessage: update.message ?? row.progressMessage, updatedAt: now } };
    case 'log':
      return {
        row: { ...row, logLines: row.logLines + update.lines.length, logOffset: update.offset ?? row.logOffset, updatedAt: now },
        lines: update.lines,
      };
    case 'slurm': {
      const waiting = row.status === 'pending' || update.unconfirmed ? describeSlurm(update) : null;
      return { row: { ...row, externalId: update.slurmJobId, updatedAt: now }, waitingFor: waiting };
    }
    default: {
      const never: never = update;
      throw new Error(`unknown update ${JSON.stringify(never)}`);
    }
  }
}
