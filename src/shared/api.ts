/**
 * HTTP bodies and answers of the public API (server) and of the supervisor's internal API,
 * declared once. The server validates a body with these schemas, then forwards it unchanged.
 */
import { z } from 'zod';
import type { Phase, RunCause } from './protocol.js';
import type { PipelineView } from './pipelines.js';
import { Name, Role, Size, Status, STATUSES } from './types.js';
import { Requires } from './labels.js';

export const LoginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
export const CreateUserBody = z.object({ username: Name, password: z.string().min(8).max(1024), role: Role.default('user') }).strict();

/**
 * Options of a run on a cluster target (partition, queue, minutes, ...): scalars by name, here
 * only in shape; the target's driver checks each against its own schema and the site's limits.
 */
export const RunOptions = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,31}$/, 'an option name'), z.union([z.string().max(128), z.number(), z.boolean()]))
  .refine((o) => Object.keys(o).length <= 32, 'at most 32 options');
export type RunOptions = z.infer<typeof RunOptions>;

/**
 * A run request. `target` defaults to the first target the template allows, `size` to the
 * first size it allows. Requests of jobvisor 0.1 (`runMode`, and a cluster kind's options under
 * its own key) are read too: the supervisor translates them and refuses any other extra key.
 */
export const RunBody = z
  .object({
    template: z.string().min(1).max(64),
    parameters: z.record(z.string(), z.unknown()).default({}),
    target: Name.optional(),
    size: Size.optional(),
    jobKey: Name.optional(),
    options: RunOptions.optional(),
    /** Input files: input name → upload id (POST /api/uploads, or the file parts of a multipart run request). */
    inputs: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.string().max(64)).optional(),
    /** jobvisor 0.1: a size, or a cluster kind's run mode. */
    runMode: z.string().regex(/^[a-z]{1,32}$/, 'a run mode').optional(),
    /** `{email: true}`: e-mail the caller (at the address of their settings) when this run ends. */
    notify: z.object({ email: z.boolean() }).strict().optional(),
    /** This run's own completion callback (must start with one of the site's `callbacks.allowedPrefixes`). */
    callbackUrl: z.url({ protocol: /^https?$/ }).max(2000).optional(),
    /** Labels the place must have (src/shared/labels.ts), on top of the template's `requires`. */
    requires: Requires.optional(),
  })
  .catchall(RunOptions);
export type RunBody = z.infer<typeof RunBody>;

/**
 * A batch of run requests (POST /api/jobs/batch): each entry is checked as `RunBody` on its own
 * (shared/batch.ts), so that every bad entry is named by its index.
 */
export const BatchBody = z.object({ runs: z.array(z.unknown()) }).strict();
/** One bad entry of a batch (BATCH_INVALID's `details.errors`). */
export interface BatchEntryError {
  index: number;
  code: string;
  message: string;
}
/** One run a batch queued, at its entry's index. */
export interface BatchJob {
  index: number;
  jobId: string;
  jobKey: string;
  serial: number;
}

/** An uploaded input file (POST /api/uploads); `inUse` once a run refers to it (it goes when that run starts). */
export interface UploadView {
  uploadId: string;
  fileName: string;
  mediaType: string;
  size: number;
  sha256: string;
  createdAt: number;
  expiresAt: number;
  inUse: boolean;
}

export const CancelBody = z.object({ serial: z.number().int().positive().optional() }).strict();
export const AnalysisBody = z.object({
  frame: z.string().min(1).max(64),
  index: z.number().int().min(0).max(1_000_000).default(0),
  serial: z.number().int().positive().optional(),
}).strict();
export const BeginSessionBody = z
  .object({
    /** The target whose agents to start (default: the first that needs no login). */
    target: Name.optional(),
    sizes: z.array(Size).min(1).max(2).optional(),
    /** jobvisor 0.1: the sizes, as run modes. */
    runModes: z.array(Size).min(1).max(2).optional(),
  })
  .strict();

/** What a user gives to log in to a cluster target: password and one-time code, or a private key. */
export const TargetLoginBody = z
  .object({
    username: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a cluster user name'),
    password: z.string().min(1).max(1024).optional(),
    otp: z.string().regex(/^[0-9]{6,8}$/, '6 to 8 digits').optional(),
    privateKey: z.string().min(1).max(16_384).optional(),
    passphrase: z.string().max(1024).optional(),
  })
  .strict()
  .refine((b) => b.privateKey !== undefined || b.password !== undefined, 'give a password (and one-time code) or a private key');
