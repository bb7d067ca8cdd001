/**
 * The shapes of the HTTP API's answers that the GUI reads (README.md, "HTTP API"). The API's
 * own types come from src/shared, declared once for server and GUI (type-only imports: no
 * server code goes into the bundle); what only the GUI needs is declared here.
 */
import type { AgentView, ClusterStatus, JobView, LogChunk, RunSummary, SlotUsage } from '../../src/shared/api.js';
import type { SlurmOptions } from '../../src/shared/sbatchConfig.js';
import type { Role, RunMode, Status } from '../../src/shared/types.js';

export type { AgentView, ClusterStatus, JobView, LogChunk, RunSummary, SlotUsage, SlurmOptions, Role, RunMode, Status };

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
