/**
 * Reads and validates JSON request bodies: JSON content type only (415), no larger than
 * `maxBodyBytes` (413, checked on content-length first and counted while reading), well-formed
 * (400 BAD_JSON), then the route's zod schema (400 INVALID_INPUT with the issues as details).
 * A request without a body counts as `{}`.
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
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new JobvisorError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads the body and parses it with `schema`. */
export async function parseBody<S extends z.ZodType>(ctx: Context, schema: S, maxBytes: number): Promise<z.output<S>> {
  return parseInput(schema, await readJsonBody(ctx, maxBytes), 'request body');
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new JobvisorError('INVALID_INPUT', `${what} is not valid: ${formatIssues(result.error)}`, { issues: result.error.issues });
  }
  return result.data;
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
