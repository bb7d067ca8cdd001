/**
 * Builds the OpenAPI 3.1 document of the public API from the route table (table/) and the zod
 * schemas the server validates with and answers with, by zod's own `z.toJSONSchema` (JSON
 * Schema draft 2020-12, the dialect of OpenAPI 3.1): no generator library. Bodies are described
 * as zod reads them (`io: 'input'`: defaults optional), answers as the code builds them
 * (`io: 'output'`). Schemas with an id (`.meta({id})`) become components. Who may call each route
 * comes from the access table (access.ts); errors every route of a kind may give are added here.
 */
import { z } from 'zod';
import { ROUTE_ACCESS, type Access, type RouteKey } from '../access.js';
import { ERRORS, type ErrorCode } from '../../shared/errors.js';
import { ErrorAnswer } from '../../shared/answers/errors.js';
import { PATH_PARAMS, pathParams, toOpenApiPath, type Answer, type JsonSchema, type RawAnswer, type RouteDoc } from './describe.js';
import { ROUTE_DOCS } from './table/index.js';

export type OpenApiDocument = {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
} & Record<string, unknown>;

export interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
  [key: string]: unknown;
}

const TAGS: [string, string][] = [
  ['jobs', 'Run jobs, follow them, cancel and delete them.'],
  ['files', "A run's output files."],
  ['templates', 'The kinds of job this site offers.'],
  ['targets', 'Where runs go, and logins to clusters.'],
  ['uploads', 'Input files, uploaded before a run.'],
  ['events', 'Live updates (Server-Sent Events).'],
  ['schedules', 'Runs at fixed times.'],
  ['pipelines', 'Runs that feed each other.'],
  ['runs', 'Disk use of runs.'],
  ['accounts', 'Login and your own account.'],
  ['admin', 'Site administration (admins only).'],
  ['workers', 'Machines enrolled by hand (admins only).'],
  ['health', 'Is it up.'],
  ['docs', 'This description.'],
];

const STORAGE: ErrorCode[] = ['DATABASE_BUSY', 'STORAGE_FAILED', 'STORAGE_FULL'];

/** The error codes a route may give: its own, and those of every route like it. */
export function errorCodesOf(key: string, doc: RouteDoc, access: Access): ErrorCode[] {
  const [method] = key.split(' ') as [string];
  const codes = new Set<ErrorCode>(['INTERNAL', ...STORAGE, ...(doc.errors ?? [])]);
  if (access !== 'open') codes.add('UNAUTHENTICATED');
  if (access === 'admin' || (access === 'user' && method !== 'GET')) codes.add('FORBIDDEN'); // not an admin; a login cookie sent from another origin
  if (access !== 'open' && method !== 'GET') codes.add('TOKEN_READ_ONLY'); // a read-scoped API token (src/server/auth.ts)
  if (doc.query || doc.body || doc.multipart || pathParams(key).length > 0) codes.add('INVALID_INPUT');
  if (doc.body) for (const c of ['BAD_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const) codes.add(c);
  if (doc.multipart) for (const c of ['BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_MULTIPART'] as const) codes.add(c);
  if (!doc.local) codes.add('SUPERVISOR_UNAVAILABLE');
  return [...codes];
}

/** Collects the JSON Schemas of zod schemas, their `$defs` (schemas with an id) as components. */
class SchemaSet {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
    const { $schema: _s, $defs, ...rest } = json as JsonSchema & { $defs?: Record<string, JsonSchema> };
    for (const [id, def] of Object.entries($defs ?? {})) this.add(id, relink(def) as JsonSchema);
    return relink(rest) as JsonSchema;
  }

  add(id: string, schema: JsonSchema): void {
    const known = this.components[id];
    if (known && JSON.stringify(known) !== JSON.stringify(schema)) throw new Error(`OpenAPI: two different schemas are named ${id}`);
    this.components[id] = schema;
  }
}

/** `#/$defs/X` (zod's) → `#/components/schemas/X`; drops the ±2^53-1 bounds zod gives every integer (they say nothing). */
function relink(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relink);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !((k === 'minimum' || k === 'maximum') && Math.abs(v as number) === Number.MAX_SAFE_INTEGER))
      .map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : relink(v)]),
  );
}

function isRaw(a: Answer): a is RawAnswer {
  return a !== null && typeof a === 'object' && 'content' in a && !(a instanceof z.ZodType);
}

