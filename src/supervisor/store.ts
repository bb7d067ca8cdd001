/**
 * The job store: what the supervisor keeps of jobs, their earlier runs and the agents it
 * started. An interface, so that another database is one module beside store/sqlite.ts. Every
 * state change is written here before anyone is told about it.
 */
import type { PhaseTimes, RunOptions, RunSummary, StaleFlag } from '../shared/api.js';
import type { Phase, RunCause } from '../shared/protocol.js';
import type { RunFiles } from '../shared/retention.js';
import type { DeliveryStore } from './store/deliveries.js';
import type { JobFilter, PageQuery } from './store/jobPages.js';
import type { Size, Status } from '../shared/types.js';

/** What a batch scheduler last said of a run. */
export interface SchedulerState {
  state: string;
  reason: string | null;
  estimatedStart: string | null;
  unconfirmed: boolean;
}

/** An input file of a run: the upload it came from, and the name it has in the run's `inputs/` folder. */
export interface RunInput {
  name: string;
  uploadId: string;
  fileName: string;
  size: number;
  sha256: string;
}

export interface JobRow {
  id: string;
  user: string;
  jobKey: string;
  template: string;
  /** The target the current run goes to, its driver's kind, and the run's size. */
  target: string;
  driver: string;
  size: Size;
  serial: number;
  status: Status;
  parameters: Record<string, unknown>;
  /** Scheduler options the run asked for (cluster targets). */
  options: RunOptions | null;
  progress: number | null;
  progressMessage: string | null;
  reason: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  updatedAt: number;
  logLines: number;
  agentId: string | null;
  pid: number | null;
  /** True once the run op was handed to an agent: the cmd may exist even if no reply came. */
  sent: boolean;
  /** The run's id in its cluster's batch scheduler, once submitted. */
  externalId: string | null;
  /** For runs whose log an agent tails from a file: the byte offset delivered so far. */
  logOffset: number;
  scheduler: SchedulerState | null;
  /** The run's last phase, and when each of its phases began (steps.ts). */
  phase: Phase | null;
  phaseTimes: PhaseTimes;
  /** The current run's input files (template inputs given), staged into its run directory before it starts. */
  inputs: RunInput[];
  /** Whose fault the run's end is (null while active, and for completed runs). */
  cause: RunCause | null;
  /** Whom to e-mail when the run ends (its user's address, and when), if anyone. */
  notify: RunNotify | null;
  /** The run's own completion callback URL (besides the site's), if it asked for one. */
  callbackUrl: string | null;
  /** The run is over its template's expected time in its state (set by the stale check). */
  stale: StaleFlag | null;
  /** The run's folder as its agent sees it; null for a run of jobvisor ≤ 0.2 (the job's own folder). */
  runDir: string | null;
  /** What the run's files are now (null: kept, as in rows of earlier versions). */
  files: RunFiles | null;
  /** Bytes the run's files (or archive) took when last measured; null before. */
  bytes: number | null;
  /** The role the owner had when the run was requested (its retention policy); null before. */
  ownerRole: string | null;
  /** The schedule whose firing made the job, and its name then (schedules/); absent or null otherwise. */
  scheduleId?: string | null;
  scheduleName?: string | null;
}

/** E-mail the run's user when it ends: always, or only when it ran longer than notify.longRunSeconds. */
export interface RunNotify {
  email: string;
  when: 'always' | 'long';
}

/** A run that ended, for the lifetimes view: where it ran and its times. */
export interface EndedRunTimes {
  template: string;
  target: string;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number;
  /** When its postprocess began (the `finishing` phase), if it had one. */
  finishingAt?: number | null;
}

/** One run of a job (the current one or an earlier one), as the retention sweep and `?serial=N` reads see it. */
export interface RunRecord {
  jobId: string;
  user: string;
  serial: number;
  current: boolean;
  status: Status;
  template: string;
  target: string;
  size: Size;
  parameters: Record<string, unknown>;
  startedAt: number | null;
  endedAt: number | null;
  runDir: string | null;
  files: RunFiles | null;
  bytes: number | null;
  ownerRole: string | null;
}

/** What a run's files became: a status (purged, missing), where they are, their size. */
export interface RunFilesPatch {
  files: RunFiles;
  status?: Status;
  bytes?: number | null;
}

/** Disk use of one user on one target. */
export interface UsageRow {
  user: string;
  target: string;
  runs: number;
  bytes: number;
  archivedBytes: number;
  archivedRuns: number;
}

