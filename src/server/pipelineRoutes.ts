/**
 * Pipelines (`/api/pipelines`): checked here (login, body schema) and forwarded to the
 * supervisor, which lets each user see only their own pipelines (admins: all, with `?all=1`),
 * a page at a time (`limit`, `cursor`, `state`, `total`).
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { JobvisorError } from '../shared/errors.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import { PipelineBody, PipelineListQuery, pipelineListSearch } from '../shared/pipelines.js';
import { callerOf, requireAdmin } from './auth.js';
import type { RouteDeps } from './routes.js';
import type { SupervisorRequest } from './supervisorClient.js';

export function addPipelineRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = async (ctx: Context, method: SupervisorRequest['method'], path: string, body?: unknown) => {
    const answer = await deps.supervisor.request({ method, path, body, caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  };
  const one = (ctx: Context, tail = '') => {
    const id = String(ctx.params.pipelineId ?? '');
    if (!/^[0-9a-f]{12}$/.test(id)) throw new JobvisorError('PIPELINE_NOT_FOUND', `no pipeline ${id}`);
    return `/pipelines/${id}${tail}`;
  };
  router.post('/pipelines', auth, async (ctx) => forward(ctx, 'POST', '/pipelines', await parseBody(ctx, PipelineBody, deps.config.maxBodyBytes)));
  router.get('/pipelines', auth, async (ctx) => {
    const q = parseInput(PipelineListQuery, ctx.query, 'query');
    if (q.all) requireAdmin(callerOf(ctx));
    await forward(ctx, 'GET', `/pipelines?${pipelineListSearch(q)}`);
  });
  router.get('/pipelines/:pipelineId', auth, (ctx) => forward(ctx, 'GET', one(ctx)));
  router.post('/pipelines/:pipelineId/cancel', auth, (ctx) => forward(ctx, 'POST', one(ctx, '/cancel'), {}));
  router.post('/pipelines/:pipelineId/resume', auth, (ctx) => forward(ctx, 'POST', one(ctx, '/resume'), {}));
  router.delete('/pipelines/:pipelineId', auth, (ctx) => forward(ctx, 'DELETE', one(ctx)));
}
