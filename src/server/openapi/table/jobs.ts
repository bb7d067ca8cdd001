/** The job routes: run, batch, list, view, cancel, delete, log, analysis, files; templates; agent sessions. */
import { z } from 'zod';
import { AnalysisBody, BeginSessionBody, CancelBody, JobListQuery, LogQuery, RunBody, SerialQuery } from '../../../shared/api.js';
import { AnalysisAnswer, BatchAnswer, FilesAnswer, JobAnswer, JobsAnswer, LogChunkAnswer, SessionAnswer, TemplatesAnswer } from '../../../shared/answers/jobs.js';
import type { ErrorCode } from '../../../shared/errors.js';
import { op } from '../describe.js';

const RUN_ERRORS: ErrorCode[] = [
  'UNKNOWN_TEMPLATE', 'UNKNOWN_TARGET', 'TARGET_NOT_ALLOWED', 'SIZE_NOT_ALLOWED', 'RESOURCES_EXCEED_LIMIT', 'CALLBACK_NOT_ALLOWED', 'REQUIREMENTS_UNMET',
  'UNKNOWN_INPUT', 'INPUT_REQUIRED', 'INPUT_TYPE_REFUSED', 'UPLOAD_NOT_FOUND', 'UPLOAD_IN_USE', 'QUOTA_EXCEEDED', 'LOGIN_REQUIRED', 'JOB_ACTIVE',
];
/** Reading a run (its log, files, analysis): the job, the run of `?serial=`, and the agent that holds its files. */
const READ_ERRORS: ErrorCode[] = ['JOB_NOT_FOUND', 'RUN_NOT_FOUND', 'RUN_FILES_GONE', 'LOGIN_REQUIRED', 'AGENT_START_FAILED', 'AGENT_START_TIMEOUT', 'AGENT_LOST', 'OP_TIMEOUT'];

export const JOB_ROUTES = {
  'GET /api/templates': op({ summary: 'List the templates (kinds of job) this site offers', tags: ['templates'], answers: { 200: TemplatesAnswer } }),
  'POST /api/jobs': op({
    summary: 'Run a job',
    description:
      'Queues a run of a template and answers the job at once (status `pending`). The same `jobKey` again replaces the current run (the earlier one goes to `history`). ' +
      'Input files: either upload them first (POST /api/uploads) and name them in `inputs`, or send the request as multipart/form-data: a part `request` (this JSON) first, then one file part per input, named after it.',
    tags: ['jobs'],
    body: RunBody,
    multipart: {
      description: 'The run request and its input files in one request.',
      properties: {
        request: { type: 'string', contentMediaType: 'application/json', description: 'The run request (JSON), before the files.' },
      },
      required: ['request'],
      additionalProperties: { type: 'string', contentMediaType: 'application/octet-stream', description: 'A file part named after a template input.' },
    },
    answers: { 200: JobAnswer },
    errors: [...RUN_ERRORS, 'INVALID_MULTIPART', 'UPLOAD_TOO_LARGE', 'UPLOAD_QUOTA'],
  }),
  'POST /api/jobs/batch': op({
    summary: 'Run many jobs at once, all or nothing',
    description: 'Every entry is a run request; when one is bad nothing is queued and BATCH_INVALID names each bad entry (`details.errors: [{index, code, message}]`).',
    tags: ['jobs'],
    body: z.object({ runs: z.array(RunBody).min(1) }).strict(),
    answers: { 200: BatchAnswer },
    errors: [...RUN_ERRORS, 'BATCH_INVALID', 'BATCH_TOO_LARGE', 'DUPLICATE_JOB_KEY'],
  }),
  'GET /api/jobs': op({
    summary: "List the caller's jobs (admins: everyone's, with all=1), a page at a time, newest run first",
    description: 'Filters: status (one or several, comma-separated), template, target, since/until (ISO 8601, on the time the current run was queued). Give back nextCursor as cursor, with the same filters, for the next page.',
    tags: ['jobs'],
    query: JobListQuery,
    answers: { 200: JobsAnswer },
    errors: ['FORBIDDEN', 'BAD_CURSOR'],
  }),
  'GET /api/jobs/:jobId': op({ summary: 'A job: status, progress, what it waits for, its runs', tags: ['jobs'], answers: { 200: JobAnswer }, errors: ['JOB_NOT_FOUND'] }),
  'DELETE /api/jobs/:jobId': op({
    summary: 'Delete a job and its files (an active run is canceled first)',
    tags: ['jobs'],
    answers: { 204: null },
    errors: ['JOB_NOT_FOUND', 'JOB_ACTIVE', 'LOGIN_REQUIRED', 'AGENT_START_FAILED', 'AGENT_LOST', 'OP_TIMEOUT'],
  }),
  'POST /api/jobs/:jobId/cancel': op({
    summary: 'Cancel the current run (or the run serial, which must be the current one)',
    tags: ['jobs'],
    body: CancelBody,
    answers: { 200: JobAnswer },
    errors: ['JOB_NOT_FOUND', 'STALE_SERIAL', 'JOB_NOT_ACTIVE', 'LOGIN_REQUIRED'],
  }),
  'GET /api/jobs/:jobId/log': op({
    summary: "Read a run's log from a byte offset",
    description: 'Read on from `nextOffset`; `size` is the whole log.',
    tags: ['jobs'],
    query: LogQuery,
    answers: { 200: LogChunkAnswer },
    errors: READ_ERRORS,
  }),
  'POST /api/jobs/:jobId/analysis': op({
    summary: "Compute one of the template's analysis frames on a run's results",
    tags: ['jobs'],
    body: AnalysisBody,
    answers: { 200: AnalysisAnswer },
    errors: [...READ_ERRORS, 'UNKNOWN_FRAME', 'ANALYSIS_FAILED', 'RUN_ARCHIVED', 'QUOTA_EXCEEDED'],
  }),
  'GET /api/jobs/:jobId/files': op({ summary: "List a run's files", tags: ['files'], query: SerialQuery, answers: { 200: FilesAnswer }, errors: READ_ERRORS }),
  'GET /api/jobs/:jobId/files/*path': op({
    summary: "Download one of a run's files",
    description: 'The file itself, streamed, as an attachment; its media type by extension (`.json`, `.csv`, `.txt`, `.log`, `.png`, `.h5`), else application/octet-stream.',
    tags: ['files'],
    query: SerialQuery,
    answers: {
      200: {
        description: 'The file.',
        content: {
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
          'text/plain': { schema: { type: 'string' } },
          'text/csv': { schema: { type: 'string' } },
          'application/json': { schema: {} },
          'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
        },
        headers: {
          'Content-Disposition': { description: 'attachment; filename="<the file name>"', schema: { type: 'string' } },
          'Content-Length': { description: 'The file size in bytes.', schema: { type: 'integer' } },
        },
      },
    },
    errors: [...READ_ERRORS, 'FILE_NOT_FOUND', 'PATH_OUTSIDE_RUN_DIR'],
  }),
  'POST /api/session': op({
    summary: "Start the caller's agents on a target ahead of their runs",
    tags: ['targets'],
    body: BeginSessionBody,
    answers: { 200: SessionAnswer },
    errors: ['UNKNOWN_TARGET', 'TARGET_NOT_FOUND', 'SIZE_NOT_ALLOWED', 'LOGIN_REQUIRED'],
  }),
} as const;
