/**
 * The server's Koa app, built without listening: `createServer(deps)` returns the app and the
 * caller decides where it listens (tests use port 0). It holds no job state.
 *
 * With `trustProxy`, Koa reads the request's protocol, host and client address from the reverse
 * proxy's X-Forwarded-Proto, -Host and -For (of X-Forwarded-For only the last address: the one
 * the proxy next to us saw, which a client cannot forge); without it those headers are ignored.
 */
import type Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Accounts } from './accounts.js';
import { errorHandler, routeNotFound } from '../shared/httpErrors.js';
import type { EventFanout } from './events.js';
import { serveGui } from './gui.js';
import { LoginLimits } from './loginLimits.js';
import { createRouter } from './routes.js';
import type { SupervisorClient } from './supervisorClient.js';
import { ServerMetrics } from './metrics.js';
import { createMetricsRouter } from './metricsRoutes.js';

export interface ServerDeps {
  config: Config;
  accounts: Accounts;
  supervisor: SupervisorClient;
  events: EventFanout;
  logger: Logger;
  /** Default: from the config's login settings. */
  loginLimits?: LoginLimits;
  /** Its Prometheus metrics (default: a registry of its own). */
  metrics?: ServerMetrics;
}

export function createServer(deps: ServerDeps): Koa {
  const { config, logger } = deps;
  const loginLimits =
    deps.loginLimits ??
    new LoginLimits({ perAccount: config.loginFailuresPerAccount, perAddress: config.loginFailuresPerAddress, windowSeconds: config.loginWindowSeconds, logger });
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  app.on('error', (err: Error & { code?: string }) => logStreamError(deps.logger, err));
  app.use(securityHeaders);
  app.use(requestLog(deps.logger));
  const metrics = deps.metrics ?? new ServerMetrics();
  metrics.bind({ eventClients: () => deps.events.clientCount });
  app.use(metrics.middleware());
  app.use(errorHandler(deps.logger));
  app.use(onlyOnPath(METRICS_PATH, createMetricsRouter({ ...deps, metrics }).routes()));
  app.use(createRouter({ ...deps, loginLimits }).routes());
  app.use(serveGui());
  app.use(routeNotFound);
  return app;
}

/** The metrics router's one route, as its router matches it: any case, with or without a trailing slash. */
const METRICS_PATH = /^\/metrics\/?$/i;

/**
 * Runs `middleware` only for the paths it answers: every other request (all of the API) skips
 * a router's dispatch, which matches the path, makes its arrays and emits its not-found event.
 */
function onlyOnPath(path: RegExp, middleware: ReturnType<Router['routes']>): Koa.Middleware {
  return (ctx, next) => (path.test(ctx.path) ? middleware(ctx as Parameters<typeof middleware>[0], next) : next());
}

async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  if (ctx.path === '/api' || ctx.path.startsWith('/api/')) {
    ctx.set('Cache-Control', 'no-store');
    // The API answers JSON and job output files; neither should ever run as a page of this origin.
    ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; sandbox");
  }
  await next();
}

function requestLog(logger: Logger) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    // At the usual info level there is nothing to log: no timer, no try/finally, no log object.
    if (!logger.isLevelEnabled('debug')) return next();
    const started = performance.now();
    try {
      await next();
    } finally {
      logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
    }
  };
}

/** Errors after the answer started (a download or event stream cut short): nothing left to answer. */
function logStreamError(logger: Logger, err: Error & { code?: string }): void {
  if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    logger.debug({ code: err.code }, 'client went away during an answer');
    return;
  }
  logger.warn({ err }, 'answer failed after it started');
}
