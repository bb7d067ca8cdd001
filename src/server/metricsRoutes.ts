/**
 * `GET /metrics` on the server's address: the server's own metrics, then the supervisor's
 * (fetched from its `/metrics` with the shared secret and appended).
 *
 * Aggregated rather than proxied: a scraper needs one target only (the supervisor listens on
 * loopback or a Unix socket it often cannot reach), both halves come from one scrape, and the
 * server's access rule guards both. The two never share a metric name: the supervisor's own
 * families are `jobvisor_*` of its parts, the server's `jobvisor_http_*` and
 * `jobvisor_event_stream_*`, and each one's process metrics have its own prefix
 * (`jobvisor_server_`, `jobvisor_supervisor_`). A supervisor that does not answer within
 * supervisorProbeTimeoutMs leaves its half out and `jobvisor_supervisor_up` says 0.
 *
 * Who may read it (setting metricsAccess): `open` anyone; `admin` (the default, safe for a
 * public site) an admin's login or API token; `token` the bearer metricsToken (for a scraper), or an admin.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Config } from '../shared/config.js';
import { bearerIs } from '../shared/metricsApi.js';
import type { Accounts } from './accounts.js';
import { callerOf, requireAdmin, requireCaller } from './auth.js';
import type { ServerMetrics } from './metrics.js';
import type { SupervisorClient } from './supervisorClient.js';

export interface MetricsRouteDeps {
  config: Config;
  accounts: Accounts;
  supervisor: SupervisorClient;
  metrics: ServerMetrics;
}

export function createMetricsRouter(deps: MetricsRouteDeps): Router {
  const router = new Router();
  router.get('/metrics', metricsAccess(deps), async (ctx) => {
    const theirs = await deps.supervisor.metricsText(deps.config.supervisorProbeTimeoutMs);
    const ours = await deps.metrics.text(theirs !== undefined);
    ctx.set('content-type', deps.metrics.contentType);
    ctx.body = theirs === undefined ? ours : `${ours}${ours.endsWith('\n') ? '' : '\n'}${theirs}`;
  });
  return router;
}

function metricsAccess(deps: MetricsRouteDeps) {
  return async function checkMetricsAccess(ctx: Context, next: Next): Promise<void> {
    const access = deps.config.metricsAccess;
    if (access === 'open' || (access === 'token' && bearerIs(ctx.get('authorization'), deps.config.metricsToken))) return next();
    await requireCaller(deps.accounts)(ctx, async () => {
      requireAdmin(callerOf(ctx));
      await next();
    });
  };
}
