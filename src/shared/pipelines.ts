/**
 * Pipelines: a job made of stages, each an ordinary template run, in a graph (a DAG). A stage
 * starts once every stage it depends on (`after`, and the stages its `inputs` and
 * `parameterFrom` read from) has completed; named output files of those stages become its
 * input files or parameters. Declared once here for the server, the supervisor and the GUI.
 */
import { z } from 'zod';
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

export const isActivePipeline = (s: PipelineState): boolean => s === 'running';
export const isEndedStage = (s: StageState): boolean => s === 'completed' || s === 'failed' || s === 'canceled' || s === 'blocked';
