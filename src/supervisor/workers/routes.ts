/**
 * The supervisor's routes of enrolled workers (admins only; the server checks first, these
 * again): enrollment tokens, shown once and kept hashed, revoked at once, and the workers.
 */
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { JobvisorError } from '../../shared/errors.js';
import { parseBody } from '../../shared/httpBody.js';
import { EnrollmentBody, type EnrollmentView } from '../../shared/workersApi.js';
import type { Driver } from '../../drivers/driver.js';
import { caller } from '../routes.js';
import type { EnrollmentRow, SqliteWorkerStore } from '../store/workers.js';
import { tokenHash, type WorkerPool } from './pool.js';

export interface WorkerRouteDeps {
  pool: WorkerPool;
  store: SqliteWorkerStore;
  drivers: ReadonlyMap<string, Driver>;
  maxBodyBytes: number;
  /** The URL workers connect to (`--enroll`): the supervisor's agentUrl; given in the answers so a GUI can show the command line. */
  agentUrl?: () => string;
  now?: () => number;
}

function admin(ctx: Context) {
  const c = caller(ctx);
  if (c.role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins manage enrolled workers');
  return c;
}

export function addWorkerRoutes(router: Router, deps: WorkerRouteDeps): void {
  const now = deps.now ?? Date.now;
  const view = (e: EnrollmentRow): EnrollmentView => ({
    id: e.id, name: e.name, target: e.target, labels: e.labels, users: e.users, createdAt: e.createdAt, createdBy: e.createdBy, expiresAt: e.expiresAt, revokedAt: e.revokedAt,
    connectedWorkers: deps.pool.connectedOf(e.id),
  });
  router.post('/admin/enrollments', async (ctx) => {
    const by = admin(ctx);
    const body = await parseBody(ctx, EnrollmentBody, deps.maxBodyBytes);
    const enrolled = [...deps.drivers.values()].filter((d) => d.enrolled !== undefined).map((d) => d.info.name);
    const target = body.target ?? enrolled[0];
    if (target === undefined || !enrolled.includes(target)) {
      throw new JobvisorError('INVALID_INPUT', enrolled.length === 0 ? 'no target of this site takes enrolled workers (a target with driver "workers")' : `target ${target} does not take enrolled workers; those that do: ${enrolled.join(', ')}`);
    }
    if (body.expiresAt !== undefined && body.expiresAt <= now()) throw new JobvisorError('INVALID_INPUT', 'expiresAt is in the past');
    const token = randomBytes(32).toString('base64url');
    const row: EnrollmentRow = {
      id: randomBytes(6).toString('hex'), name: body.name, target, tokenHash: tokenHash(token), labels: body.labels ?? null, users: body.users ?? null,
      createdAt: now(), createdBy: by.username, expiresAt: body.expiresAt ?? null, revokedAt: null,
    };
    deps.store.addEnrollment(row);
    ctx.status = 201;
    ctx.body = { enrollment: view(row), token, agentUrl: deps.agentUrl?.() ?? null };
  });
  router.get('/admin/enrollments', (ctx) => {
    admin(ctx);
    ctx.body = { enrollments: deps.store.enrollments().map(view), agentUrl: deps.agentUrl?.() ?? null };
  });
  router.delete('/admin/enrollments/:enrollmentId', (ctx) => {
    admin(ctx);
    const e = deps.store.enrollment(ctx.params.enrollmentId ?? '');
    if (!e) throw new JobvisorError('ENROLLMENT_NOT_FOUND', `no enrollment ${ctx.params.enrollmentId ?? ''}`);
    deps.store.revoke(e.id, now());
    const disconnected = deps.pool.revoked(e.id, e.name);
    ctx.body = { enrollment: view(deps.store.enrollment(e.id) ?? e), disconnected };
  });
  router.get('/admin/workers', (ctx) => {
    admin(ctx);
    ctx.body = { workers: deps.pool.list() };
  });
}
