/** Schedules, pipelines, enrolled workers (admins). */
import {
  CreatedEnrollmentAnswer, EnrollmentsAnswer, FiringsAnswer, PipelineAnswer, PipelinesAnswer, RevokedEnrollmentAnswer, ScheduleAnswer, SchedulesAnswer, WorkersAnswer,
} from '../../../shared/answers/plans.js';
import { PipelineBody, PipelineListQuery } from '../../../shared/pipelines.js';
import { FiringsQuery, ScheduleBody, SchedulePatch, SchedulesQuery } from '../../../shared/scheduleApi.js';
import { EnrollmentBody } from '../../../shared/workersApi.js';
import { op } from '../describe.js';

const SCHEDULE_RUN_ERRORS = ['INVALID_SCHEDULE', 'UNKNOWN_TEMPLATE', 'UNKNOWN_TARGET', 'TARGET_NOT_ALLOWED', 'SIZE_NOT_ALLOWED', 'RESOURCES_EXCEED_LIMIT', 'CALLBACK_NOT_ALLOWED', 'SCHEDULE_EXISTS'] as const;

export const PLAN_ROUTES = {
  'POST /api/schedules': op({
    summary: 'Create a schedule: a run request fired by a cron expression (in a time zone) or every intervalSeconds',
    tags: ['schedules'],
    body: ScheduleBody,
    answers: { 201: ScheduleAnswer },
    errors: [...SCHEDULE_RUN_ERRORS, 'SCHEDULE_LIMIT'],
  }),
  'GET /api/schedules': op({ summary: "List the caller's schedules (admins: everyone's, with all=1)", tags: ['schedules'], query: SchedulesQuery, answers: { 200: SchedulesAnswer }, errors: ['FORBIDDEN'] }),
  'GET /api/schedules/:scheduleId': op({ summary: 'A schedule, with its next firing times', tags: ['schedules'], answers: { 200: ScheduleAnswer }, errors: ['SCHEDULE_NOT_FOUND'] }),
  'GET /api/schedules/:scheduleId/firings': op({ summary: "A schedule's recent firings and the jobs they ran", tags: ['schedules'], query: FiringsQuery, answers: { 200: FiringsAnswer }, errors: ['SCHEDULE_NOT_FOUND'] }),
  'PATCH /api/schedules/:scheduleId': op({ summary: 'Change a schedule', tags: ['schedules'], body: SchedulePatch, answers: { 200: ScheduleAnswer }, errors: ['SCHEDULE_NOT_FOUND', ...SCHEDULE_RUN_ERRORS] }),
  'POST /api/schedules/:scheduleId/pause': op({ summary: 'Pause a schedule', tags: ['schedules'], answers: { 200: ScheduleAnswer }, errors: ['SCHEDULE_NOT_FOUND'] }),
  'POST /api/schedules/:scheduleId/resume': op({ summary: 'Resume a paused schedule', tags: ['schedules'], answers: { 200: ScheduleAnswer }, errors: ['SCHEDULE_NOT_FOUND'] }),
  'DELETE /api/schedules/:scheduleId': op({ summary: 'Delete a schedule (the jobs it ran stay)', tags: ['schedules'], answers: { 204: null }, errors: ['SCHEDULE_NOT_FOUND'] }),
  'POST /api/pipelines': op({
    summary: 'Create a pipeline: stages (template runs) in a graph; named outputs of a stage become inputs or parameters of the next',
    tags: ['pipelines'],
    body: PipelineBody,
    answers: { 201: PipelineAnswer },
    errors: ['PIPELINE_CYCLE', 'PIPELINE_UNKNOWN_STAGE', 'UNKNOWN_TEMPLATE', 'UNKNOWN_TARGET', 'TARGET_NOT_ALLOWED', 'SIZE_NOT_ALLOWED', 'UNKNOWN_INPUT', 'INPUT_REQUIRED'],
  }),
  'GET /api/pipelines': op({
    summary: "List the caller's pipelines (admins: everyone's, with all=1), a page at a time, newest first",
    description: 'Filter: state (one or several, comma-separated). Give back nextCursor as cursor, with the same filters, for the next page.',
    tags: ['pipelines'],
    query: PipelineListQuery,
    answers: { 200: PipelinesAnswer },
    errors: ['FORBIDDEN', 'BAD_CURSOR'],
  }),
  'GET /api/pipelines/:pipelineId': op({ summary: 'A pipeline and the state of each stage', tags: ['pipelines'], answers: { 200: PipelineAnswer }, errors: ['PIPELINE_NOT_FOUND'] }),
  'POST /api/pipelines/:pipelineId/cancel': op({ summary: 'Cancel a running pipeline and its running stages', tags: ['pipelines'], answers: { 200: PipelineAnswer }, errors: ['PIPELINE_NOT_FOUND', 'PIPELINE_NOT_ACTIVE'] }),
  'POST /api/pipelines/:pipelineId/resume': op({ summary: 'Start the failed, canceled and blocked stages of an ended pipeline again', tags: ['pipelines'], answers: { 200: PipelineAnswer }, errors: ['PIPELINE_NOT_FOUND', 'PIPELINE_NOT_RESUMABLE'] }),
  'DELETE /api/pipelines/:pipelineId': op({ summary: 'Delete an ended pipeline', tags: ['pipelines'], answers: { 204: null }, errors: ['PIPELINE_NOT_FOUND', 'PIPELINE_NOT_ACTIVE', 'JOB_ACTIVE'] }),
  'POST /api/admin/enrollments': op({
    summary: 'Create an enrollment token for workers of a workers target (the token is shown once)',
    tags: ['workers'],
    body: EnrollmentBody,
    answers: { 201: CreatedEnrollmentAnswer },
    errors: ['UNKNOWN_TARGET', 'TARGET_NOT_FOUND'],
  }),
  'GET /api/admin/enrollments': op({ summary: 'List the enrollment tokens', tags: ['workers'], answers: { 200: EnrollmentsAnswer } }),
  'DELETE /api/admin/enrollments/:enrollmentId': op({ summary: 'Revoke an enrollment token and disconnect its workers', tags: ['workers'], answers: { 200: RevokedEnrollmentAnswer }, errors: ['ENROLLMENT_NOT_FOUND'] }),
  'GET /api/admin/workers': op({ summary: 'List the enrolled workers: labels, slots, runs, heartbeat', tags: ['workers'], answers: { 200: WorkersAnswer } }),
} as const;
