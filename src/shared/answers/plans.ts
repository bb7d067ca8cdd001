/**
 * Answer schemas of schedules (scheduleApi.ts), pipelines (pipelines.ts) and enrolled workers
 * (workersApi.ts), each checked against its interface at compile time.
 */
import { z } from 'zod';
import { RunOptions } from '../api.js';
import { PIPELINE_STATES, STAGE_STATES, type PipelineView, type StageView } from '../pipelines.js';
import { MissedPolicy, type FiringView, type ScheduleView } from '../scheduleApi.js';
import type { EnrollmentView, WorkerView } from '../workersApi.js';
import { Size, Status } from '../types.js';
import type { Same } from './same.js';

const Ms = z.number().describe('ms since the epoch');
const Labels = z.record(z.string(), z.string());

export const ScheduleViewAnswer = z
  .object({
    scheduleId: z.string(),
    user: z.string(),
    name: z.string(),
    template: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    target: z.string().nullable(),
    size: Size.nullable(),
    options: RunOptions.nullable(),
    callbackUrl: z.string().nullable(),
    cron: z.string().nullable(),
    timezone: z.string(),
    intervalSeconds: z.number().int().nullable(),
    startAt: Ms.nullable(),
    endAt: Ms.nullable(),
    missed: MissedPolicy,
    state: z.enum(['active', 'paused', 'ended']),
    nextFirings: z.array(Ms).describe('the next (up to 5) firing times; none while paused or ended'),
    lastFireTime: Ms.nullable(),
    lastFiredAt: Ms.nullable(),
    lastJobId: z.string().nullable(),
    lastError: z.string().nullable(),
    skipped: z.number().int(),
    createdAt: Ms,
    updatedAt: Ms,
  })
  .strict()
  .meta({ id: 'Schedule', description: 'A schedule: a run request fired at the times of a cron expression or every `intervalSeconds`.' });
export const ScheduleAnswer = z.object({ schedule: ScheduleViewAnswer }).strict();
export const SchedulesAnswer = z.object({ schedules: z.array(ScheduleViewAnswer) }).strict();
export const FiringViewAnswer = z
  .object({ fireTime: Ms, firedAt: Ms, jobId: z.string().nullable(), jobKey: z.string(), error: z.string().nullable(), kind: z.enum(['onTime', 'missed']) })
  .strict();
export const FiringsAnswer = z.object({ firings: z.array(FiringViewAnswer) }).strict();

export const StageViewAnswer = z
  .object({
    name: z.string(),
    template: z.string(),
    dependsOn: z.array(z.string()),
    state: z.enum(STAGE_STATES),
    reason: z.string().nullable(),
    jobId: z.string().nullable(),
    serial: z.number().int().nullable(),
    jobStatus: Status.nullable(),
    progress: z.number().nullable(),
    progressMessage: z.string().nullable(),
    queuedAt: Ms.nullable(),
    startedAt: Ms.nullable(),
    endedAt: Ms.nullable(),
    attempts: z.number().int(),
  })
  .strict();
export const PipelineViewAnswer = z
  .object({
    pipelineId: z.string(),
    name: z.string(),
    user: z.string(),
    state: z.enum(PIPELINE_STATES),
    reason: z.string().nullable(),
    createdAt: Ms,
    updatedAt: Ms,
    endedAt: Ms.nullable(),
    stages: z.array(StageViewAnswer),
    progress: z.number().describe('completed stages out of all (0 to 1)'),
  })
  .strict()
  .meta({ id: 'Pipeline', description: 'A pipeline: stages (template runs) in a graph, each started once those it depends on completed.' });
export const PipelineAnswer = z.object({ pipeline: PipelineViewAnswer }).strict();
export const PipelinesAnswer = z
  .object({
    pipelines: z.array(PipelineViewAnswer),
    nextCursor: z.string().optional().describe('where the next page starts (give it back as cursor, with the same filters); absent on the last page'),
    total: z.number().int().optional().describe('how many pipelines match the filters (with total=true)'),
  })
  .strict();

export const EnrollmentViewAnswer = z
  .object({
    id: z.string(),
    name: z.string(),
    target: z.string(),
    labels: Labels.nullable(),
    users: z.array(z.string()).nullable(),
    createdAt: Ms,
    createdBy: z.string(),
    expiresAt: Ms.nullable(),
    revokedAt: Ms.nullable(),
    connectedWorkers: z.number().int(),
  })
  .strict()
  .meta({ id: 'Enrollment' });
const AgentUrl = z.string().nullable().describe("the supervisor's agent URL workers connect to (`--enroll`), null when the supervisor has none to give");
export const CreatedEnrollmentAnswer = z.object({ enrollment: EnrollmentViewAnswer, token: z.string().describe('shown this once; workers join with it'), agentUrl: AgentUrl }).strict();
export const EnrollmentsAnswer = z.object({ enrollments: z.array(EnrollmentViewAnswer), agentUrl: AgentUrl }).strict();
export const RevokedEnrollmentAnswer = z.object({ enrollment: EnrollmentViewAnswer, disconnected: z.number().int().describe('workers of it that were disconnected') }).strict();
export const WorkerViewAnswer = z
  .object({
    id: z.string(),
    name: z.string(),
    target: z.string(),
    enrollment: z.string(),
    host: z.string(),
    labels: Labels,
    slots: z.object({ used: z.number().int(), total: z.number().int() }).strict(),
    free: z.object({ cores: z.number(), memoryMb: z.number() }).strict().nullable(),
    runs: z.array(z.string()),
    connected: z.boolean(),
    lastHeartbeat: Ms.nullable(),
    stale: z.boolean(),
    enrollmentId: z.string().describe('the id of its enrollment token'),
    revoked: z.boolean().describe('its token was revoked: the worker is refused for good'),
  })
  .strict();
export const WorkersAnswer = z.object({ workers: z.array(WorkerViewAnswer) }).strict();

const _schedule: Same<z.infer<typeof ScheduleViewAnswer>, ScheduleView> = true;
const _firing: Same<z.infer<typeof FiringViewAnswer>, FiringView> = true;
const _stage: Same<z.infer<typeof StageViewAnswer>, StageView> = true;
const _pipeline: Same<z.infer<typeof PipelineViewAnswer>, PipelineView> = true;
const _enrollment: Same<z.infer<typeof EnrollmentViewAnswer>, EnrollmentView> = true;
const _worker: Same<z.infer<typeof WorkerViewAnswer>, WorkerView> = true;
