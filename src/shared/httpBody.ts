/**
 * Reads and validates JSON request bodies: JSON content type only (415), no larger than
 * `maxBodyBytes` (413, checked on content-length first and counted while reading), UTF-8 and
 * well-formed (400 BAD_JSON), of a safe shape (400 INVALID_INPUT, see checkShape), then the
 * route's zod schema (400 INVALID_INPUT with the issues as details). A request without a body
 * counts as `{}`. Query objects go through the same shape check and their schema.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { z } from 'zod';
import { JobvisorError } from './errors.js';
import { formatIssues } from './template.js';

export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  const req = ctx.req;
  if (!hasBody(req)) return {};
  if (!ctx.request.is('application/json')) {
    throw new JobvisorError('UNSUPPORTED_MEDIA_TYPE', 'request body must be JSON (content-type: application/json)');
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') throw new JobvisorError('UNSUPPORTED_MEDIA_TYPE', `content-encoding ${encoding} is not accepted`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(ctx, maxBytes);
  const raw = await readRaw(req, maxBytes).catch((err: unknown) => {
    throw err instanceof BodyTooLarge ? tooLarge(ctx, maxBytes) : err;
  });
  if (raw.length === 0) return {};
  let text: string;
  try {
    text = STRICT_UTF8.decode(raw);
  } catch {
    throw new JobvisorError('BAD_JSON', 'request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new JobvisorError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads the body and parses it with `schema`. */
export async function parseBody<S extends z.ZodType>(ctx: Context, schema: S, maxBytes: number): Promise<z.output<S>> {
  return parseInput(schema, await readJsonBody(ctx, maxBytes), 'request body');
}

/** Checks the shape (checkShape), then parses `value` with `schema`; `what` names it in the message. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  checkShape(value, what);
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new JobvisorError('INVALID_INPUT', `${what} is not valid: ${formatIssues(result.error)}`, { issues: result.error.issues });
  }
  return result.data;
}

/** The deepest JSON accepted: objects and arrays nested in each other, the body itself being level 1. */
export const MAX_JSON_DEPTH = 64;
/** Keys that would reach an object's prototype when copied into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** In `u` mode a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

interface Visit {
  value: unknown;
  depth: number;
  parent: Visit | undefined;
  key: string | number | undefined;
}

/**
 * Refuses (400 INVALID_INPUT) what schemas let through but the rest of the system should never
 * see: nesting deeper than MAX_JSON_DEPTH (JSON.stringify, zod and others recurse and would
 * overflow the stack), keys `__proto__`, `constructor` and `prototype` anywhere (copying them
 * would change or drop an object's prototype), and strings or keys holding a lone UTF-16
 * surrogate (not Unicode: strict JSON parsers refuse it). Walks the value with its own stack,
 * so no depth of input can overflow it.
 */
export function checkShape(value: unknown, what: string): void {
  const stack: Visit[] = [{ value, depth: 1, parent: undefined, key: undefined }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const v = visit.value;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) throw shapeError(what, pathOf(visit), 'string holds a lone UTF-16 surrogate (not valid Unicode)');
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (visit.depth > MAX_JSON_DEPTH) throw shapeError(what, pathOf(visit), `nested more than ${MAX_JSON_DEPTH} levels deep`, false);
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((item, i) => [i, item]) : Object.entries(v);
    for (const [key, item] of entries) {
      if (typeof key === 'string') {
        if (FORBIDDEN_KEYS.has(key)) throw shapeError(what, [...pathOf(visit), key], `key "${key}" is not allowed`);
        if (LONE_SURROGATE.test(key)) throw shapeError(what, [...pathOf(visit), key], 'key holds a lone UTF-16 surrogate (not valid Unicode)');
      }
      stack.push({ value: item, depth: visit.depth + 1, parent: visit, key });
    }
  }
}

function pathOf(visit: Visit): (string | number)[] {
  const path: (string | number)[] = [];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) path.unshift(v.key);
  return path;
}

/** The message names where, unless the path is too long to read (deep nesting); details always have it. */
function shapeError(what: string, path: (string | number)[], problem: string, showPath = true): JobvisorError {
  const where = showPath && path.length ? ` (at ${path.map((k) => JSON.stringify(k)).join('.')})` : '';
  return new JobvisorError('INVALID_INPUT', `${what} is not valid: ${problem}${where}`, { issues: [{ code: 'custom', path, message: problem }] });
}

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

class BodyTooLarge extends Error {}

/** The answer closes the connection: the rest of the body is not read. */
function tooLarge(ctx: Context, maxBytes: number): JobvisorError {
  ctx.set('Connection', 'close');
  return new JobvisorError('BODY_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
}

/** Collects the body, stopping as soon as it grows past `maxBytes` (the socket stays usable for the answer). */
function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