export type TargetLoginBody = z.infer<typeof TargetLoginBody>;

export const LogQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().positive().max(1024 * 1024).default(64 * 1024),
  serial: z.coerce.number().int().positive().optional(),
});
/** `?serial=N`: the run of the job to read (default: the current one). */
export const SerialQuery = z.object({ serial: z.coerce.number().int().positive().optional() });

/** The most jobs one page of `GET /api/jobs` holds (`limit`), and how many it holds when the request names none. */
export const JOB_PAGE_MAX = 500;
export const JOB_PAGE_DEFAULT = 100;
/** A yes/no query parameter: `1`/`true` or `0`/`false`. */
export const Flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');
/** An ISO 8601 date (`2026-12-01`) or date and time (`2026-12-01T21:00:00Z`, `...+01:00`), as ms since the epoch. */
const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'an ISO 8601 date (2026-12-01) or date and time with a zone (2026-12-01T21:00:00Z)')
  .transform((v, ctx) => {
    // Date.parse takes 2026-02-30 for March 2: check the fields themselves.
    const [y, m, d, hh = 0, mm = 0, ss = 0] = (v.match(/\d+/g) ?? []).map(Number) as number[];
    const daysInMonth = new Date(Date.UTC(y!, m!, 0)).getUTCDate();
    const ms = Date.parse(v);
    if (Number.isNaN(ms) || m! < 1 || m! > 12 || d! < 1 || d! > daysInMonth || hh > 23 || mm > 59 || ss > 59) ctx.addIssue({ code: 'custom', message: 'not a real date' });
    return ms;
  });
/** `status=running,pending` or `status=running&status=pending`: one or several statuses. */
const StatusList = z
  .union([z.string(), z.array(z.string()).max(STATUSES.length)])
  .transform((v) => [...new Set((Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s !== ''))])
  .pipe(z.array(Status).min(1, 'at least one status'));
/**
 * `GET /api/jobs`: one page of jobs, newest run first (by the time its current run was queued,
 * then job id). `cursor` is the previous page's `nextCursor` (with the same filters); `since`
 * (inclusive) and `until` (exclusive) bound that same time; `total` asks for the number of jobs
 * matching the filters (it costs a count, so only on request).
 */
export const JobListQuery = z.object({
  all: Flag.optional(),
  limit: z.coerce.number().int().min(1).max(JOB_PAGE_MAX).default(JOB_PAGE_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
  status: StatusList.optional(),
  template: z.string().min(1).max(64).optional(),
  target: z.string().min(1).max(64).optional(),
  since: IsoDate.optional(),
  until: IsoDate.optional(),
  total: Flag.optional(),
});
export type JobListQuery = z.output<typeof JobListQuery>;

/** A page of the job list: `nextCursor` when more jobs follow, `total` when asked for. */
export interface JobPage {
  jobs: JobView[];
  nextCursor?: string;
  total?: number;
}

/** The query string of a parsed JobListQuery (what the server forwards to the supervisor). */
export function jobListSearch(q: JobListQuery): string {
  const s = new URLSearchParams({ limit: String(q.limit) });
  if (q.all) s.set('all', '1');
  if (q.cursor !== undefined) s.set('cursor', q.cursor);
  if (q.status) s.set('status', q.status.join(','));
  if (q.template !== undefined) s.set('template', q.template);
  if (q.target !== undefined) s.set('target', q.target);
  if (q.since !== undefined) s.set('since', new Date(q.since).toISOString());
  if (q.until !== undefined) s.set('until', new Date(q.until).toISOString());
  if (q.total) s.set('total', '1');
  return s.toString();
}
/** The supervisor's `GET /events/backlog`: events after a journal number, for a stream that resumes. */
export const EventBacklogQuery = z.object({
  after: z.coerce.number().int().min(0),
  limit: z.coerce.number().int().positive().max(10_000).default(1000),
});

/** A relative path inside a run directory: no absolute path, no `..`, no NUL, no backslash. */
export const RunPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !p.includes('\0') && !p.includes('\\') && p.split('/').every((s) => s !== '..'), 'must be a relative path inside the run directory');

