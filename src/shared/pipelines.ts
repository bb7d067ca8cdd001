/**
 * Pipelines: a job made of stages, each an ordinary template run, in a graph (a DAG). A stage
 * starts once every stage it depends on (`after`, and the stages its `inputs` and
 * `parameterFrom` read from) has completed; named output files of those stages become its
 * input files or parameters. Declared once here for the server, the supervisor and the GUI.
 */
import { z } from 'zod';
import { Flag } from './api.js';
import { Name, Size, type Status } from './types.js';

export const STAGE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
export const StageName = z.string().regex(STAGE_NAME, 'a stage name: a letter, then letters, digits, "_" or "-", at most 40');
/** A path inside the upstream stage's run folder (relative, no `..`). */
const RunFile = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.' || s === '') && !p.includes('\0'), 'a relative path inside the run folder');
/** A JSON pointer (RFC 6901): "" (the whole document) or "/a/b". */
export const JsonPointer = z.string().max(1024).regex(/^(\/([^~/]|~[01])*)*$/, 'a JSON pointer such as "/a/b"');

export const StageSpec = z
  .object({
    template: z.string().min(1).max(64),
    target: Name.optional(),
    size: Size.optional(),
    parameters: z.record(z.string(), z.unknown()).default({}),
    after: z.array(StageName).max(100).default([]),
    inputs: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.object({ from: StageName, file: RunFile }).strict()).default({}),
    parameterFrom: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.object({ from: StageName, file: RunFile, pointer: JsonPointer }).strict()).default({}),
  })
  .strict();
export type StageSpec = z.infer<typeof StageSpec>;

export const PipelineBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    stages: z.record(StageName, StageSpec),
  })
  .strict();
export type PipelineBody = z.infer<typeof PipelineBody>;

/** A stage's state: waiting for its upstream stages, starting (its inputs are read), running (its job is queued or running), or ended. */
export const STAGE_STATES = ['waiting', 'starting', 'running', 'completed', 'failed', 'canceled', 'blocked'] as const;
export type StageState = (typeof STAGE_STATES)[number];
export const PIPELINE_STATES = ['running', 'completed', 'failed', 'canceled'] as const;
export type PipelineState = (typeof PIPELINE_STATES)[number];

export interface StageView {
  name: string;
  template: string;
  /** The stages it waits for (its `after` and those its inputs and parameters come from). */
  dependsOn: string[];
  state: StageState;
  /** Why it failed, was canceled or is blocked (`stage b failed: ...`). */
  reason: string | null;
  /** Its job (key `<pipelineId>-<stage>`) and the serial of its latest run, once it started. */
  jobId: string | null;
  serial: number | null;
  /** The status of its job's current run, its progress, and the run's times (ms since the epoch). */
  jobStatus: Status | null;
  progress: number | null;
  progressMessage: string | null;
  queuedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  /** How many times it was started (resume starts it again). */
  attempts: number;
}

export interface PipelineView {
  pipelineId: string;
  name: string;
  user: string;
  state: PipelineState;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  /** The stages in an order where each comes after those it depends on. */
  stages: StageView[];
  /** Completed stages out of all. */
  progress: number;
}

/** The most pipelines one page of `GET /api/pipelines` holds (`limit`), and how many it holds when the request names none. */
export const PIPELINE_PAGE_MAX = 500;
export const PIPELINE_PAGE_DEFAULT = 100;

/** `state=running,failed` or `state=running&state=failed`: one or several pipeline states. */
const PipelineStateList = z
  .union([z.string(), z.array(z.string()).max(PIPELINE_STATES.length)])
  .transform((v) => [...new Set((Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s !== ''))])
  .pipe(z.array(z.enum(PIPELINE_STATES)).min(1, 'at least one state'));

/**
 * `GET /api/pipelines`: one page of pipelines, newest first (by creation time, then id).
 * `cursor` is the previous page's `nextCursor` (with the same filters); `total` asks for the
 * number of pipelines matching the filters (a count, so only on request).
 */
export const PipelineListQuery = z.object({
  all: Flag.optional(),
  limit: z.coerce.number().int().min(1).max(PIPELINE_PAGE_MAX).default(PIPELINE_PAGE_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
  state: PipelineStateList.optional(),
  total: Flag.optional(),
});
export type PipelineListQuery = z.output<typeof PipelineListQuery>;

/** The query string of a parsed PipelineListQuery (what the server forwards to the supervisor). */
export function pipelineListSearch(q: PipelineListQuery): string {
  const s = new URLSearchParams({ limit: String(q.limit) });
  if (q.all) s.set('all', '1');
  if (q.cursor !== undefined) s.set('cursor', q.cursor);
  if (q.state) s.set('state', q.state.join(','));
  if (q.total) s.set('total', '1');
  return s.toString();
}

/** A page of the pipeline list: `nextCursor` when more follow, `total` when asked for. */
export interface PipelinePage {
  pipelines: PipelineView[];
  nextCursor?: string;
  total?: number;
}

export const isActivePipeline = (s: PipelineState): boolean => s === 'running';
export const isEndedStage = (s: StageState): boolean => s === 'completed' || s === 'failed' || s === 'canceled' || s === 'blocked';
