/**
 * The public API under `/api`. Health and login are open; every other route needs a login token.
 * Account routes are answered here; job routes are checked (who, admin-only, body schema) and
 * forwarded to the supervisor as exactly one request each, with the caller's name and role.
 * The supervisor itself enforces that callers only touch their own jobs.
 */
import Router, { type RouterContext } from '@koa/router';
import type { Context, Middleware } from 'koa';
import {
  AnalysisBody,
  BeginSessionBody,
  CancelBody,
  CreateUserBody,
  JobListQuery,
  jobListSearch,
  LoginBody,
  LogQuery,
  RunBody,
  RunPath,
  SerialQuery,
  TargetLoginBody,
  type TargetView,
} from '../shared/api.js';
import type { Config } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { NAME_PATTERN, ROLES } from '../shared/types.js';
import type { Accounts, User } from './accounts.js';
import { callerOf, clearTokenCookie, requireAdmin, requireCaller, setTokenCookie, type ServerState } from './auth.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import { parseLastEventId } from '../shared/sse.js';
import type { EventFanout } from './events.js';
import type { LoginLimits } from './loginLimits.js';
import type { SupervisorClient, SupervisorRequest } from './supervisorClient.js';
import { isMultipart } from './multipart.js';
import { addUploadRoutes, readRunWithFiles } from './uploadRoutes.js';
import { addNotifyRoutes, contactHeaders } from './notifyRoutes.js';
import { addScheduleRoutes } from './scheduleRoutes.js';
import { addPipelineRoutes } from './pipelineRoutes.js';
import { addWorkerRoutes } from './workerRoutes.js';
import { addAgentBundleRoute } from './agentBundleRoute.js';
import { addBatchRoutes } from './batchRoutes.js';
import { addHealthRoutes } from './healthRoutes.js';
import { addAccountRoutes, audit, userView } from './accountRoutes.js';
import { addAuthSessionRoute } from './authSessionRoute.js';
import { addTemplateRoutes } from './templateRoutes.js';
import { addOpenApiRoutes } from './openapi/serve.js';
import type { z } from 'zod';
import type { CallerAnswer } from '../shared/answers/accounts.js';

export interface RouteDeps {
  config: Config;
  accounts: Accounts;
  supervisor: SupervisorClient;
  events: EventFanout;
  loginLimits: LoginLimits;
  logger: Logger;
}

export function createRouter(deps: RouteDeps): Router {
  const router = new Router({ prefix: '/api' });
  router.param('jobId', (jobId, _ctx, next) => {
    if (!NAME_PATTERN.test(jobId)) throw new JobvisorError('JOB_NOT_FOUND', `job ${jobId} does not exist`);
    return next();
  });
  const auth = requireCaller(deps.accounts);
  addAuthRoutes(router, deps, auth);
  addAuthSessionRoute(router, deps);
  addUserRoutes(router, deps, auth);
  addAccountRoutes(router, deps, auth);
  addBatchRoutes(router, deps, auth);
  addJobRoutes(router, deps, auth);
  addSessionRoutes(router, deps, auth);
  addFileRoutes(router, deps, auth);
  addTargetRoutes(router, deps, auth);
  addUploadRoutes(router, deps, auth);
  addNotifyRoutes(router, deps, auth);
  addRunsRoutes(router, deps, auth);
  addScheduleRoutes(router, deps, auth);
  addPipelineRoutes(router, deps, auth);
  addWorkerRoutes(router, deps, auth);
  addHealthRoutes(router, deps);
  addAgentBundleRoute(router, auth);
  addTemplateRoutes(router, deps, auth);
  addOpenApiRoutes(router);
  return router;
}

function addAuthRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const { accounts, config, supervisor } = deps;

  router.get('/health', async (ctx) => {
    ctx.body = { ok: true, supervisor: (await supervisor.isUp()) ? 'up' : 'down' };
  });

  router.post('/auth/login', async (ctx) => {
    const body = await parseBody(ctx, LoginBody, config.maxBodyBytes);
    const attempt = await deps.loginLimits.begin(body.username, ctx.ip);
    const login = await accounts.login(body.username, body.password).catch(async (err: unknown) => {
      if (err instanceof JobvisorError && err.code === 'INVALID_CREDENTIALS') {
        await attempt.failed();
        accounts.audit.failedLogin(body.username, ctx.ip);
      } else await attempt.cancel();
      throw err;
    });
    await attempt.succeeded();
    setTokenCookie(ctx, login.token, login.expiresAt);
    ctx.body = { token: login.token, expiresAt: login.expiresAt, user: publicUser(login.user) };
  });

  router.post('/auth/logout', auth, (ctx) => {
    const token = (ctx.state as ServerState).token;
    if (token !== undefined) {
      accounts.logout(token);
      deps.events.endLogin(token, 'logged out');
    }
    clearTokenCookie(ctx);
    ctx.status = 204;
  });

  router.get('/auth/me', auth, (ctx) => {
    ctx.body = { user: callerOf(ctx) };
  });
}

function addUserRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const { accounts, config } = deps;

  router.get('/users', auth, (ctx) => {
    requireAdmin(callerOf(ctx));
    ctx.body = { users: accounts.listUsers().map(userView), roles: [...ROLES, ...(config.roles ?? [])] };
  });

  router.post('/users', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    const body = await parseBody(ctx, CreateUserBody, config.maxBodyBytes);
    const roles = [...ROLES, ...(config.roles ?? [])];
    if (!roles.includes(body.role)) throw new JobvisorError('INVALID_INPUT', `role "${body.role}" is not one of this site's roles: ${roles.join(', ')}`);
    const user = await accounts.createUser(body.username, body.password, body.role);
    audit(deps, ctx, 'user.create', user.username, { role: user.role });
    ctx.status = 201;
    ctx.body = { user: userView(user) };
  });
}

function addJobRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const { config } = deps;
  const forward = forwarder(deps.supervisor);
  const readBody = <S extends Parameters<typeof parseBody>[1]>(ctx: Context, schema: S) => parseBody(ctx, schema, config.maxBodyBytes);

  router.get('/templates', auth, (ctx) => forward(ctx, { method: 'GET', path: '/templates' }));

  router.post('/jobs', auth, async (ctx) => {
    if (isMultipart(ctx)) {
      const { body, cleanup } = await readRunWithFiles(ctx, deps);
      await forward(ctx, { method: 'POST', path: '/jobs/run', body }).catch(async (err: unknown) => {
        await cleanup();
        throw err;
      });
      return;
    }
    const body = await readBody(ctx, RunBody);
    await forward(ctx, { method: 'POST', path: '/jobs/run', body, headers: contactHeaders(deps.accounts, callerOf(ctx)) });
  });

  router.get('/jobs', auth, async (ctx) => {
    const query = parseInput(JobListQuery, ctx.query, 'query');
    if (query.all) requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'GET', path: `/jobs?${jobListSearch(query)}` });
  });

  router.get('/jobs/:jobId', auth, (ctx) => forward(ctx, { method: 'GET', path: jobPath(ctx) }));

  router.delete('/jobs/:jobId', auth, (ctx) => forward(ctx, { method: 'DELETE', path: jobPath(ctx) }));

  router.post('/jobs/:jobId/cancel', auth, async (ctx) => {
    const body = await readBody(ctx, CancelBody);
    await forward(ctx, { method: 'POST', path: `${jobPath(ctx)}/cancel`, body });
  });

  router.get('/jobs/:jobId/log', auth, async (ctx) => {
    const query = parseInput(LogQuery, ctx.query, 'query');
    const search = new URLSearchParams({ offset: String(query.offset), limit: String(query.limit) });
    if (query.serial !== undefined) search.set('serial', String(query.serial));
    await forward(ctx, { method: 'GET', path: `${jobPath(ctx)}/log?${search.toString()}` });
  });

  router.post('/jobs/:jobId/analysis', auth, async (ctx) => {
    const body = await readBody(ctx, AnalysisBody);
    await forward(ctx, { method: 'POST', path: `${jobPath(ctx)}/analysis`, body });
  });
}

function addSessionRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = forwarder(deps.supervisor);

  router.post('/session', auth, async (ctx) => {
    const body = await parseBody(ctx, BeginSessionBody, deps.config.maxBodyBytes);
    await forward(ctx, { method: 'POST', path: '/session/begin', body });
  });

  router.get('/agents', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'GET', path: '/agents' });
  });

  router.get('/slots', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'GET', path: '/slots' });
  });

  router.get('/events', auth, (ctx) => {
    const token = (ctx.state as ServerState).token ?? '';
    const lastEventId = parseLastEventId(ctx.get('last-event-id') || (typeof ctx.query.lastEventId === 'string' ? ctx.query.lastEventId : undefined));
    deps.events.attach(ctx, callerOf(ctx), { token, isValid: () => deps.accounts.authenticate(token) !== undefined }, lastEventId);
  });
}

/**
 * Targets, and logins to those that need one: the body holds the user's own cluster
 * credentials; they are forwarded once and never kept or logged. `/cluster/*` are the routes
 * of jobvisor 0.1, kept for its clients: they act on the first target that needs a login.
 */
function addTargetRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = forwarder(deps.supervisor);
  router.param('target', (target, _ctx, next) => {
    if (!NAME_PATTERN.test(target)) throw new JobvisorError('TARGET_NOT_FOUND', `no target ${target}`);
    return next();
  });
  const targetPath = (ctx: RouterContext) => `/targets/${encodeURIComponent(ctx.params.target ?? '')}`;
  router.get('/targets', auth, (ctx) => forward(ctx, { method: 'GET', path: '/targets' }));
  router.post('/targets/:target/login', auth, async (ctx) => {
    const body = await parseBody(ctx, TargetLoginBody, deps.config.maxBodyBytes);
    await forward(ctx, { method: 'POST', path: `${targetPath(ctx)}/login`, body });
  });
  router.get('/targets/:target/status', auth, (ctx) => forward(ctx, { method: 'GET', path: `${targetPath(ctx)}/status` }));
  router.get('/targets/:target/agent-log', auth, (ctx) => forward(ctx, { method: 'GET', path: `${targetPath(ctx)}/agent-log` }));

  const firstLoginTarget = async (ctx: Context): Promise<string> => {
    const answer = await deps.supervisor.request({ method: 'GET', path: '/targets', caller: callerOf(ctx) });
    const t = (answer.body as { targets: TargetView[] }).targets.find((x) => x.needsLogin);
    if (!t) throw new JobvisorError('TARGET_NOT_FOUND', 'no target here needs a login');
    return `/targets/${encodeURIComponent(t.name)}`;
  };
  router.post('/cluster/login', auth, async (ctx) => {
    const body = await parseBody(ctx, TargetLoginBody, deps.config.maxBodyBytes);
    await forward(ctx, { method: 'POST', path: `${await firstLoginTarget(ctx)}/login`, body });
  });
  router.get('/cluster/status', auth, async (ctx) => forward(ctx, { method: 'GET', path: `${await firstLoginTarget(ctx)}/status` }));
  router.get('/cluster/agent-log', auth, async (ctx) => forward(ctx, { method: 'GET', path: `${await firstLoginTarget(ctx)}/agent-log` }));
}

/** Disk use (the caller's; every user's for admins) and the retention sweep (admins). */
function addRunsRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = forwarder(deps.supervisor);
  router.get('/usage', auth, (ctx) => forward(ctx, { method: 'GET', path: '/usage' }));
  router.get('/admin/usage', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'GET', path: '/admin/usage' });
  });
  router.post('/admin/retention/sweep', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'POST', path: '/admin/retention/sweep', body: {} });
  });
}

function addFileRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = forwarder(deps.supervisor);

  router.get('/jobs/:jobId/files', auth, (ctx) => forward(ctx, { method: 'GET', path: `${jobPath(ctx)}/files${serialSearch(ctx)}` }));

  router.get('/jobs/:jobId/files/*path', auth, async (ctx) => {
    const parsed = RunPath.safeParse(ctx.params.path ?? '');
    if (!parsed.success) throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', 'file path must be a relative path inside the run directory');
    const encoded = parsed.data.split('/').map(encodeURIComponent).join('/');
    const download = await deps.supervisor.download({ method: 'GET', path: `${jobPath(ctx)}/files/${encoded}${serialSearch(ctx)}`, caller: callerOf(ctx) });
    ctx.status = download.status;
    ctx.body = download.body;
    for (const [name, value] of Object.entries(download.headers)) ctx.set(name, value);
  });
}

/**
 * Sends one request to the supervisor as the caller and answers with what it answered: its JSON
 * bytes as they came (SupervisorClient.relay), neither parsed nor written again.
 */
function forwarder(supervisor: SupervisorClient) {
  return async function forward(ctx: Context, req: Omit<SupervisorRequest, 'caller'>): Promise<void> {
    const answer = await supervisor.relay({ ...req, caller: callerOf(ctx) });
    ctx.status = answer.status;
    if (answer.json.length === 0) {
      ctx.body = null;
      return;
    }
    ctx.set('content-type', 'application/json; charset=utf-8'); // what `ctx.type = 'application/json'` sets, without its lookup per request
    ctx.body = answer.json;
  };
}

/** `?serial=N` of a files route, checked, for the supervisor (empty for the current run). */
function serialSearch(ctx: Context): string {
  const { serial } = parseInput(SerialQuery, ctx.query, 'query');
  return serial === undefined ? '' : `?serial=${serial}`;
}

function jobPath(ctx: RouterContext): string {
  return `/jobs/${encodeURIComponent(ctx.params.jobId ?? '')}`;
}

function publicUser(user: User): z.infer<typeof CallerAnswer> {
  return { username: user.username, role: user.role };
}