function answerOf(status: number, a: Answer, schemas: SchemaSet): Operation['responses'][string] {
  if (a === null) return { description: 'Done; no content.' };
  if (isRaw(a)) return { description: a.description, content: a.content, ...(a.headers ? { headers: a.headers } : {}) };
  const [schema, description] = a instanceof z.ZodType ? [a, status === 201 ? 'Created.' : 'OK.'] : [a.schema, a.description];
  return { description, content: { 'application/json': { schema: schemas.convert(schema, 'output') } } };
}

function errorAnswers(codes: ErrorCode[]): Operation['responses'] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(ERRORS[c].status, [...(byStatus.get(ERRORS[c].status) ?? []), c]);
  const out: Operation['responses'] = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: `Error: ${list.join(', ')}.`,
      content: {
        'application/json': {
          schema: { allOf: [{ $ref: '#/components/schemas/Error' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: list } } } } }] },
        },
      },
    };
  }
  out.default = { description: 'Any other error (the code says which).', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return out;
}

function parameters(key: string, doc: RouteDoc, schemas: SchemaSet): JsonSchema[] {
  const koaPath = key.split(' ')[1] ?? '';
  const out: JsonSchema[] = pathParams(koaPath).map((name) => ({ name, in: 'path', required: true, ...(PATH_PARAMS[name] ?? { description: name, schema: { type: 'string' } }) }));
  if (doc.query) {
    const q = schemas.convert(doc.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) });
    }
  }
  for (const [name, h] of Object.entries(doc.headers ?? {})) out.push({ name, in: 'header', required: false, ...h });
  return out;
}

function requestBody(doc: RouteDoc, schemas: SchemaSet): JsonSchema | undefined {
  if (!doc.body && !doc.multipart) return undefined;
  const content: Record<string, JsonSchema> = {};
  if (doc.body) content['application/json'] = { schema: schemas.convert(doc.body, 'input') };
  if (doc.multipart) {
    const { description, properties, required, additionalProperties } = doc.multipart;
    content['multipart/form-data'] = { schema: { type: 'object', description, properties, ...(required ? { required } : {}), additionalProperties: additionalProperties ?? false } };
  }
  return { required: true, content };
}

const ACCESS_NOTE: Record<Access, string> = { open: 'Open to anyone.', user: 'Needs a login.', admin: 'Needs a login as an admin.' };

function operationId(key: string): string {
  const [method, p] = key.split(' ') as [string, string];
  const words = p.replace(/^\/api\//, '').split(/[/._-]+|(?=[:*])/).map((w) => w.replace(/^[:*]/, '')).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function operation(key: RouteKey, doc: RouteDoc, schemas: SchemaSet): Operation {
  const access: Access = ROUTE_ACCESS[key];
  const codes = errorCodesOf(key, doc, access);
  const responses: Operation['responses'] = {};
  for (const [status, a] of Object.entries(doc.answers)) responses[status] = answerOf(Number(status), a, schemas);
  for (const [status, r] of Object.entries(errorAnswers(codes))) responses[status] ??= r;
  const params = parameters(key, doc, schemas);
  const body = requestBody(doc, schemas);
  return {
    operationId: doc.operationId ?? operationId(key),
    summary: doc.summary,
    description: [doc.description, ACCESS_NOTE[access]].filter(Boolean).join('\n\n'),
    tags: doc.tags,
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses,
    security: access === 'open' ? [] : [{ bearerAuth: [] }, { cookieAuth: [] }],
    'x-access': access,
    'x-error-codes': codes,
  };
}

export function buildOpenApiDocument(version: string): OpenApiDocument {
  const schemas = new SchemaSet();
  schemas.add('Error', schemas.convert(ErrorAnswer, 'output'));
  const paths: OpenApiDocument['paths'] = {};
  for (const [key, doc] of Object.entries(ROUTE_DOCS) as [RouteKey, RouteDoc][]) {
    const [method, koaPath] = key.split(' ') as [string, string];
    (paths[toOpenApiPath(koaPath)] ??= {})[method.toLowerCase()] = operation(key, doc, schemas);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'jobvisor API',
      version,
      description:
        'Run computational jobs of a science gateway: templates, jobs and their runs, files, live events. ' +
        'Log in with `POST /api/auth/login` and send the token as `Authorization: Bearer <token>`. ' +
        'Every error answers `{error: {code, message}}` with a stable code. Generated from the zod schemas the server validates with.',
    },
    servers: [{ url: '/' }],
    tags: TAGS.map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token of POST /api/auth/login.' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'jobvisor_token', description: 'The HttpOnly cookie POST /api/auth/login sets (browsers).' },
      },
    },
  };
}
