/**
 * Answer schemas of the job routes (`/api/jobs...`, `/api/templates`, `/api/session`), next to
 * the interfaces in src/shared/api.ts they describe; each is checked against its interface at
 * compile time (`Same`), so the OpenAPI document cannot drift from what the code builds.
 */
import { z } from 'zod';
import type { BatchJob, JobView, LogChunk, RunSummary, SchedulerView, StaleFlag } from '../api.js';
import { RunOptions } from '../api.js';
import { Phase, RunCause } from '../protocol.js';
import { ParameterSpec, InputSpec, type PublicTemplate } from '../template.js';
import { Size, Status } from '../types.js';
import type { Same } from './same.js';

const Ms = z.number().describe('ms since the epoch');
const nullable = <T extends z.ZodType>(t: T) => t.nullable();

export const PhaseTimesAnswer = z.object({ preparing: Ms.optional(), running: Ms.optional(), finishing: Ms.optional() }).strict();

const runSummaryFields = {
  serial: z.number().int(),
  status: Status,
  template: z.string(),
  target: z.string(),
  size: Size,
  parameters: z.record(z.string(), z.unknown()),
  reason: nullable(z.string()),
  queuedAt: Ms,
  startedAt: nullable(Ms),
  endedAt: nullable(Ms),
  phaseTimes: PhaseTimesAnswer,
  cause: nullable(RunCause),
  files: z.enum(['kept', 'archived', 'purged', 'missing']),
  bytes: nullable(z.number()),
};
export const RunSummaryAnswer = z.object(runSummaryFields).strict().meta({ id: 'RunSummary', description: 'One run of a job (the current one, or one of its history).' });

export const SchedulerViewAnswer = z
  .object({ name: z.string(), state: z.string(), reason: nullable(z.string()), estimatedStart: nullable(z.string()), unconfirmed: z.boolean() })
  .strict()
  .meta({ id: 'SchedulerView', description: "A batch scheduler's word on a run (cluster targets)." });

export const StaleFlagAnswer = z.object({ state: z.enum(['pending', 'running', 'finishing']), sinceMs: Ms, expectedSeconds: z.number() }).strict();

export const JobViewAnswer = z
  .object({
    ...runSummaryFields,
    phase: nullable(Phase),
    jobId: z.string(),
    user: z.string(),
    jobKey: z.string(),
    driver: z.string(),
    options: nullable(RunOptions),
    progress: nullable(z.number()),
    progressMessage: nullable(z.string()),
    waitingFor: nullable(z.string()).describe('What an active run waits for, e.g. "a CPU slot", "queued" (in its scheduler).'),
    loginRequired: z.boolean(),
    queuePosition: nullable(z.number().int()),
    logLines: z.number().int(),
    externalId: nullable(z.string()),
    scheduler: nullable(SchedulerViewAnswer),
    updatedAt: Ms,
    nextRequestMs: nullable(z.number()),
    stale: nullable(StaleFlagAnswer),
    history: z.array(RunSummaryAnswer),
    inputs: z.array(z.object({ name: z.string(), fileName: z.string(), size: z.number(), sha256: z.string() }).strict()).optional(),
    scheduleId: nullable(z.string()).optional(),
    scheduleName: nullable(z.string()).optional(),
    pipelineId: z.string().optional(),
  })
  .strict()
  .meta({ id: 'JobView', description: 'A job: its current run, with status, progress and where it waits, and its earlier runs.' });

export const JobAnswer = z.object({ job: JobViewAnswer }).strict();
export const JobsAnswer = z
  .object({
    jobs: z.array(JobViewAnswer),
    nextCursor: z.string().optional().describe('where the next page starts (give it back as cursor, with the same filters); absent on the last page'),
    total: z.number().int().optional().describe('how many jobs match the filters (with total=true)'),
  })
  .strict();
export const BatchAnswer = z.object({ jobs: z.array(z.object({ index: z.number().int(), jobId: z.string(), jobKey: z.string(), serial: z.number().int() }).strict()) }).strict();

export const LogChunkAnswer = z
  .object({ serial: z.number().int(), offset: z.number().int(), nextOffset: z.number().int(), size: z.number().int().describe('bytes of the whole log'), text: z.string() })
  .strict();

export const FilesAnswer = z
  .object({
    serial: z.number().int(),
    files: z.array(z.object({ path: z.string(), size: z.number(), mtimeMs: z.number(), result: z.boolean().describe("matches one of the template's `results`") }).strict()),
    truncated: z.boolean(),
    archived: z.boolean(),
  })
  .strict();

export const AnalysisAnswer = z
  .object({ serial: z.number().int(), frame: z.string(), index: z.number().int(), data: z.unknown().describe("what the template's analysis command printed (JSON)") })
  .strict();

export const SessionAnswer = z
  .object({ agents: z.array(z.object({ target: z.string(), size: Size, state: z.string(), error: z.string().optional() }).strict()) })
  .strict();

/** What clients see of a template (shared/template.ts publicTemplate). */
export const TemplateAnswer = z
  .object({
    name: z.string(),
    title: z.string(),
    description: z.string(),
    parameters: z.record(z.string(), ParameterSpec),
    inputs: z.record(z.string(), InputSpec),
    targets: z.array(z.string()),
    sizes: z.array(Size),
    resources: z.object({ cores: z.number().int(), memoryMb: z.number().int().optional() }).strict(),
    requires: z.record(z.string(), z.string()),
    timeLimitSeconds: z.number(),
    results: z.array(z.string()),
    keepRuns: nullable(z.number().int()),
    analysis: z.record(z.string(), z.object({ description: z.string() }).strict()),
  })
  .strict()
  .meta({ id: 'Template', description: 'A kind of job this site offers: its parameters, input files, where it may run.' });
export const TemplatesAnswer = z.object({ templates: z.array(TemplateAnswer) }).strict();

const _runSummary: Same<z.infer<typeof RunSummaryAnswer>, RunSummary> = true;
const _scheduler: Same<z.infer<typeof SchedulerViewAnswer>, SchedulerView> = true;
const _stale: Same<z.infer<typeof StaleFlagAnswer>, StaleFlag> = true;
const _jobView: Same<z.infer<typeof JobViewAnswer>, JobView> = true;
const _batchJob: Same<z.infer<typeof BatchAnswer>['jobs'][number], BatchJob> = true;
const _logChunk: Same<z.infer<typeof LogChunkAnswer>, LogChunk> = true;
const _template: Same<z.infer<typeof TemplateAnswer>, PublicTemplate> = true;
