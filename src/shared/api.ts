/**
 * HTTP bodies and answers of the public API (server) and of the supervisor's internal API,
 * declared once. The server validates a body with these schemas, then forwards it unchanged.
 */
import { z } from 'zod';
import { SlurmOptions } from './sbatchConfig.js';
import { Name, Role, RunMode, Status } from './types.js';

export const LoginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
export const CreateUserBody = z.object({ username: Name, password: z.string().min(8).max(1024), role: Role.default('user') }).strict();

export const RunBody = z.object({
  template: z.string().min(1).max(64),
  parameters: z.record(z.string(), z.unknown()).default({}),
  runMode: RunMode.optional(),
  jobKey: Name.optional(),
  /** For sbatch runs: Slurm options within the site's limits. */
  slurm: SlurmOptions.optional(),
}).strict();
export type RunBody = z.infer<typeof RunBody>;

export const CancelBody = z.object({ serial: z.number().int().positive().optional() }).strict();
export const AnalysisBody = z.object({
  frame: z.string().min(1).max(64),
  index: z.number().int().min(0).max(1_000_000).default(0),
  serial: z.number().int().positive().optional(),
}).strict();
export const BeginSessionBody = z.object({ runModes: z.array(RunMode).min(1).optional() }).strict();

export const LogQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().positive().max(1024 * 1024).default(64 * 1024),
  serial: z.coerce.number().int().positive().optional(),
});
export const JobsQuery = z.object({ all: z.enum(['0', '1', 'true', 'false']).optional() });

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
  /** The run's id in the cluster's scheduler (the Slurm job id), once submitted. */
  externalId: string | null;
  updatedAt: number;
  /** How long a client should wait before asking for this job's status again; null when it ended. */
  nextRequestMs: number | null;
  history: RunSummary[];
}

export interface AgentView {
  agentId: string;
  user: string;
  runMode: RunMode;
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
  driver: string;
  /** The machine, engine or cluster the slots belong to. */
  pool: string;
  runMode: RunMode;
  total: number;
  used: number;
  waiting: number;
}

/** Whether the caller is logged in to the cluster (sbatch driver). */
export interface ClusterStatus {
  configured: boolean;
  host: string;
  loggedIn: boolean;
  state: string | null;
  since: number | null;
  expiresAt: number | null;
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
  | { type: 'log'; user: string; jobId: string; serial: number; lines: string[] };

/** Headers the server adds to every request it forwards to the supervisor. */
export const CALLER_USER_HEADER = 'x-jobvisor-user';
export const CALLER_ROLE_HEADER = 'x-jobvisor-role';
