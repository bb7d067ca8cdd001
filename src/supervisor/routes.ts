/**
 * The supervisor's internal HTTP API. Only the server calls it, with the shared secret and the
 * caller's name and role in headers; each route hands its request to the job service.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import {
  AnalysisBody,
  BeginSessionBody,
  CALLER_ROLE_HEADER,
  CALLER_USER_HEADER,
  CancelBody,
  EventBacklogQuery,
  JobListQuery,
  LogQuery,
  RunBody,
  RunPath,
  SerialQuery,
} from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { NAME_PATTERN, ROLE_PATTERN, type Caller } from '../shared/types.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import { formatSseComment, formatSseMessage, parseLastEventId } from '../shared/sse.js';
import type { AgentManager } from './agents.js';
import { TargetLoginBody, type SlotUsage } from '../shared/api.js';
import type { Logins } from './logins.js';
import type { EventBus } from './events.js';
import type { JobService } from './jobs.js';
import { analysis, listFiles, readFile, readLog, removeJobFiles, type ReadDeps } from './reads.js';
import type { Template } from '../shared/template.js';
import type { UploadService } from './uploads.js';
import { addUploadRoutes } from './uploadRoutes.js';
import { contactOf } from './notifyRoutes.js';

export interface SupervisorRouteDeps {
  secret: string;
  jobs: JobService;
  agents: AgentManager;
  events: EventBus;
  reads: ReadDeps;
  logins: Logins;
  /** CPU slot usage of every pool (target, engine or cluster, size). */
  slotUsage(): SlotUsage[];
  maxBodyBytes: number;
  keepaliveMs?: number;
  /** Input files: the upload routes (uploadRoutes.ts). */
  uploads?: { service: UploadService; template(name: string): Template | undefined };
}

/** One-shot hashing: a Hash object per request cost more than the rest of the secret check. */
const digest = (s: string) => hash('sha256', s, 'buffer');

export function requireSecret(secret: string) {
  const expected = digest(secret);
  return async (ctx: Context, next: Next) => {
    const auth = ctx.get('authorization');
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!given || !timingSafeEqual(digest(given), expected)) throw new JobvisorError('UNAUTHENTICATED', 'the supervisor needs the shared secret');
    await next();
  };
}

// The patterns of the Name and Role schemas (types.ts), tested directly: these run on every request.
export function caller(ctx: Context): Caller {
  const username = ctx.get(CALLER_USER_HEADER);
  const role = ctx.get(CALLER_ROLE_HEADER);
  if (!NAME_PATTERN.test(username) || !ROLE_PATTERN.test(role)) throw new JobvisorError('UNAUTHENTICATED', 'the request names no valid caller');
  return { username, role };
}

function jobId(ctx: Context): string {
  const id = ctx.params.jobId;
  if (!id || !NAME_PATTERN.test(id)) throw new JobvisorError('JOB_NOT_FOUND', `no job ${String(id)}`);
  return id;
}

function targetName(ctx: Context): string {
  const name = ctx.params.target ?? '';
  if (!NAME_PATTERN.test(name)) throw new JobvisorError('TARGET_NOT_FOUND', `no target ${name}`);
  return name;
}

const JSON_TYPE = 'application/json; charset=utf-8';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.h5': 'application/x-hdf5',
};

