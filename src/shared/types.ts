/**
 * Terminology — the words every part of jobvisor uses, in one place.
 *
 * - user:      someone with an account on the server; owns jobs. Roles `user` and `admin`.
 * - template:  a kind of job a site offers (a simulation code): parameter schema, command,
 *              the targets and sizes it allows, time limit, how it reports progress, results
 *              and analysis frames. Templates are files in the templates folder (template.ts).
 * - job:       one record per (user, job key), identified by its `jobId`. Running it again
 *              replaces the current run and moves the previous run into the job's history.
 * - run:       one execution of a job, identified by a `serial` that grows with every new
 *              run. A request naming an older serial is stale and must not act on the new run.
 * - target:    a named place where runs go, configured by the site: a driver and its settings
 *              (`local`, `docker` engines, a batch-scheduler cluster reached over SSH with
 *              each user's own login). Several of each may exist.
 * - size:      `sequential` (short, interactive) or `parallel` (long, multi-core). With the
 *              target it picks the slot pool and the time limit of a run. (jobvisor 0.1 had
 *              "run modes" instead: a size, or a cluster's name; still read, see targets.ts.)
 * - op:        one message of work for an agent: run, attach, runStatus, cancel, analysis, io.
 * - agent:     a long-lived process started by a driver for one (target, user, size); it
 *              connects back to the supervisor over a websocket and executes ops.
 * - driver:    the backend of a target on the supervisor's side: starts, watches and stops
 *              agents, offers slot pools, refuses runs it could never run, prepares run ops.
 * - engine:    the backend on the agent's side: runs processes, or submits batch scripts to a
 *              cluster's scheduler and follows them (a run's `externalId` is the scheduler's id).
 * - slot:      a countable permit taken in FIFO order: CPU slots per target, pool and size;
 *              one run-dir slot per job.
 * - status:    where a run is. Only `pending` and `running` are active; a terminal status
 *              never goes back to active except by a new run.
 */
import { z } from 'zod';

export const SIZES = ['sequential', 'parallel'] as const;
export const Size = z.enum(SIZES);
export type Size = z.infer<typeof Size>;

export const STATUSES = ['pending', 'running', 'completed', 'error', 'canceled', 'missing', 'purged'] as const;
export const Status = z.enum(STATUSES);
export type Status = z.infer<typeof Status>;

export const ACTIVE_STATUSES: readonly Status[] = ['pending', 'running'];
export function isActive(status: Status): boolean {
  return ACTIVE_STATUSES.includes(status);
}

/** The built-in roles. A site may add its own (setting `roles`, e.g. "premium"): they act as `user` for access, and have their own quotas when the site names them. */
export const ROLES = ['user', 'admin'] as const;
export type BuiltInRole = (typeof ROLES)[number];
export const ROLE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const Role = z.string().regex(ROLE_PATTERN, 'a role name: lower-case letters, digits, "_" and "-", starting with a letter');
export type Role = z.infer<typeof Role>;

/** Who is asking: the server passes this to the supervisor with every request. */
export interface Caller {
  username: string;
  role: Role;
}

/** Names a user, a job key or an agent id may take: safe as a folder name, never `..`. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const Name = z.string().regex(NAME_PATTERN, 'letters, digits, "_", "." and "-", 1 to 64, starting with a letter or digit');
