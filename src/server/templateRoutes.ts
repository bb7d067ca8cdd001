/**
 * The templates folder, for admins: its state and problems (`GET /api/admin/templates`) and a
 * reload (`POST /api/admin/templates/reload`). Checked here (admin, body), answered by the supervisor.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { parseBody } from '../shared/httpBody.js';
import { TemplatesReloadBody } from '../shared/templatesApi.js';
import { callerOf, requireAdmin } from './auth.js';
import type { RouteDeps } from './routes.js';

export function addTemplateRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.get('/admin/templates', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    const answer = await deps.supervisor.request({ method: 'GET', path: '/admin/templates', caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  });
  router.post('/admin/templates/reload', auth, async (ctx) => {
    requireAdmin(callerOf(ctx));
    const body = await parseBody(ctx, TemplatesReloadBody, deps.config.maxBodyBytes);
    const answer = await deps.supervisor.request({ method: 'POST', path: '/admin/templates/reload', body, caller: callerOf(ctx) });
    ctx.status = answer.status;
    ctx.body = answer.body ?? null;
  });
}
