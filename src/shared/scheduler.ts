/**
 * The contract between the agent's batch engine (src/agent/engines/batch.ts) and one batch
 * scheduler module (src/drivers/<backend>/scheduler.ts): submit a script, ask once for every
 * job of the user, look up a job that left the queue, cancel, and map the scheduler's states.
 * The batch engine does the rest (run directories, log tails, progress, unconfirmed states,
 * submissions waiting for a scheduler that does not answer, re-attaching) the same way for
 * every scheduler.
 *
 * Scheduler commands run through `schedulerCommand`: with a timeout, never through a shell,
 * and counted per command so a test (or an operator) can see how often the cluster is asked.
 */
import { execFile } from 'node:child_process';
import type { RunCause, RunEnd } from './protocol.js';

/** One job as the scheduler's queue lists it. */
export interface QueueEntry {
  /** The scheduler's job id. */
  id: string;
  /** The scheduler's own state word (`PENDING`, `qw`, ...). */
  state: string;
  /** Why it is in that state, in the scheduler's words ('' when none). */
  reason: string;
  /** The scheduler's estimated start, when it gives one ('' when none). */
  estimatedStart: string;
}

/** A job that left the queue, as the scheduler's records tell it. */
export interface EndedJob {
  state: string;
  reason: string;
  /** The job's exit code as the scheduler reports it, null when it has none. */
  exitCode: number | null;
}

/** Where a scheduler state puts a run: still queued, running, being ended, or ended (and how). */
export type SchedulerPhase =
  | { phase: 'pending' }
  | { phase: 'running' }
  /** The scheduler is ending the job; it is still in the queue. */
  | { phase: 'ending' }
  | { phase: 'ended'; status: RunEnd; reason: string | undefined; /** Whose fault an error is (default: the exit code says). */ cause?: RunCause };

/**
 * Why a submission failed, as the scheduler module reads its error: the scheduler could not be
 * contacted, so it did not take the job (submitting again is safe); the outcome is unknown (the
 * command timed out, or the request went out and no answer came: the job may have been taken);
 * or the scheduler answered and refused the job (an unknown partition or queue, over a limit).
 */
export type SubmitFailure = 'unreachable' | 'unknown' | 'refused';

export interface Scheduler {
  /** The registry name, as run ops name it (src/agent/engines/schedulers.ts). */
  readonly name: string;
  /** How users read its name. */
  readonly title: string;
  /** The file name of the batch script in the run directory. */
  readonly scriptName: string;
  /** Submits the script (already written to `scriptPath`) from `runDir`; resolves with the job id. */
  submit(scriptPath: string, runDir: string): Promise<string>;
  /** Optional: reads a failed submit's error (without it, every failure is a refusal). */
  submitFailure?(err: unknown): SubmitFailure;
  /**
   * Optional: the id of a job still in the queue whose working directory is `runDir`, after a
   * submission whose outcome is unknown; undefined when there is none. Rejects when the
   * scheduler cannot be asked. Without it, a submission whose outcome is unknown is not retried.
   */
  findSubmitted?(runDir: string): Promise<string | undefined>;
  /** ONE query for every job of the agent's user. A job absent from the map has left the queue. */
  queue(): Promise<Map<string, QueueEntry>>;
  /**
   * Optional: the reasons of pending jobs, with one command for all of them (for schedulers
   * whose queue listing leaves them out). Called with the ids of jobs whose state changed.
   */
  pendingReasons?(ids: string[]): Promise<Map<string, string>>;
  /** A job no longer in the queue; undefined when the scheduler does not (or not yet) know it. */
  lookUp(id: string): Promise<EndedJob | undefined>;
  /**
   * Optional: the end of a job whose script recorded that its command exited by itself with
   * `exitCode` (EXIT_STATUS_FILE), in the scheduler's own words, as lookUp would give it. With
   * it the engine reads that file and asks lookUp only for jobs that wrote none (killed first).
   */
  exited?(exitCode: number): EndedJob;
  cancel(id: string): Promise<void>;
  /** Maps a state (with its reason and exit code, for ended jobs) to a phase. */
  phaseOf(state: string, reason: string, exitCode: number | null): SchedulerPhase;
}

/**
 * The file of the run directory where the batch script (drivers/cluster/steps.ts runBlock)
 * writes the exit code of its command when the command ended by itself (not when the script
 * was signalled: a cancel, a time limit): one line, the code. Written to a temporary name and
 * renamed, so a reader sees the whole line or no file.
 */
export const EXIT_STATUS_FILE = 'exit-status';

const COMMAND_TIMEOUT_MS = 30_000;

/** How many times each scheduler command ran in this process, for diagnosis and measurement. */
export const schedulerCommandCounts: Record<string, number> = {};
/** How many times each scheduler command failed (non-zero exit, timeout, not found) in this process. */
export const schedulerCommandFailures: Record<string, number> = {};

export class SchedulerCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
    message: string,
    /** Killed at its timeout: what it did is unknown. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'SchedulerCommandError';
  }
}

/**
 * Runs one scheduler command (no shell) and resolves with its stdout. `countAs` names it in the
 * counts when one program serves several purposes (e.g. a job query beside the queue query).
 * `program` and `env`: the file to run and its environment, when the module knows better than
 * PATH (drivers/sge/commands.ts); counts and errors still say `command`.
 */
export function schedulerCommand(
  command: string,
  args: string[],
  opts: { cwd?: string; countAs?: string; timeoutMs?: number; /** The file to run, when not `command` found on PATH (its errors still name `command`). */ program?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const key = opts.countAs ?? command;
  schedulerCommandCounts[key] = (schedulerCommandCounts[key] ?? 0) + 1;
  const timeout = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(opts.program ?? command, args, { cwd: opts.cwd, env: opts.env, timeout, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        schedulerCommandFailures[key] = (schedulerCommandFailures[key] ?? 0) + 1;
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const why = e.killed ? `timed out after ${timeout / 1000} s` : stderr.trim() || stdout.trim() || e.message;
        reject(new SchedulerCommandError(command, stderr.trim() || stdout.trim(), typeof e.code === 'number' ? e.code : null, `${command} failed: ${why}`, e.killed === true));
        return;
      }
      resolve(stdout);
    });
  });
}

/**
 * A submit's failure read by the module's own patterns: `unreachable` when its error says the
 * scheduler could not be contacted, `unknown` when the command timed out or its error says the
 * answer never came, else `refused`. Errors that are not the command's (a run directory that
 * cannot be written) are refusals too.
 */
export function classifySubmitError(err: unknown, patterns: { unreachable: RegExp; unknown: RegExp }): SubmitFailure {
  if (!(err instanceof SchedulerCommandError)) return 'refused';
  if (err.timedOut || patterns.unknown.test(err.stderr)) return 'unknown';
  return patterns.unreachable.test(err.stderr) ? 'unreachable' : 'refused';
}
