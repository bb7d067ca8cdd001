/**
 * The caller's e-mail settings (`GET/PUT /api/auth/me/settings`), answered here from the
 * accounts database, and the admin views of notifications and lifetimes, forwarded to the
 * supervisor: `GET /api/admin/deliveries`, `GET /api/admin/lifetimes`.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { AccountSettingsBody, CALLER_EMAIL_HEADER, CALLER_NOTIFY_HEADER, DeliveriesQuery, LifetimesQuery } from '../shared/api.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import type { Caller } from '../shared/types.js';
import type { Accounts } from './accounts.js';
import { callerOf, requireAdmin } from './auth.js';
import type { RouteDeps } from './routes.js';

export function addNotifyRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.get('/auth/me/settings', auth, (ctx) => {
    ctx.body = { settings: deps.accounts.settings(callerOf(ctx).username) };
  });
  router.put('/auth/me/settings', auth, async (ctx) => {
    const body = await parseBody(ctx, AccountSettingsBody, deps.config.maxBodyBytes);
    ctx.body = { settings: deps.accounts.updateSettings(callerOf(ctx).username, body) };
  });
  const forwardAdmin = (path: string, query: Record<string, unknown>) => async (ctx: Parameters<Middleware>[0]) => {
    requireAdmin(callerOf(ctx));
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    const answer = await deps.supervisor.request({ method: 'GET', path: `${path}?${search.toString()}`, caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  };
  router.get('/admin/deliveries', auth, (ctx) => forwardAdmin('/admin/deliveries', parseInput(DeliveriesQuery, ctx.query, 'query'))(ctx));
  router.get('/admin/lifetimes', auth, (ctx) => forwardAdmin('/admin/lifetimes', parseInput(LifetimesQuery, ctx.query, 'query'))(ctx));
}

/** The headers that pass the caller's e-mail settings with a run request (none without an address). */
export function contactHeaders(accounts: Accounts, caller: Caller): Record<string, string> {
  const s = accounts.settings(caller.username);
  return s.email ? { [CALLER_EMAIL_HEADER]: s.email, [CALLER_NOTIFY_HEADER]: s.notifyOnEnd } : {};
}
