/**
 * `POST /api/jobs/batch`: up to `maxBatchRuns` run requests in one JSON body (at most
 * `maxBatchBodyBytes`), each checked here as a run request, then forwarded as one request;
 * the supervisor checks the batch as a whole and stores it all or nothing.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { parseBatch } from '../shared/batch.js';
import { readJsonBody } from '../shared/httpBody.js';
import { callerOf } from './auth.js';
import { contactHeaders } from './notifyRoutes.js';
import type { RouteDeps } from './routes.js';

export function addBatchRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.post('/jobs/batch', auth, async (ctx) => {
    const { config } = deps;
    const runs = parseBatch(await readJsonBody(ctx, config.maxBatchBodyBytes), config.maxBatchRuns);
    const caller = callerOf(ctx);
    const answer = await deps.supervisor.request({ method: 'POST', path: '/jobs/batch', caller, body: { runs }, headers: contactHeaders(deps.accounts, caller) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  });
}
