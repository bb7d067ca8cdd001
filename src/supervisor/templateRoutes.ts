/** The supervisor's admin routes of templates: the folder's state and its reload (templates.ts). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CALLER_ROLE_HEADER } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { parseBody } from '../shared/httpBody.js';
import { TemplatesReloadBody } from '../shared/templatesApi.js';
import type { TemplateCatalog } from './templates.js';

function requireAdminCaller(ctx: Context): void {
  if (ctx.get(CALLER_ROLE_HEADER) !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins manage templates');
}

export function addTemplateRoutes(router: Router, catalog: TemplateCatalog, maxBodyBytes = 1024 * 1024): void {
  router.get('/admin/templates', (ctx) => {
    requireAdminCaller(ctx);
    ctx.body = catalog.view();
  });
  router.post('/admin/templates/reload', async (ctx) => {
    requireAdminCaller(ctx);
    await parseBody(ctx, TemplatesReloadBody, maxBodyBytes);
    ctx.body = catalog.reload('admin');
  });
}
