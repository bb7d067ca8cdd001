/** The event stream (Server-Sent Events) and this API's own description: the OpenAPI document and its reference page. */
import { z } from 'zod';
import { op } from '../describe.js';

const EVENTS_DESCRIPTION = [
  'Server-Sent Events (`text/event-stream`, e.g. the browser\'s EventSource): changes to the caller\'s jobs and pipelines (admins: everyone\'s). It carries changes only: fetch `GET /api/jobs` for the state, and again on `resync`.',
  '',
  'Events (`event:` name, `data:` JSON, `id:` journal number):',
  '- `hello` `{user: {username, role}}` first;',
  '- `job` `{type, user, job: JobView}` a job changed;',
  '- `log` `{type, user, jobId, serial, lines: string[], logLines}` new log lines (`logLines`: the run\'s lines in all);',
  '- `progress` `{type, user, jobId, serial, progress, progressMessage, updatedAt}` the run\'s progress changed (and nothing else of its view);',
  '- `deleted` `{type, user, jobId}`;',
  '- `pipeline` `{type, user, pipelineId, pipeline: Pipeline | null}`;',
  '- `resync` `{}` events were missed and cannot be had again: refetch;',
  '- `end` `{reason}` the stream ends (logout, token expired);',
  'and `:` comment lines as keepalive. Reconnect with `Last-Event-ID` (EventSource does it by itself) or `?lastEventId=` to get the events missed meanwhile.',
].join('\n');

export const STREAM_ROUTES = {
  'GET /api/events': op({
    summary: 'Live events of jobs and pipelines (Server-Sent Events)',
    description: EVENTS_DESCRIPTION,
    tags: ['events'],
    query: z.object({ lastEventId: z.string().optional().describe('as the `Last-Event-ID` header, for clients that cannot set headers') }),
    headers: { 'Last-Event-ID': { description: 'The `id` of the last event received: the stream starts with the events after it.', schema: { type: 'string', pattern: '^[0-9]+$' } } },
    answers: { 200: { description: 'An event stream that stays open.', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
    errors: ['QUOTA_EXCEEDED'],
    local: true,
  }),
  'GET /api/openapi.json': op({
    summary: 'This document: the OpenAPI 3.1 description of the API',
    tags: ['docs'],
    answers: { 200: { description: 'The OpenAPI document.', schema: z.record(z.string(), z.unknown()) } },
    local: true,
  }),
  'GET /api/docs': op({
    summary: 'The API reference page (swagger-ui, served from this server: works offline)',
    tags: ['docs'],
    answers: { 200: { description: 'An HTML page.', content: { 'text/html': { schema: { type: 'string' } } } } },
    local: true,
  }),
  'GET /api/docs/:asset': op({
    summary: 'A script, style sheet or icon of the reference page',
    tags: ['docs'],
    answers: {
      200: {
        description: 'The file.',
        content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } }, 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } },
      },
    },
    errors: ['ROUTE_NOT_FOUND'],
    local: true,
  }),
} as const;
