/**
 * The supervisor's `GET /metrics` (Prometheus text of its own registry) and `GET /health/ready`
 * (its database answers). Mounted before the routes that need the shared secret: `/metrics`
 * checks its own access (setting metricsAccess): `open` lets anyone read it; otherwise the shared
 * secret (the server, which aggregates it) or, with `token`, the metrics token is needed.
 * Readiness is open, like `/health`: it says ok or failed, and a storage error's code only.
 */
import Router from '@koa/router';
import { JobvisorError } from '../shared/errors.js';
import { bearerIs, type MetricsAccess, type SupervisorReadiness } from '../shared/metricsApi.js';
import { storageError } from '../shared/storageErrors.js';
import type { SupervisorMetrics } from './metrics.js';
import type { JobStore } from './store.js';

export interface SupervisorMetricsRouteDeps {
  metrics: SupervisorMetrics;
  store: Pick<JobStore, 'ping'>;
  secret: string;
  access: MetricsAccess;
  token: string | undefined;
}

export function createSupervisorMetricsRouter(deps: SupervisorMetricsRouteDeps): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const auth = ctx.get('authorization');
    const allowed = deps.access === 'open' || bearerIs(auth, deps.secret) || (deps.access === 'token' && bearerIs(auth, deps.token));
    if (!allowed) throw new JobvisorError('UNAUTHENTICATED', 'the supervisor\'s metrics need the shared secret (or, with metricsAccess token, the metrics token)');
    const text = await deps.metrics.text();
    ctx.set('content-type', deps.metrics.contentType);
    ctx.body = text;
  });
  router.get('/health/ready', (ctx) => {
    const answer = readiness(deps.store);
    ctx.status = answer.ready ? 200 : 503;
    ctx.body = answer;
  });
  return router;
}

function readiness(store: Pick<JobStore, 'ping'>): SupervisorReadiness {
  try {
    store.ping();
    return { ready: true, database: 'ok' };
  } catch (err) {
    const storage = storageError(err, 'the supervisor');
    return { ready: false, database: 'failed', reason: storage ? `the job database does not answer (${storage.code})` : 'the job database does not answer' };
  }
}
