/**
 * How a route of the public API is described for the OpenAPI document (document.ts): one entry
 * per route of the router, keyed like src/server/access.ts (`"METHOD /api/path"`, Koa's
 * `:param` and `*path`). Describing a new route is a few lines:
 *
 *     'POST /api/things/:thingId/frob': op({
 *       summary: 'Frob a thing', tags: ['things'],
 *       body: FrobBody,                       // zod schema the route validates with
 *       answers: { 200: ThingAnswer },        // zod answer schema per status (null: no content)
 *       errors: ['THING_NOT_FOUND'],          // codes of src/shared/errors.ts it may answer
 *     }),
 *
 * Path parameters come from the path (described in PATH_PARAMS); who may call it comes from
 * access.ts; the errors every route (or every route with a body, a login, a supervisor behind
 * it) may give are added by the builder.
 */
import type { z } from 'zod';
import type { ErrorCode } from '../../shared/errors.js';

/** A JSON Schema object (draft 2020-12, as OpenAPI 3.1 uses). */
export type JsonSchema = Record<string, unknown>;

/** An answer that is not JSON: an event stream, a file download. */
export interface RawAnswer {
  description: string;
  /** media type → schema of the content (a file: `{type: 'string', contentMediaType: ...}`). */
  content: Record<string, { schema: JsonSchema }>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

/** A JSON answer with its own description. */
export interface JsonAnswer {
  description: string;
  schema: z.ZodType;
}

/** `null`: no content (204). */
export type Answer = z.ZodType | JsonAnswer | RawAnswer | null;

/** A multipart/form-data body: its parts (JSON Schema per part) and which are required. */
export interface MultipartBody {
  multipart: { description: string; properties: Record<string, JsonSchema>; required?: string[]; additionalProperties?: JsonSchema };
}

export interface RouteDoc {
  summary: string;
  description?: string;
  tags: string[];
  /** Default: derived from method and path (`getJobsJobIdFiles`). */
  operationId?: string;
  /** The zod schema of the query (`?a=...`), each property a parameter. */
  query?: z.ZodObject;
  /** A JSON body's zod schema, and/or a multipart body. */
  body?: z.ZodType;
  multipart?: MultipartBody['multipart'];
  /** Headers a caller may send (e.g. `Last-Event-ID`). */
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  answers: Record<number, Answer>;
  /** Error codes this route gives beyond those of every route like it (added by the builder). */
  errors?: ErrorCode[];
  /** The server answers it itself, without the supervisor (no SUPERVISOR_UNAVAILABLE). */
  local?: boolean;
}

/** Identity, for type checking of the table entries. */
export const op = (doc: RouteDoc): RouteDoc => doc;

/** Path parameters by name: their schema and description. */
export const PATH_PARAMS: Record<string, { description: string; schema: JsonSchema }> = {
  jobId: { description: 'A job id (GET /api/jobs lists them).', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } },
  target: { description: 'A target name (GET /api/targets).', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } },
  path: { description: 'A file path relative to the run folder (no `..`), slashes unescaped.', schema: { type: 'string', minLength: 1, maxLength: 1024 } },
  uploadId: { description: 'An upload id (24 hex digits).', schema: { type: 'string', pattern: '^[0-9a-f]{24}$' } },
  scheduleId: { description: 'A schedule id.', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } },
  pipelineId: { description: 'A pipeline id (12 hex digits).', schema: { type: 'string', pattern: '^[0-9a-f]{12}$' } },
  enrollmentId: { description: 'An enrollment id (12 hex digits).', schema: { type: 'string', pattern: '^[a-f0-9]{12}$' } },
  username: { description: 'A user name (GET /api/users lists them).', schema: { type: 'string', minLength: 1, maxLength: 64 } },
  tokenId: { description: 'An API token id (GET /api/auth/tokens lists them).', schema: { type: 'string', minLength: 1, maxLength: 64 } },
  asset: { description: 'A file of the reference page (swagger-ui).', schema: { type: 'string' } },
};

/** `/api/jobs/:jobId/files/*path` → `/api/jobs/{jobId}/files/{path}`. */
export function toOpenApiPath(koaPath: string): string {
  return koaPath.replace(/[:*]([A-Za-z0-9_]+)/g, '{$1}');
}

/** The names of a Koa path's parameters, in order. */
export function pathParams(koaPath: string): string[] {
  return [...koaPath.matchAll(/[:*]([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);
}
