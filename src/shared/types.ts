/**
 * Terminology — the words every part of jobvisor uses, in one place.
 *
 * - user:      someone with an account on the server; owns jobs. Roles `user` and `admin`.
 * - template:  a kind of job a site offers (a simulation code): parameter schema, command,
 *              allowed run modes, time limit, how it reports progress, results and analysis
 *              frames. Templates are files in the templates folder (see template.ts).
 * - job:       one record per (user, job key), identified by its `jobId`. Running it again
 *              replaces the current run and moves the previous run into the job's history.
 * - run:       one execution of a job, identified by a `serial` that grows with every new
 *              run. A request naming an older serial is stale and must not act on the new run.
 * - run mode:  `sequential` (short, interactive), `parallel` (long, multi-core) or `sbatch`
 *              (on a Slurm cluster). It picks the driver and the slot pool the run uses.
 * - op:        one message of work for an agent: run, runStatus, cancel, analysis, io.
 * - agent:     a long-lived process started by a driver for one (user, run mode); it connects
 *              back to the supervisor over a websocket and executes ops.
 * - driver:    what starts, watches and stops agents: `local` (child process), `docker`
 *              (container on a Docker engine), `sbatch` (on a cluster login node, over SSH).
 * - slot:      a countable permit taken in FIFO order: CPU slots per driver and run mode,
 *              one run-dir slot per job.
 * - status:    where a run is. Only `pending` and `running` are active; a terminal status
 *              never goes back to active except by a new run.
 */
import { z } from 'zod';

export const RUN_MODES = ['sequential', 'parallel', 'sbatch'] as const;
export const RunMode = z.enum(RUN_MODES);
export type RunMode = z.infer<typeof RunMode>;
/** The run modes that run on this machine or a Docker host (not on a cluster). */
export type HostRunMode = Exclude<RunMode, 'sbatch'>;

export const STATUSES = ['pending', 'running', 'completed', 'error', 'canceled', 'missing', 'purged'] as const;
export const Status = z.enum(STATUSES);
export type Status = z.infer<typeof Status>;

export const ACTIVE_STATUSES: readonly Status[] = ['pending', 'running'];
export function isActive(status: Status): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export const ROLES = ['user', 'admin'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** Who is asking: the server passes this to the supervisor with every request. */
export interface Caller {
  username: string;
  role: Role;
}

/** Names a user, a job key or an agent id may take: safe as a folder name, never `..`. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const Name = z.string().regex(NAME_PATTERN, 'letters, digits, "_", "." and "-", 1 to 64, starting with a letter or digit');

/** Narrows a run mode for the drivers that run on this machine or a Docker host. */
export function hostRunMode(runMode: RunMode): HostRunMode {
  if (runMode === 'sbatch') throw new Error('sbatch runs go to the sbatch driver');
  return runMode;
}
