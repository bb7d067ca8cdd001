/** The supervisor's schedule routes (`/schedules...`); the server checks the caller and the body first, these check again. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { JobvisorError } from '../../shared/errors.js';
import { parseBody, parseInput } from '../../shared/httpBody.js';
import { FiringsQuery, ScheduleBody, SchedulePatch, SchedulesQuery } from '../../shared/scheduleApi.js';
import { Name } from '../../shared/types.js';
import { caller } from '../routes.js';
import type { ScheduleService } from './service.js';

function scheduleId(ctx: Context): string {
  const id = String(ctx.params.scheduleId ?? '');
  if (!Name.safeParse(id).success) throw new JobvisorError('SCHEDULE_NOT_FOUND', `no schedule ${id}`);
  return id;
}

export function addScheduleRoutes(router: Router, schedules: ScheduleService, maxBodyBytes: number): void {
  router.post('/schedules', async (ctx) => {
    const c = caller(ctx);
    ctx.status = 201;
    ctx.body = { schedule: schedules.create(c, await parseBody(ctx, ScheduleBody, maxBodyBytes)) };
  });
  router.get('/schedules', (ctx) => {
    const q = parseInput(SchedulesQuery, ctx.query, 'query');
    ctx.body = { schedules: schedules.list(caller(ctx), q.all === '1' || q.all === 'true') };
  });
  router.get('/schedules/:scheduleId', (ctx) => {
    ctx.body = { schedule: schedules.get(caller(ctx), scheduleId(ctx)) };
  });
  router.get('/schedules/:scheduleId/firings', (ctx) => {
    const q = parseInput(FiringsQuery, ctx.query, 'query');
    ctx.body = { firings: schedules.firings(caller(ctx), scheduleId(ctx), q.limit) };
  });
  router.patch('/schedules/:scheduleId', async (ctx) => {
    const c = caller(ctx);
    ctx.body = { schedule: schedules.edit(c, scheduleId(ctx), await parseBody(ctx, SchedulePatch, maxBodyBytes)) };
  });
  router.post('/schedules/:scheduleId/pause', (ctx) => {
    ctx.body = { schedule: schedules.setPaused(caller(ctx), scheduleId(ctx), true) };
  });
  router.post('/schedules/:scheduleId/resume', (ctx) => {
    ctx.body = { schedule: schedules.setPaused(caller(ctx), scheduleId(ctx), false) };
  });
  router.delete('/schedules/:scheduleId', (ctx) => {
    schedules.remove(caller(ctx), scheduleId(ctx));
    ctx.status = 204;
  });
}