export interface AgentRow {
  id: string;
  tokenHash: string;
  user: string;
  target: string;
  /** The size the agent serves; null for an agent that serves every size (cluster agents). */
  size: Size | null;
  driver: string;
  host: string;
  pid: number | null;
  lastSeq: number;
  startedAt: number;
}

/** How a database of jobvisor 0.1 reads today: its run mode and driver, as a target, driver and size. */
export type LegacyPlacement = (runMode: string, driver: string) => { target: string; driver: string; size: Size };

/** One event of the journal: its number, its type and its JSON text. */
export interface JournaledEvent {
  id: number;
  type: string;
  data: string;
}

/** The numbers the journal holds: `oldest` (latest + 1 when it holds none) to `latest` (0 before the first event). */
export interface JournalRange {
  oldest: number;
  latest: number;
}

export interface JobStore {
  /** Completion callbacks and their attempts (store/deliveries.ts). */
  readonly deliveries: DeliveryStore;
  saveJob(job: JobRow): void;
  /** Saves a job (if any) and, in the same transaction, the agent's last applied update number. */
  saveJobAndSeq(job: JobRow | undefined, agentId: string, seq: number): void;
  /** Moves the job's current run into its history and saves the job's new current run. */
  archiveAndSave(previous: JobRow, next: JobRow): void;
  /**
   * Saves the new runs of a batch in one transaction (all or none): each a new job's first run,
   * or (with `previous`) an existing job's next run, its previous run moved into its history.
   */
  saveBatch(runs: { previous?: JobRow; next: JobRow }[]): void;
  getJob(id: string): JobRow | undefined;
  findJob(user: string, jobKey: string): JobRow | undefined;
  listJobs(user?: string): JobRow[];
  /** One page of the job list (store/jobPages.ts): `more` when jobs follow it. */
  pageJobs(q: PageQuery): { rows: JobRow[]; more: boolean };
  /** How many jobs match a list's filter (`total=true`). */
  countMatching(f: JobFilter): number;
  /** The query plans of a page (tests check the indexes). */
  explainPage(q: PageQuery): string[];
  /** How many jobs a user keeps. */
  countJobs(user: string): number;
  activeJobs(): JobRow[];
  history(jobId: string): RunSummary[];
  /**
   * A number that changes with every write to any job's history (a run archived, an earlier
   * run's files marked, a job deleted), so that what was built from `history` can be kept
   * until it does (jobAnswers.ts). Undefined: the store does not count them; keep nothing.
   */
  readonly runsVersion?: number;
  /** An earlier run of a job (in its history). */
  getRun(jobId: string, serial: number): RunRecord | undefined;
  /** Every run (current and earlier) that has ended and whose files are kept or archived. */
  endedRuns(): RunRecord[];
  /** The same, a page of jobs at a time (store/endedRuns.ts): the runs of up to `jobs` jobs whose ids follow `after` ('' first), and the page's last job id; undefined past the last. */
  endedRunsPage(after: string, jobs: number): { runs: RunRecord[]; last: string } | undefined;
  /** Records what an earlier run's files became (the current run's are saved with its row). */
  saveRunFiles(jobId: string, serial: number, patch: RunFilesPatch): void;
  /** Disk use per user and target, as last measured (of one user, or of all). */
  usage(user?: string): UsageRow[];
  saveAgent(agent: AgentRow): void;
  getAgent(id: string): AgentRow | undefined;
  listAgentIds(): string[];
  deleteAgent(id: string): void;
  /** Every run (current and earlier) that ended in [since, until). */
  endedRunTimes(since: number, until: number): EndedRunTimes[];
  /** Removes a job and its earlier runs for good. */
  deleteJob(id: string): void;
  /**
   * The event journal: every published event gets the next number (never reused, also across
   * restarts), and the latest `keep` (or a few more) are kept for clients that resume a stream.
   */
  /**
   * Writes events numbered by the caller (each one more than the last written: the bus numbers
   * them as it publishes), all in one transaction.
   */
  appendEvents(events: readonly JournaledEvent[], keep: number): void;
  /** Up to `limit` events numbered after `id`, in order. */
  eventsAfter(id: number, limit: number): JournaledEvent[];
  eventRange(): JournalRange;
  /** Current runs (each job's latest) counted by status, target and template (metrics). */
  countRuns(): RunCount[];
  /** Reads the database once (readiness): throws when it cannot. */
  ping(): void;
  close(): void;
}

export interface RunCount {
  status: Status;
  target: string;
  template: string;
  n: number;
}
