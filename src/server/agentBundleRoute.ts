/**
 * The agent bundle for enrolled workers (`GET /api/admin/agent-bundle`, admins): the one file
 * `dist/jobvisor-agent.mjs` that `npm run build` makes, so that an admin can hand it to a
 * machine without a checkout (`node jobvisor-agent.mjs --enroll ...`). The server reads it
 * from its own package: it knows no driver and asks the supervisor nothing.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { PACKAGE_ROOT } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import { callerOf, requireAdmin } from './auth.js';

export const AGENT_BUNDLE_FILE = path.join(PACKAGE_ROOT, 'dist', 'jobvisor-agent.mjs');

export function addAgentBundleRoute(router: Router, auth: Middleware, file = AGENT_BUNDLE_FILE): void {
  router.get('/admin/agent-bundle', auth, (ctx) => {
    requireAdmin(callerOf(ctx));
    if (!existsSync(file) || !statSync(file).isFile()) throw new JobvisorError('FILE_NOT_FOUND', 'this server has no agent bundle (dist/jobvisor-agent.mjs; npm run build makes it)');
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Content-Disposition', 'attachment; filename="jobvisor-agent.mjs"');
    ctx.set('Cache-Control', 'no-cache');
    ctx.length = statSync(file).size;
    ctx.body = createReadStream(file);
  });
}