export interface RunSummary {
  serial: number;
  status: Status;
  template: string;
  /** Where the run went (a target's name) and how big it is. */
  target: string;
  size: Size;
  parameters: Record<string, unknown>;
  reason: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** When each phase of the run began (epoch ms): `preparing` (preprocess), `running` (the command), `finishing` (postprocess). */
  phaseTimes: PhaseTimes;
  /** Whose fault the run's end is: `user` or `system`; null while active and for completed runs. */
  cause: RunCause | null;
  /** What the run's files are now: kept, archived (readable from its archive), purged, missing. */
  files: 'kept' | 'archived' | 'purged' | 'missing';
  /** Bytes they took when last measured (null before). */
  bytes: number | null;
}

/** A run over the time its template expects it to stay in its state (`expectedSeconds`). */
export interface StaleFlag {
  state: 'pending' | 'running' | 'finishing';
  /** Since when the run is in that state (ms since the epoch). */
  sinceMs: number;
  expectedSeconds: number;
}

/** When each phase of a run began (epoch ms); a phase the run did not reach is absent. */
export type PhaseTimes = Partial<Record<Phase, number>>;

export interface JobView extends RunSummary {
  /** The phase of a running run (`preparing`, `running`, `finishing`); null when the run is not running. */
  phase: Phase | null;
  jobId: string;
  user: string;
  jobKey: string;
  /** The driver of the run's target (its backend's registry name). */
  driver: string;
  /** Scheduler options the run asked for (cluster targets). */
  options: RunOptions | null;
  progress: number | null;
  progressMessage: string | null;
  waitingFor: string | null;
  /** The run waits for its user to log in to its target (to be submitted, or followed again). */
  loginRequired: boolean;
  queuePosition: number | null;
  logLines: number;
  /** The run's id in its cluster's batch scheduler, once submitted. */
  externalId: string | null;
  /** What the scheduler last said of the run (cluster targets), null before it was submitted. */
  scheduler: SchedulerView | null;
  updatedAt: number;
  /** How long a client should wait before asking for this job's status again; null when it ended. */
  nextRequestMs: number | null;
  /** Set while the run is over its template's expected time in its state. */
  stale: StaleFlag | null;
  history: RunSummary[];
  /** The current run's input files: input name, file name in its `inputs/` folder, size and sha256. */
  inputs?: { name: string; fileName: string; size: number; sha256: string }[];
  /** The schedule whose firing made this job (and its name then); null for jobs run by hand. */
  scheduleId?: string | null;
  scheduleName?: string | null;
  /** The pipeline this job is a stage of (its job key is `<pipelineId>-<stage>`), if any. */
  pipelineId?: string;
}

/** A batch scheduler's word on a run: its state and reason, and its estimated start. */
export interface SchedulerView {
  /** The scheduler's name for users. */
  name: string;
  state: string;
  reason: string | null;
  estimatedStart: string | null;
  /** The scheduler could not be asked lately: the state is the last one seen. */
  unconfirmed: boolean;
}

export interface AgentView {
  agentId: string;
  user: string;
  target: string;
  /** The size it serves; null for an agent that serves every size (a cluster login's). */
  size: Size | null;
  driver: string;
  host: string;
  /** The slot pool (engine, cluster) the agent's runs take CPU slots from. */
  pool: string;
  state: string;
  since: number;
  lastHeartbeat: number | null;
  runs: number;
}

export interface SlotUsage {
  target: string;
  driver: string;
  /** The machine, engine or cluster the slots belong to. */
  pool: string;
  size: Size;
  total: number;
  used: number;
  waiting: number;
}

/** The caller's login to a target that needs one (clusters). */
export interface TargetLogin {
  loggedIn: boolean;
  /** The caller's agent there: starting, connected, disconnected, stopping. */
  state: string | null;
  since: number | null;
  /** When the login runs out (ms since the epoch). */
  expiresAt: number | null;
}

/** One option a run on a cluster target may set (partition, queue, minutes, ...), described for forms. */
export interface OptionField {
  name: string;
  label: string;
  type: 'integer' | 'string';
  hint: string;
}

/** A target as callers see it (`GET /api/targets`). */
export interface TargetView {
  name: string;
  driver: string;
  title: string;
  needsLogin: boolean;
  /** The login node, for targets reached over SSH. */
  host: string | null;
  /** The longest run of each size, in seconds. */
  maxTimeSeconds: Record<Size, number>;
  /** The options a run here may set (`options` of a run request); none for targets without a scheduler. */
  options: OptionField[];
  /** The caller's login state; null for targets that need no login. */
  login: TargetLogin | null;
}

