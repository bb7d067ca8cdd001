/** The supervisor's batch route: `POST /jobs/batch` (see batch.ts). */
import type Router from '@koa/router';
import { parseBatch } from '../shared/batch.js';
import { readJsonBody } from '../shared/httpBody.js';
import type { Logger } from '../shared/logger.js';
import { submitBatch } from './batch.js';
import type { JobService } from './jobs.js';
import { contactOf } from './notifyRoutes.js';
import { caller } from './routes.js';

export interface BatchRouteDeps {
  jobs: JobService;
  maxRuns: number;
  maxBodyBytes: number;
  log: Logger;
}

export function addBatchRoutes(router: Router, deps: BatchRouteDeps): void {
  router.post('/jobs/batch', async (ctx) => {
    const who = caller(ctx);
    const runs = parseBatch(await readJsonBody(ctx, deps.maxBodyBytes), deps.maxRuns);
    ctx.body = { jobs: await submitBatch(deps.jobs.batchHost(), who, runs, contactOf(ctx), { log: deps.log }) };
  });
}
