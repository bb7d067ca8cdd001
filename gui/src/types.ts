/**
 * The shapes of the HTTP API's answers that the GUI reads (README.md, "HTTP API"; the server's
 * own declarations are in src/shared/api.ts and src/shared/template.ts). Declared here again
 * so that the GUI bundle depends on the API contract only, not on server code.
 */

export type Status = 'pending' | 'running' | 'completed' | 'error' | 'canceled' | 'missing' | 'purged';
export type RunMode = 'sequential' | 'parallel' | 'sbatch';
export type Role = 'user' | 'admin';

export const STATUSES: readonly Status[] = ['pending', 'running', 'completed', 'error', 'canceled', 'missing', 'purged'];
export const RUN_MODES: readonly RunMode[] = ['sequential', 'parallel', 'sbatch'];

export function isActive(status: Status): boolean {
  return status === 'pending' || status === 'running';
}

export interface User {
  username: string;
  role: Role;
}

export interface Account extends User {
  createdAt: number;
}

export interface RunSummary {
  serial: number;
  status: Status;
  template: string;
  runMode: RunMode;
  parameters: Record<string, unknown>;
  reason: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface JobView extends RunSummary {
  jobId: string;
  user: string;
  jobKey: string;
  driver: string;
  progress: number | null;
  progressMessage: string | null;
  waitingFor: string | null;
  queuePosition: number | null;
  logLines: number;
  externalId: string | null;
  updatedAt: number;
  nextRequestMs: number | null;
  history: RunSummary[];
}

export interface AgentView {
  agentId: string;
  user: string;
  runMode: RunMode;
  driver: string;
  host: string;
  pool: string;
  state: string;
  since: number;
  lastHeartbeat: number | null;
  runs: number;
}

export interface SlotUsage {
  driver: string;
  pool: string;
  runMode: RunMode;
  total: number;
  used: number;
  waiting: number;
}

export interface LogChunk {
  serial: number;
  offset: number;
  nextOffset: number;
  size: number;
  text: string;
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

export interface Template {
  name: string;
  title: string;
  description: string;
  parameters: Record<string, ParameterSpec>;
  runModes: RunMode[];
  resources: { cores: number };
  timeLimitSeconds: number;
  results: string[];
  analysis: Record<string, { description: string }>;
}

export interface ClusterStatus {
  configured: boolean;
  host: string;
  loggedIn: boolean;
  state: string | null;
  since: number | null;
  expiresAt: number | null;
}

export interface SlurmOptions {
  partition?: string;
  qos?: string;
  account?: string;
  constraint?: string;
  nodes?: number;
  tasksPerNode?: number;
  cpusPerTask?: number;
  minutes?: number;
}

export interface RunRequest {
  template: string;
  parameters?: Record<string, unknown>;
  runMode?: RunMode;
  jobKey?: string;
  slurm?: SlurmOptions;
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
}