/** `GET /api/targets/:target/status`: the target and the caller's login to it. */
export interface TargetStatus extends TargetLogin {
  target: string;
  title: string;
  driver: string;
  needsLogin: boolean;
  host: string | null;
}

/** `GET /api/targets/:target/agent-log`: the caller's agent's own log, and the scheduler commands it ran. */
export interface AgentLog {
  logTail: string;
  schedulerCommands: Record<string, number>;
}

export interface LogChunk {
  serial: number;
  offset: number;
  nextOffset: number;
  size: number;
  text: string;
}

/** Events the supervisor publishes; the server forwards each to the clients allowed to see it. */
export type JobEvent =
  | { type: 'job'; user: string; job: JobView }
  /** `logLines`: the run's lines in all after these (the view's `logLines`; absent in events journaled before it was added). */
  | { type: 'log'; user: string; jobId: string; serial: number; lines: string[]; logLines?: number }
  /**
   * A run's progress changed and nothing else its view shows did (issue 13: a job event carried the
   * whole view for every progress line): the view's `progress`, `progressMessage` and `updatedAt`.
   */
  | { type: 'progress'; user: string; jobId: string; serial: number; progress: number | null; progressMessage: string | null; updatedAt: number }
  | { type: 'deleted'; user: string; jobId: string }
  /** A pipeline changed (pipelines.ts); `pipeline` is null once it was deleted. */
  | { type: 'pipeline'; user: string; pipelineId: string; pipeline: PipelineView | null };

/** The supervisor's answer to `GET /events/backlog`: the events (JSON text each) or, when they are gone, `resync`. */
export type EventBacklog = { resync: false; events: { id: number; type: string; data: string }[]; latest: number } | { resync: true; latest: number };

/** Disk use of a user on one target (`GET /api/usage`), as the last retention sweep measured it. */
export interface TargetUsage {
  target: string;
  /** Bytes of the runs' folders and archives. */
  bytes: number;
  /** Runs whose files are kept or archived. */
  runs: number;
  archivedBytes: number;
  archivedRuns: number;
}

export interface UserUsage {
  user: string;
  bytes: number;
  runs: number;
  archivedBytes: number;
  archivedRuns: number;
  targets: TargetUsage[];
}

/** Headers the server adds to every request it forwards to the supervisor. */
export const CALLER_USER_HEADER = 'x-jobvisor-user';
export const CALLER_ROLE_HEADER = 'x-jobvisor-role';
/** Added to run requests: the caller's e-mail address and when they want to be told of a run's end (their settings). */
export const CALLER_EMAIL_HEADER = 'x-jobvisor-email';
export const CALLER_NOTIFY_HEADER = 'x-jobvisor-notify-on-end';

export const NOTIFY_ON_END = ['never', 'long', 'always'] as const;
export const NotifyOnEnd = z.enum(NOTIFY_ON_END);
export type NotifyOnEnd = z.infer<typeof NotifyOnEnd>;
/** `PUT /api/auth/me/settings`: the caller's e-mail address (null: none) and when to be e-mailed of a run's end. */
export const AccountSettingsBody = z
  .object({ email: z.email().max(254).nullable().optional(), notifyOnEnd: NotifyOnEnd.optional() })
  .strict();
export interface AccountSettings {
  email: string | null;
  notifyOnEnd: NotifyOnEnd;
}

/** `GET /api/admin/lifetimes?since=&until=` (ms since the epoch; default: the last 7 days). */
export const LifetimesQuery = z.object({
  since: z.coerce.number().int().min(0).optional(),
  until: z.coerce.number().int().min(0).optional(),
});
/** How long runs of one template on one target spent in one state, over runs that ended in the period. */
export interface LifetimeRow {
  template: string;
  target: string;
  state: 'pending' | 'running' | 'finishing';
  count: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
}

/** One completion callback: where it goes, how it fared, and each attempt. */
export interface DeliveryView {
  id: number;
  jobId: string;
  serial: number;
  url: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: { at: number; status: number | null; error: string | null }[];
  nextAt: number | null;
  createdAt: number;
}
export const DeliveriesQuery = z.object({
  jobId: Name.optional(),
  limit: z.coerce.number().int().positive().max(1000).default(100),
});
