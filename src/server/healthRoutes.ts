/**
 * Liveness and readiness, beside `GET /api/health` (kept as it was):
 * - `GET /api/health/live`: the server process answers; it asks nothing else (a restart helps only if this fails).
 * - `GET /api/health/ready`: the supervisor is reachable and its database answers: 200, else 503
 *   saying which and why (send traffic elsewhere meanwhile).
 */
import type Router from '@koa/router';
import type { ReadinessAnswer } from '../shared/metricsApi.js';
import type { SupervisorClient } from './supervisorClient.js';
import type { Config } from '../shared/config.js';

export function addHealthRoutes(router: Router, deps: { supervisor: SupervisorClient; config: Config }): void {
  router.get('/health/live', (ctx) => {
    ctx.body = { ok: true };
  });
  router.get('/health/ready', async (ctx) => {
    const answer: ReadinessAnswer = await deps.supervisor.readiness(deps.config.supervisorProbeTimeoutMs);
    ctx.status = answer.ready ? 200 : 503;
    ctx.body = answer;
  });
}
