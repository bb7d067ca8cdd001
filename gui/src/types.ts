/**
 * The shapes of the HTTP API's answers that the GUI reads (README.md, "HTTP API"). The API's
 * own types come from src/shared, declared once for server and GUI (type-only imports: no
 * server code goes into the bundle); what only the GUI needs is declared here.
 */
import type {
  AgentView,
  JobView,
  LogChunk,
  OptionField,
  RunOptions,
  RunSummary,
  SchedulerView,
  SlotUsage,
  TargetLogin,
  TargetLoginBody,
  TargetStatus,
  TargetView,
  UserUsage,
} from '../../src/shared/api.js';
import type { Role, Size, Status } from '../../src/shared/types.js';
import type { FiringView, ScheduleView } from '../../src/shared/scheduleApi.js';

export type { FiringView, ScheduleView };
/** What the schedule form sends (POST /api/schedules, PATCH /api/schedules/:id). */
export interface ScheduleInput {
  name?: string;
  template: string;
  parameters: Record<string, unknown>;
  cron?: string;
  timezone?: string;
  intervalSeconds?: number;
  startAt?: number | null;
  endAt?: number | null;
  missed?: 'skip' | 'runOnce';
}

export type { AgentView, JobView, LogChunk, OptionField, RunOptions, RunSummary, SchedulerView, SlotUsage, TargetLogin, TargetLoginBody, TargetStatus, TargetView, UserUsage, Role, Size, Status };

export const STATUSES: readonly Status[] = ['pending', 'running', 'completed', 'error', 'canceled', 'missing', 'purged'];
export const SIZES: readonly Size[] = ['sequential', 'parallel'];

export function isActive(status: Status): boolean {
  return status === 'pending' || status === 'running';
}

export interface User {
  username: string;
  role: Role;
}

export interface Account extends User {
  createdAt: number;
  /** When an admin disabled the account; null (or absent, from an older server) while enabled. */
  disabledAt?: number | null;
}

export interface FileEntry {
  path: string;
  size: number;
  mtimeMs: number;
  result: boolean;
}

export interface FileList {
  serial: number;
  files: FileEntry[];
  truncated: boolean;
  /** The files are read from the run's archive. */
  archived?: boolean;
}

export interface AnalysisAnswer<T = unknown> {
  serial: number;
  frame: string;
  index: number;
  data: T;
}

interface ParamBase {
  label: string;
  description?: string;
}
export interface NumberParam extends ParamBase {
  type: 'number' | 'integer';
  default: number;
  min?: number;
  max?: number;
  units?: string;
}
export interface StringParam extends ParamBase {
  type: 'string';
  default: string;
  pattern?: string;
  maxLength?: number;
}
export interface BooleanParam extends ParamBase {
  type: 'boolean';
  default: boolean;
}
export interface EnumParam extends ParamBase {
  type: 'enum';
  values: string[];
  default: string;
}
export type ParameterSpec = NumberParam | StringParam | BooleanParam | EnumParam;

/** A file input of a template (src/shared/template.ts InputSpec). */
export interface InputSpec {
  label: string;
  description?: string;
  maxBytes?: number;
  /** Extensions (".pdb") and media types ("chemical/x-pdb", "text/*"). */
  accept?: string[];
  required: boolean;
}

/** `POST /api/uploads`. */
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

/** A template as `GET /api/templates` gives it (src/shared/template.ts's PublicTemplate; declared here because that module reads files with node:fs). */
export interface Template {
  name: string;
  title: string;
  description: string;
  parameters: Record<string, ParameterSpec>;
  /** File inputs (absent from servers before input files). */
  inputs?: Record<string, InputSpec>;
  /** The targets it may run on (their names, in the site's order); the first is the default. */
  targets: string[];
  /** The sizes it allows; the first is the default. */
  sizes: Size[];
  resources: { cores: number };
  timeLimitSeconds: number;
  results: string[];
  analysis: Record<string, { description: string }>;
  /** Earlier runs of a job that keep their files (the template's or the site's). */
  keepRuns?: number;
}

/** `POST /api/jobs`. `options` only for targets whose TargetView lists options, and only when one is set. */
export interface RunRequest {
  template: string;
  parameters?: Record<string, unknown>;
  target?: string;
  size?: Size;
  jobKey?: string;
  options?: RunOptions;
  /** Input name → upload id. */
  inputs?: Record<string, string>;
  /** E-mail the caller when this run ends (at their settings' address). */
  notify?: { email: boolean };
}

/** One problem of an INVALID_INPUT answer (`details.issues`). */
export interface Issue {
  path: (string | number)[];
  message: string;
  code?: string;
}

/** What `GET /api/events` sends. */
export interface JobEventData {
  type: 'job';
  user: string;
  job: JobView;
}
export interface LogEventData {
  type: 'log';
  user: string;
  jobId: string;
  serial: number;
  lines: string[];
  /** The run's lines in all after these (absent in events from before it was sent). */
  logLines?: number;
}
/** A run's progress changed, and nothing else its view shows (a small event instead of the whole view). */
export interface ProgressEventData {
  type: 'progress';
  user: string;
  jobId: string;
  serial: number;
  progress: number | null;
  progressMessage: string | null;
  updatedAt: number;
}

/**
 * The view `job` with what a `log` or `progress` event of its run tells; undefined when the event
 * is about another job or run (or is older than the view).
 */
export function patchedView(job: JobView, e: LogEventData | ProgressEventData): JobView | undefined {
  if (e.jobId !== job.jobId || e.serial !== job.serial) return undefined;
  if (e.type === 'log') return e.logLines === undefined || e.logLines <= job.logLines ? undefined : { ...job, logLines: e.logLines };
  if (e.updatedAt < job.updatedAt) return undefined;
  return { ...job, progress: e.progress, progressMessage: e.progressMessage, updatedAt: e.updatedAt };
}
