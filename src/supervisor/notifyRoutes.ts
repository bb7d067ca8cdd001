/** The supervisor's admin routes of notifications and lifetimes: completion callback deliveries, and how long runs spent in each state. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CALLER_EMAIL_HEADER, CALLER_NOTIFY_HEADER, DeliveriesQuery, LifetimesQuery, NotifyOnEnd } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { parseInput } from '../shared/httpBody.js';
import { CALLER_ROLE_HEADER } from '../shared/api.js';
import { lifetimes } from './lifetimes.js';
import type { Contact } from './notify/runRequest.js';
import type { JobStore } from './store.js';

const WEEK_MS = 7 * 86_400_000;

function requireAdminCaller(ctx: Context, what: string): void {
  if (ctx.get(CALLER_ROLE_HEADER) !== 'admin') throw new JobvisorError('FORBIDDEN', `only admins see ${what}`);
}

export function addNotifyRoutes(router: Router, deps: { store: Pick<JobStore, 'deliveries' | 'endedRunTimes'>; now?: () => number }): void {
  router.get('/admin/deliveries', (ctx) => {
    requireAdminCaller(ctx, 'callback deliveries');
    const q = parseInput(DeliveriesQuery, ctx.query, 'query');
    ctx.body = { deliveries: deps.store.deliveries.list(q.jobId, q.limit) };
  });
  router.get('/admin/lifetimes', (ctx) => {
    requireAdminCaller(ctx, 'run lifetimes');
    const q = parseInput(LifetimesQuery, ctx.query, 'query');
    const until = q.until ?? (deps.now ?? Date.now)() + 1;
    const since = q.since ?? until - WEEK_MS;
    if (since >= until) throw new JobvisorError('INVALID_INPUT', `since (${since}) must be before until (${until})`);
    ctx.body = { since, until, lifetimes: lifetimes(deps.store.endedRunTimes(since, until)) };
  });
}

/** The caller's e-mail settings, as the server passes them with a run request (none: no e-mail). */
export function contactOf(ctx: Context): Contact | undefined {
  const email = ctx.get(CALLER_EMAIL_HEADER);
  const when = NotifyOnEnd.safeParse(ctx.get(CALLER_NOTIFY_HEADER));
  if (!email) return undefined;
  return { email, notifyOnEnd: when.success ? when.data : 'never' };
}
