/**
 * Settings every cluster target has, whatever its scheduler: the login node and how its host
 * key is known, where jobvisor keeps its files there, the batch script template, how often
 * the scheduler is asked, how long a login lasts. A scheduler backend adds its own options
 * (defaults, limits, extra directives) to these.
 */
import { z } from 'zod';
import { targetFields } from '../targetSettings.js';

export function clusterFields<K extends string>(kind: K) {
  return {
    ...targetFields(kind),
    /** The login node, as jobvisor reaches it over SSH. */
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** known_hosts lines for the login node; a host key not listed is refused. */
    knownHosts: z.array(z.string().min(1)).min(1),
    /** jobvisor's folder on the cluster, relative to the user's home unless absolute (shared by the site's targets on that cluster). */
    remoteDir: z.string().regex(/^[A-Za-z0-9_./~-]+$/).default('jobvisor'),
    nodePath: z.string().regex(/^[A-Za-z0-9_./-]+$/).default('node'),
    /**
     * Folders on the login node put first in the agent's PATH, where it looks for the scheduler's
     * commands: for a site whose non-interactive SSH sessions lack them (`/opt/slurm/bin`), or that
     * wants its own wrappers used.
     */
    schedulerPath: z.array(z.string().regex(/^\/[A-Za-z0-9_./-]+$/, 'an absolute path of letters, digits and _./-')).default([]),
    /** The websocket URL agents on the cluster use to reach the supervisor (default: the supervisor's own). */
    agentUrl: z.url().optional(),
    /** The batch script template (default: the one in the backend's folder). */
    scriptTemplate: z.string().min(1).optional(),
    /** The longest time between two queries of the scheduler (one query for all of the user's jobs). */
    pollIntervalMs: z.number().int().min(200).default(5000),
    /**
     * The first query after a submission, a job's state change, or a job's log file appearing
     * (it started); then the delay grows by `pollBackoff` after each query that saw no change, up
     * to `pollIntervalMs`, and is never past a running job's time limit. `pollSoonMs` equal to
     * `pollIntervalMs` (or `pollBackoff` 1) polls at a fixed interval.
     */
    pollSoonMs: z.number().int().min(50).default(200),
    pollBackoff: z.number().min(1).max(4).default(1.5),
    /**
     * How long a run the scheduler answers for, but knows neither in its queue nor in its records,
     * stays unconfirmed before it ends as error. While the scheduler cannot be asked at all, runs
     * stay unconfirmed however long that lasts: that ends nothing.
     */
    unconfirmedGraceMs: z.number().int().positive().default(10 * 60_000),
    /** A login lasts this long; then the user must log in again. */
    loginHours: z.number().positive().default(12),
    /** An agent whose websocket stays down this long is taken for lost (its scheduler jobs wait for a new login). */
    lostAfterMs: z.number().int().positive().default(60_000),
    connectTimeoutMs: z.number().int().positive().default(20_000),
  };
}

type Common = z.infer<z.ZodObject<ReturnType<typeof clusterFields<'cluster'>>>>;
/**
 * The settings every cluster target has; its backend's own add to these, and always have site
 * `extraDirectives` and `limits.maxMinutes` (the longest a script may ask for).
 */
export type ClusterSettings = Omit<Common, 'driver'> & { driver: string; extraDirectives: string[]; limits: { maxMinutes: number } };

/** A site's `defaults` must themselves fit its `limits`: checked when the config is read. */
export function defaultsWithinLimits(resolve: () => unknown, ctx: z.RefinementCtx): void {
  try {
    resolve();
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['defaults'], message: `the defaults do not fit the limits: ${(err as Error).message}` });
  }
}
