/**
 * Schedules (`/api/schedules`): checked here (caller, body, `?all=1` for admins only) and
 * forwarded to the supervisor, which lets each caller act on their own schedules only (admins:
 * on anyone's) and checks each schedule's run request as a run request.
 */
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type { Context, Middleware } from 'koa';
import { JobvisorError } from '../shared/errors.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import { FiringsQuery, ScheduleBody, SchedulePatch, SchedulesQuery } from '../shared/scheduleApi.js';
import { NAME_PATTERN } from '../shared/types.js';
import { callerOf, requireAdmin } from './auth.js';
import type { RouteDeps } from './routes.js';
import type { SupervisorRequest } from './supervisorClient.js';

export function addScheduleRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.param('scheduleId', (id, _ctx, next) => {
    if (!NAME_PATTERN.test(id)) throw new JobvisorError('SCHEDULE_NOT_FOUND', `no schedule ${id}`);
    return next();
  });
  const forward = async (ctx: Context, req: Omit<SupervisorRequest, 'caller'>) => {
    const answer = await deps.supervisor.request({ ...req, caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  };
  const path = (ctx: RouterContext) => `/schedules/${encodeURIComponent(ctx.params.scheduleId ?? '')}`;
  const max = deps.config.maxBodyBytes;

  router.post('/schedules', auth, async (ctx) => forward(ctx, { method: 'POST', path: '/schedules', body: await parseBody(ctx, ScheduleBody, max) }));
  router.get('/schedules', auth, async (ctx) => {
    const q = parseInput(SchedulesQuery, ctx.query, 'query');
    const all = q.all === '1' || q.all === 'true';
    if (all) requireAdmin(callerOf(ctx));
    await forward(ctx, { method: 'GET', path: `/schedules?all=${all ? 1 : 0}` });
  });
  router.get('/schedules/:scheduleId', auth, (ctx) => forward(ctx, { method: 'GET', path: path(ctx) }));
  router.get('/schedules/:scheduleId/firings', auth, (ctx) => forward(ctx, { method: 'GET', path: `${path(ctx)}/firings?limit=${parseInput(FiringsQuery, ctx.query, 'query').limit}` }));
  router.patch('/schedules/:scheduleId', auth, async (ctx) => forward(ctx, { method: 'PATCH', path: path(ctx), body: await parseBody(ctx, SchedulePatch, max) }));
  router.post('/schedules/:scheduleId/pause', auth, (ctx) => forward(ctx, { method: 'POST', path: `${path(ctx)}/pause`, body: {} }));
  router.post('/schedules/:scheduleId/resume', auth, (ctx) => forward(ctx, { method: 'POST', path: `${path(ctx)}/resume`, body: {} }));
  router.delete('/schedules/:scheduleId', auth, (ctx) => forward(ctx, { method: 'DELETE', path: path(ctx) }));
}