export function createSupervisorRouter(deps: SupervisorRouteDeps): Router {
  const router = new Router();
  const { jobs, reads } = deps;
  const body = <S extends Parameters<typeof parseBody>[1]>(ctx: Context, schema: S) => parseBody(ctx, schema, deps.maxBodyBytes);

  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });
  router.use(requireSecret(deps.secret));

  router.get('/templates', (ctx) => {
    ctx.body = { templates: jobs.templates() };
  });
  router.post('/jobs/run', async (ctx) => {
    ctx.body = { job: await jobs.run(caller(ctx), await body(ctx, RunBody), contactOf(ctx)) };
  });
  router.get('/jobs', (ctx) => {
    ctx.body = jobs.list(caller(ctx), parseInput(JobListQuery, ctx.query, 'query'));
  });
  router.get('/jobs/:jobId', (ctx) => {
    const answer = jobs.getAnswer(caller(ctx), jobId(ctx));
    ctx.set('content-type', JSON_TYPE); // what Koa sets for an object body, without its lookup per request
    ctx.body = answer;
  });
  router.post('/jobs/:jobId/cancel', async (ctx) => {
    const b = await body(ctx, CancelBody);
    ctx.body = { job: await jobs.cancel(caller(ctx), jobId(ctx), b.serial) };
  });
  router.delete('/jobs/:jobId', async (ctx) => {
    await jobs.remove(caller(ctx), jobId(ctx), (job) => removeJobFiles(deps.reads, job));
    ctx.status = 204;
  });
  router.get('/jobs/:jobId/log', async (ctx) => {
    ctx.body = await readLog(reads, caller(ctx), jobId(ctx), parseInput(LogQuery, ctx.query, 'query'));
  });
  router.get('/jobs/:jobId/files', async (ctx) => {
    ctx.body = await listFiles(reads, caller(ctx), jobId(ctx), parseInput(SerialQuery, ctx.query, 'query').serial);
  });
  router.get('/jobs/:jobId/files/{*path}', async (ctx) => {
    const p = RunPath.safeParse(ctx.params.path);
    if (!p.success) throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', 'the path must be inside the run directory');
    const file = await readFile(reads, caller(ctx), jobId(ctx), p.data, parseInput(SerialQuery, ctx.query, 'query').serial);
    ctx.set('content-type', CONTENT_TYPES[path.extname(p.data).toLowerCase()] ?? 'application/octet-stream');
    ctx.set('content-length', String(file.size));
    ctx.attachment(path.basename(p.data));
    ctx.body = file.stream;
  });
  router.post('/jobs/:jobId/analysis', async (ctx) => {
    const c = caller(ctx);
    const id = jobId(ctx);
    ctx.body = await analysis(reads, c, id, await body(ctx, AnalysisBody));
  });
  router.post('/session/begin', async (ctx) => {
    const b = await body(ctx, BeginSessionBody);
    ctx.body = { agents: await jobs.beginSession(caller(ctx), b) };
  });
  router.get('/agents', (ctx) => {
    if (caller(ctx).role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins see agents');
    ctx.body = { agents: deps.agents.list() };
  });
  router.get('/slots', (ctx) => {
    if (caller(ctx).role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins see slot usage');
    ctx.body = { slots: deps.slotUsage() };
  });
  router.get('/targets', (ctx) => {
    ctx.body = { targets: deps.logins.list(caller(ctx)) };
  });
  router.post('/targets/:target/login', async (ctx) => {
    const c = caller(ctx);
    ctx.body = await deps.logins.login(c, targetName(ctx), await body(ctx, TargetLoginBody));
  });
  router.get('/targets/:target/status', (ctx) => {
    ctx.body = deps.logins.status(caller(ctx), targetName(ctx));
  });
  router.get('/targets/:target/agent-log', async (ctx) => {
    ctx.body = await deps.logins.agentLog(caller(ctx), targetName(ctx));
  });
  router.get('/events', (ctx) => streamEvents(ctx, deps.events, deps.keepaliveMs ?? 15_000));
  router.get('/events/backlog', (ctx) => eventBacklog(ctx, deps.events));
  if (deps.uploads) addUploadRoutes(router, deps.uploads.service, caller, deps.uploads.template);
  return router;
}

/**
 * The event stream. A reader that sends `Last-Event-ID` (the last journal number it saw) first
 * gets every event after it, then the live ones, with nothing between them lost or repeated
 * (the journal is read and the stream subscribed in one turn of the event loop); when those
 * events are no longer kept it gets `resync` instead, and refetches what it shows. Then
 * `ready` says the journal number the live events follow.
 */
function streamEvents(ctx: Context, events: EventBus, keepaliveMs: number): void {
  const after = parseLastEventId(ctx.get('last-event-id') || undefined);
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(formatSseComment('jobvisor supervisor events'));
  if (after !== undefined) {
    for (let from = after; ; ) {
      const backlog = events.backlog(from, 1000);
      if (backlog.resync) {
        res.write(formatSseMessage('resync', JSON.stringify({ latest: backlog.latest })));
        break;
      }
      if (backlog.events.length === 0) break;
      res.write(backlog.events.map((e) => formatSseMessage(e.type, e.data, e.id)).join(''));
      from = backlog.events[backlog.events.length - 1]!.id;
    }
  }
  res.write(formatSseMessage('ready', JSON.stringify({ latest: events.latest })));
  // The events of one turn of the event loop go out in one write, at its end (`setImmediate`: after
  // every agent message read in this turn, each of which may make events; not a timer).
  let pending = '';
  const flush = () => {
    if (pending !== '' && !res.destroyed) res.write(pending);
    pending = '';
  };
  const unsubscribe = events.subscribe(
    (e) => {
      if (pending === '') setImmediate(flush);
      pending += formatSseMessage(e.type, e.data, e.id, e.user);
    },
    () => {
      flush();
      res.end();
    },
  );
  const timer = setInterval(() => res.write(formatSseComment('keepalive')), keepaliveMs);
  const stop = () => {
    clearInterval(timer);
    unsubscribe();
  };
  ctx.req.on('close', stop);
  res.on('error', stop);
}

/** `GET /events/backlog?after=N`: the events after N (at most `limit`), for a client that resumes its stream. */
function eventBacklog(ctx: Context, events: EventBus): void {
  const { after, limit } = parseInput(EventBacklogQuery, ctx.query, 'query');
  ctx.body = events.backlog(after, limit);
}
