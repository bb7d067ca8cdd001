/** The supervisor's pipeline routes (the server forwards `/api/pipelines...` here). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseBody, parseInput } from '../../shared/httpBody.js';
import { PipelineBody, PipelineListQuery } from '../../shared/pipelines.js';
import type { Caller } from '../../shared/types.js';
import type { PipelineService } from './service.js';

export function addPipelineRoutes(router: Router, pipelines: PipelineService, caller: (ctx: Context) => Caller, maxBodyBytes: number): void {
  const id = (ctx: Context) => String(ctx.params.pipelineId ?? '');
  router.post('/pipelines', async (ctx) => {
    const c = caller(ctx);
    ctx.status = 201;
    ctx.body = { pipeline: await pipelines.create(c, await parseBody(ctx, PipelineBody, maxBodyBytes)) };
  });
  router.get('/pipelines', (ctx) => {
    ctx.body = pipelines.list(caller(ctx), parseInput(PipelineListQuery, ctx.query, 'query'));
  });
  router.get('/pipelines/:pipelineId', (ctx) => {
    ctx.body = { pipeline: pipelines.get(caller(ctx), id(ctx)) };
  });
  router.post('/pipelines/:pipelineId/cancel', async (ctx) => {
    ctx.body = { pipeline: await pipelines.cancel(caller(ctx), id(ctx)) };
  });
  router.post('/pipelines/:pipelineId/resume', async (ctx) => {
    ctx.body = { pipeline: await pipelines.resume(caller(ctx), id(ctx)) };
  });
  router.delete('/pipelines/:pipelineId', async (ctx) => {
    await pipelines.remove(caller(ctx), id(ctx));
    ctx.status = 204;
  });
}
