/**
 * The supervisor's routes of run files beyond a job's own: the retention sweep (admins) and
 * disk use (the caller's, or every user's for admins). The server checks roles first; these
 * check again.
 */
import type Router from '@koa/router';
import type { UserUsage } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import type { Retention } from './retention.js';
import { caller } from './routes.js';
import type { JobStore, UsageRow } from './store.js';

export interface RunsRouteDeps {
  retention: Retention;
  store: JobStore;
}

/** Disk use rows (per user and target) summed per user. */
export function usageByUser(rows: UsageRow[]): UserUsage[] {
  const users = new Map<string, UserUsage>();
  for (const r of rows) {
    let u = users.get(r.user);
    if (!u) users.set(r.user, (u = { user: r.user, bytes: 0, runs: 0, archivedBytes: 0, archivedRuns: 0, targets: [] }));
    u.bytes += r.bytes;
    u.runs += r.runs;
    u.archivedBytes += r.archivedBytes;
    u.archivedRuns += r.archivedRuns;
    u.targets.push({ target: r.target, bytes: r.bytes, runs: r.runs, archivedBytes: r.archivedBytes, archivedRuns: r.archivedRuns });
  }
  return [...users.values()];
}

export function addRunsRoutes(router: Router, deps: RunsRouteDeps): void {
  router.post('/admin/retention/sweep', async (ctx) => {
    if (caller(ctx).role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins start a retention sweep');
    ctx.body = { sweep: await deps.retention.sweep() };
  });
  router.get('/usage', (ctx) => {
    const c = caller(ctx);
    ctx.body = { usage: usageByUser(deps.store.usage(c.username))[0] ?? { user: c.username, bytes: 0, runs: 0, archivedBytes: 0, archivedRuns: 0, targets: [] } };
  });
  router.get('/admin/usage', (ctx) => {
    if (caller(ctx).role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins see every user’s disk use');
    ctx.body = { users: usageByUser(deps.store.usage()) };
  });
}
