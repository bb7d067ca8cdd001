/**
 * Enrolled workers, for admins: enrollment tokens (`POST/GET /api/admin/enrollments`,
 * `DELETE /api/admin/enrollments/:enrollmentId`) and the workers that joined
 * (`GET /api/admin/workers`). Checked here (admin, body), answered by the supervisor.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { JobvisorError } from '../shared/errors.js';
import { parseBody } from '../shared/httpBody.js';
import { EnrollmentBody } from '../shared/workersApi.js';
import { callerOf, requireAdmin } from './auth.js';
import type { RouteDeps } from './routes.js';
import type { SupervisorRequest } from './supervisorClient.js';

export function addWorkerRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const forward = async (ctx: Context, req: Omit<SupervisorRequest, 'caller'>) => {
    requireAdmin(callerOf(ctx));
    const answer = await deps.supervisor.request({ ...req, caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  };
  router.post('/admin/enrollments', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    const body = await parseBody(ctx, EnrollmentBody, deps.config.maxBodyBytes);
    await forward(ctx, { method: 'POST', path: '/admin/enrollments', body });
  });
  router.get('/admin/enrollments', auth, (ctx) => forward(ctx, { method: 'GET', path: '/admin/enrollments' }));
  router.delete('/admin/enrollments/:enrollmentId', auth, (ctx) => {
    requireAdmin(callerOf(ctx));
    const id = ctx.params.enrollmentId ?? '';
    if (!/^[a-f0-9]{12}$/.test(id)) throw new JobvisorError('ENROLLMENT_NOT_FOUND', `no enrollment ${id}`);
    return forward(ctx, { method: 'DELETE', path: `/admin/enrollments/${id}` });
  });
  router.get('/admin/workers', auth, (ctx) => forward(ctx, { method: 'GET', path: '/admin/workers' }));
}
