/**
 * Slurm from the login node: submitting a batch script, asking `squeue` once for all of the
 * user's jobs, looking up a job that left the queue (`scontrol show job`, then `sacct`), and
 * canceling. Every command runs with a timeout and is counted. Slurm states map to jobvisor's
 * statuses here.
 */
import { execFile } from 'node:child_process';
import type { RunEnd } from '../shared/protocol.js';

const COMMAND_TIMEOUT_MS = 30_000;

/** How many times each Slurm command ran, for diagnosis and measurement. */
export const slurmCommandCounts: Record<string, number> = {};

export class SlurmCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
    this.name = 'SlurmCommandError';
  }
}

export function slurm(command: string, args: string[], cwd?: string): Promise<string> {
  slurmCommandCounts[command] = (slurmCommandCounts[command] ?? 0) + 1;
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        const why = e.killed ? `timed out after ${COMMAND_TIMEOUT_MS / 1000} s` : stderr.trim() || e.message;
        reject(new SlurmCommandError(command, stderr.trim(), `${command} failed: ${why}`));
        return;
      }
      resolve(stdout);
    });
  });
}

/** Submits a batch script; resolves with the Slurm job id. Slurm's own error text is kept verbatim. */
export async function submit(scriptPath: string, cwd: string): Promise<string> {
  const out = await slurm('sbatch', ['--parsable', scriptPath], cwd);
  const id = out.trim().split(';')[0] ?? '';
  if (!/^[0-9]+$/.test(id)) throw new SlurmCommandError('sbatch', out, `sbatch answered something unexpected: ${out.trim()}`);
  return id;
}

export interface QueueEntry {
  id: string;
  state: string;
  reason: string;
  startTime: string;
}

/** One `squeue` for all of the user's jobs. */
export async function queue(): Promise<Map<string, QueueEntry>> {
  const out = await slurm('squeue', ['--me', '--noheader', '--array', '--format=%i|%T|%r|%S']);
  const jobs = new Map<string, QueueEntry>();
  for (const line of out.split('\n')) {
    const [id, state, reason, startTime] = line.trim().split('|');
    if (id && state) jobs.set(id, { id, state, reason: reason ?? '', startTime: startTime ?? '' });
  }
  return jobs;
}

export interface FinishedJob {
  state: string;
  reason: string;
  exitCode: string;
}

/** A job no longer in the queue: `scontrol show job` while Slurm remembers it, else `sacct`. Undefined if neither knows it. */
export async function lookUp(id: string): Promise<FinishedJob | undefined> {
  try {
    const out = await slurm('scontrol', ['show', 'job', '--oneliner', id]);
    const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(out)?.[1] ?? '';
    if (field('JobState')) return { state: field('JobState'), reason: field('Reason'), exitCode: field('ExitCode') };
  } catch (err) {
    if (!(err instanceof SlurmCommandError) || !/Invalid job id/i.test(err.stderr)) throw err;
  }
  const out = await slurm('sacct', ['--noheader', '--parsable2', '--jobs', id, '--format=State,ExitCode,Reason']).catch(() => '');
  const [state, exitCode, reason] = (out.split('\n')[0] ?? '').split('|');
  return state ? { state: state.split(' ')[0] ?? state, reason: reason ?? '', exitCode: exitCode ?? '' } : undefined;
}

export async function cancel(id: string): Promise<void> {
  await slurm('scancel', [id]);
}

/** Where a Slurm state puts a run: still queued, running, or ended (and how). */
export type SlurmPhase = { phase: 'pending' } | { phase: 'running' } | { phase: 'ended'; status: RunEnd; reason: string | undefined };

export function phaseOf(state: string, reason = '', exitCode = ''): SlurmPhase {
  const s = state.toUpperCase().replace(/\+$/, '');
  switch (s) {
    case 'PENDING':
    case 'CONFIGURING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'RESV_DEL_HOLD':
    case 'SUSPENDED':
      return { phase: 'pending' };
    case 'RUNNING':
    case 'COMPLETING':
    case 'STAGE_OUT':
      return { phase: 'running' };
    case 'COMPLETED':
      return { phase: 'ended', status: 'completed', reason: undefined };
    case 'CANCELLED':
      return { phase: 'ended', status: 'canceled', reason: 'canceled in Slurm (CANCELLED)' };
    case 'TIMEOUT':
    case 'DEADLINE':
      return { phase: 'ended', status: 'canceled', reason: `Slurm ended the job at its time limit (${s})` };
    default: {
      const detail = [reason && reason !== 'None' ? `reason ${reason}` : '', exitCode && exitCode !== '0:0' ? `exit code ${exitCode}` : ''].filter(Boolean).join(', ');
      return { phase: 'ended', status: 'error', reason: `Slurm job ended ${s}${detail ? ` (${detail})` : ''}` };
    }
  }
}
