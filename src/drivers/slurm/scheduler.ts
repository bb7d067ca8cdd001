/**
 * Slurm, on the agent's side (bundled into the agent, which runs on the login node under the
 * user's account): submitting a batch script with `sbatch`, asking `squeue` once for all of the
 * user's jobs, looking up a job that left the queue (`scontrol show job`, then `sacct`), and
 * canceling with `scancel`. Slurm states map to jobvisor's here. Imports shared/ only.
 */
import os from 'node:os';
import path from 'node:path';
import {
  classifySubmitError,
  schedulerCommand as run,
  SchedulerCommandError,
  type EndedJob,
  type QueueEntry,
  type Scheduler,
  type SchedulerPhase,
  type SubmitFailure,
} from '../../shared/scheduler.js';

async function submit(scriptPath: string, runDir: string): Promise<string> {
  const out = await run('sbatch', ['--parsable', scriptPath], { cwd: runDir });
  const id = out.trim().split(';')[0] ?? '';
  if (!/^[0-9]+$/.test(id)) throw new SchedulerCommandError('sbatch', out, null, `sbatch answered something unexpected: ${out.trim()}`);
  return id;
}

/**
 * sbatch's errors (Slurm 22.05, checked against a slurmctld that is down and one that takes the
 * connection but never answers). Down, after about 9 s of its own retries: `sbatch: error: Batch
 * job submission failed: Unable to contact slurm controller (connect failure)`: nothing reached
 * the controller. `Slurm temporarily unable to accept job` is the controller saying it did not
 * take it. Ambiguous, the request went out: `Batch job submission failed: Socket timed out on
 * send/recv operation` (and `Zero Bytes were transmitted or received`). A refusal names its
 * cause: `Batch job submission failed: Invalid partition name specified`.
 */
const SUBMIT_ERRORS = {
  unreachable: /Unable to contact slurm controller|Slurm temporarily unable to accept job/i,
  unknown: /Socket timed out on send\/recv operation|Zero Bytes were transmitted or received/i,
};

function submitFailure(err: unknown): SubmitFailure {
  return classifySubmitError(err, SUBMIT_ERRORS);
}

/** A job in the queue (pending, running, completing: not ended ones) whose working directory is `runDir`. */
async function findSubmitted(runDir: string): Promise<string | undefined> {
  const out = await run('squeue', ['--me', '--noheader', '--format=%i|%Z'], { countAs: 'squeue (find)' });
  const dir = path.resolve(runDir);
  for (const line of out.split('\n')) {
    const [id, workDir] = line.trim().split('|');
    if (id && workDir && path.resolve(workDir) === dir) return id;
  }
  return undefined;
}

/** One `squeue` for all of the user's jobs. */
async function queue(): Promise<Map<string, QueueEntry>> {
  const out = await run('squeue', ['--me', '--noheader', '--array', '--format=%i|%T|%r|%S']);
  const jobs = new Map<string, QueueEntry>();
  for (const line of out.split('\n')) {
    const [id, state, reason, start] = line.trim().split('|');
    if (!id || !state) continue;
    jobs.set(id, { id, state, reason: reason && reason !== 'None' ? reason : '', estimatedStart: start && start !== 'N/A' ? start : '' });
  }
  return jobs;
}

/** Slurm's `ExitCode=3:0` (code:signal): the code. */
function exitCodeOf(text: string): number | null {
  const m = /^(\d+):/.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Slurm's reason with the signal of `ExitCode=0:9` (code:signal) added: a job whose command was
 * killed ends FAILED with code 0, and only the signal says what happened.
 */
function reasonOf(reason: string, exitCodeText: string): string {
  const signal = Number(/^\d+:(\d+)$/.exec(exitCodeText)?.[1] ?? 0);
  if (!signal) return reason;
  const name = Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0];
  const killed = `killed by signal ${signal}${name ? ` (${name})` : ''}`;
  return reason && reason !== 'None' ? `${reason}, ${killed}` : killed;
}

/** `scontrol show job` while Slurm remembers the job (MinJobAge), else `sacct`; undefined if neither knows it. */
async function lookUp(id: string): Promise<EndedJob | undefined> {
  try {
    const out = await run('scontrol', ['show', 'job', '--oneliner', id]);
    const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(out)?.[1] ?? '';
    if (field('JobState')) return { state: field('JobState'), reason: reasonOf(field('Reason'), field('ExitCode')), exitCode: exitCodeOf(field('ExitCode')) };
  } catch (err) {
    if (!(err instanceof SchedulerCommandError) || !/Invalid job id/i.test(err.stderr)) throw err;
  }
  const out = await run('sacct', ['--noheader', '--parsable2', '--jobs', id, '--format=State,ExitCode,Reason']).catch(() => '');
  const [state, exitCode, reason] = (out.split('\n')[0] ?? '').split('|');
  return state ? { state: state.split(' ')[0] ?? state, reason: reasonOf(reason ?? '', exitCode ?? ''), exitCode: exitCodeOf(exitCode ?? '') } : undefined;
}

async function cancel(id: string): Promise<void> {
  await run('scancel', [id]);
}

function phaseOf(state: string, reason: string, exitCode: number | null): SchedulerPhase {
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
      const detail = [reason && reason !== 'None' ? `reason ${reason}` : '', exitCode ? `exit code ${exitCode}` : ''].filter(Boolean).join(', ');
      // FAILED: the job's command exited non-zero; OUT_OF_MEMORY: it used more than it asked for. NODE_FAIL, BOOT_FAIL, PREEMPTED, ...: not the user's doing.
      const cause = s === 'FAILED' || s === 'OUT_OF_MEMORY' ? 'user' : 'system';
      return { phase: 'ended', status: 'error', reason: `Slurm job ended ${s}${detail ? ` (${detail})` : ''}`, cause };
    }
  }
}

/** The script recorded that its command exited by itself with `code`: what sacct would then say (COMPLETED, or FAILED with the code). */
function exited(code: number): EndedJob {
  return code === 0 ? { state: 'COMPLETED', reason: '', exitCode: 0 } : { state: 'FAILED', reason: 'NonZeroExitCode', exitCode: code };
}

export const slurmScheduler: Scheduler = { name: 'slurm', title: 'Slurm', scriptName: 'job.sbatch', submit, submitFailure, findSubmitted, queue, lookUp, exited, cancel, phaseOf };
