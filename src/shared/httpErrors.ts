/**
 * The one place that turns errors into HTTP answers. A JobvisorError that may be shown answers
 * with its status and `{error:{code,message,details?}}`; anything else is logged with an id and
 * answers 500 INTERNAL with that id only; a storage failure (disk full, database locked: see
 * storageErrors.ts) answers with its own code and status. A 401 says `WWW-Authenticate: Bearer`; a 429 says
 * `Retry-After` when its details give `retryAfterSeconds`.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { errorBody, JobvisorError, type ErrorBody } from './errors.js';
import type { Logger } from './logger.js';
import { storageError } from './storageErrors.js';

export function errorAnswer(err: unknown, ctx: Context, logger: Logger): { status: number; body: ErrorBody } {
  // A database that cannot be written (disk full, locked by another process) answers with its own code: nothing was changed.
  const storage = err instanceof JobvisorError ? undefined : storageError(err, `the ${(logger.bindings() as { name?: string }).name ?? 'jobvisor'}`);
  if (storage) {
    logger.warn({ err, method: ctx.method, path: ctx.path, code: storage.code }, 'request failed: storage');
    return { status: storage.status, body: errorBody(storage) };
  }
  if (err instanceof JobvisorError && err.expose) {
    return { status: err.status, body: errorBody(err) };
  }
  const id = randomUUID();
  logger.error({ err, id, method: ctx.method, path: ctx.path }, 'request failed');
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error', id } } };
}

export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const answer = errorAnswer(err, ctx, logger);
      if (ctx.headerSent || !ctx.writable) {
        ctx.app.emit('error', err, ctx);
        return;
      }
      for (const name of ['content-disposition', 'content-length', 'content-type']) ctx.remove(name);
      ctx.status = answer.status;
      ctx.body = answer.body;
      if (answer.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      const retryAfter = retryAfterSeconds(err);
      if (answer.status === 429 && retryAfter !== undefined) ctx.set('Retry-After', String(retryAfter));
    }
  };
}

/** A 429's `details.retryAfterSeconds` (also after it crossed from the supervisor) becomes `Retry-After`. */
function retryAfterSeconds(err: unknown): number | undefined {
  if (!(err instanceof JobvisorError)) return undefined;
  const value = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** The last middleware: nothing answered, so no route matched. */
export async function routeNotFound(ctx: Context): Promise<void> {
  throw new JobvisorError('ROUTE_NOT_FOUND', `no route ${ctx.method} ${ctx.path}`);
}
