/**
 * Account routes (README, "Accounts and API tokens"): the caller's own password and API
 * tokens; admins' changes to users (role, disable/enable, password reset, sessions, delete,
 * their tokens); the audit log. Every change is written to the audit log with who did it, to
 * whom, and from which address; a change that ends logins also ends their event streams at once.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import {
  AuditQuery,
  ChangePasswordBody,
  CreateTokenBody,
  DeleteUserQuery,
  ResetPasswordBody,
  UpdateUserBody,
  type AuditAction,
  type UserView,
} from '../shared/accountsApi.js';
import { JobvisorError } from '../shared/errors.js';
import { parseBody, parseInput } from '../shared/httpBody.js';
import { NAME_PATTERN, ROLES } from '../shared/types.js';
import type { User } from './accounts.js';
import { callerOf, requireAdmin, requireSession, type ServerState } from './auth.js';
import type { RouteDeps } from './routes.js';
import { activeJobs, pauseSchedules, removeUserData } from './userData.js';
import type { Caller } from '../shared/types.js';

const TOKEN_ID = /^[0-9a-f]{16}$/;

export function userView(user: User): UserView {
  return { username: user.username, role: user.role, createdAt: user.createdAt, disabledAt: user.disabledAt };
}

export function addAccountRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.param('username', (username, _ctx, next) => {
    if (!NAME_PATTERN.test(username)) throw new JobvisorError('USER_NOT_FOUND', `no user ${username}`);
    return next();
  });
  router.param('tokenId', (tokenId, _ctx, next) => {
    if (!TOKEN_ID.test(tokenId)) throw new JobvisorError('TOKEN_NOT_FOUND', `no API token ${tokenId}`);
    return next();
  });
  addOwnRoutes(router, deps, auth);
  addUserAdminRoutes(router, deps, auth);
}

/** Writes an audit entry for the request's caller. */
export function audit(deps: RouteDeps, ctx: Context, action: AuditAction, target: string | null, details?: Record<string, unknown>): void {
  deps.accounts.audit.record({ actor: callerOf(ctx).username, action, target, address: ctx.ip, details });
  deps.logger.info({ action, user: target, by: callerOf(ctx).username, address: ctx.ip }, 'account change');
}

/**
 * A disabled user's schedules are paused (they stay paused when the user is enabled again). The
 * account is disabled already: a supervisor that cannot be asked now leaves them as they were,
 * which the audit entry says.
 */
async function pausedSchedules(deps: RouteDeps, user: Caller): Promise<Record<string, unknown>> {
  try {
    return { pausedSchedules: await pauseSchedules(deps.supervisor, user) };
  } catch (err) {
    deps.logger.warn({ err, user: user.username }, 'could not pause the schedules of a disabled user');
    return { pausedSchedules: [], pauseFailed: err instanceof JobvisorError ? err.code : 'INTERNAL' };
  }
}

function addOwnRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const { accounts } = deps;
  router.post('/auth/password', auth, async (ctx) => {
    requireSession(ctx);
    const body = await parseBody(ctx, ChangePasswordBody, deps.config.maxBodyBytes);
    const me = callerOf(ctx).username;
    // A wrong current password counts as a failed login: a stolen session cannot guess it freely.
    const attempt = await deps.loginLimits.begin(me, ctx.ip);
    const sessionsEnded = await accounts.changePassword(me, body.currentPassword, body.newPassword, (ctx.state as ServerState).token).catch(async (err: unknown) => {
      if (err instanceof JobvisorError && err.code === 'WRONG_PASSWORD') await attempt.failed();
      else await attempt.cancel();
      throw err;
    });
    await attempt.succeeded();
    deps.events.endRevoked(me, 'password changed');
    audit(deps, ctx, 'password.change', me, { sessionsEnded });
    ctx.body = { sessionsEnded };
  });

  router.get('/auth/tokens', auth, (ctx) => {
    ctx.body = { tokens: accounts.apiTokens.list(callerOf(ctx).username) };
  });
  router.post('/auth/tokens', auth, async (ctx) => {
    requireSession(ctx);
    const body = await parseBody(ctx, CreateTokenBody, deps.config.maxBodyBytes);
    const me = callerOf(ctx).username;
    const { token, view } = accounts.apiTokens.create(me, body.name, body.scope, body.expiresInDays);
    audit(deps, ctx, 'token.create', me, { tokenId: view.tokenId, name: view.name, scope: view.scope, expiresAt: view.expiresAt });
    ctx.status = 201;
    ctx.body = { token, tokenInfo: view };
  });
  router.delete('/auth/tokens/:tokenId', auth, (ctx) => {
    const me = callerOf(ctx).username;
    const view = accounts.apiTokens.revoke(me, ctx.params.tokenId ?? '');
    deps.events.endRevoked(me, 'API token revoked');
    audit(deps, ctx, 'token.revoke', me, { tokenId: view.tokenId, name: view.name });
    ctx.status = 204;
  });
}

function addUserAdminRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  const { accounts } = deps;
  const admin = (ctx: Context): string => {
    requireAdmin(callerOf(ctx));
    const username = ctx.params.username ?? '';
    accounts.user(username);
    return username;
  };

  router.patch('/users/:username', auth, async (ctx) => {
    const username = admin(ctx);
    const body = await parseBody(ctx, UpdateUserBody, deps.config.maxBodyBytes);
    const before = accounts.user(username);
    if (body.role !== undefined) {
      const roles = [...ROLES, ...(deps.config.roles ?? [])];
      if (!roles.includes(body.role)) throw new JobvisorError('INVALID_INPUT', `role "${body.role}" is not one of this site's roles: ${roles.join(', ')}`);
      // Checked before anything changes: a refused disable must not leave a changed role.
      if (body.disabled === true) accounts.refuseLastAdmin(before, 'disabled');
      if (body.role !== before.role) {
        accounts.setRole(username, body.role);
        deps.events.endRevoked(username, 'role changed', true); // clients reconnect with the new role
        audit(deps, ctx, 'user.role', username, { from: before.role, to: body.role });
      }
    }
    if (body.disabled !== undefined && body.disabled !== (before.disabledAt !== null)) {
      accounts.setDisabled(username, body.disabled);
      if (body.disabled) deps.events.endRevoked(username, 'account disabled');
      audit(deps, ctx, body.disabled ? 'user.disable' : 'user.enable', username, body.disabled ? await pausedSchedules(deps, { username, role: body.role ?? before.role }) : undefined);
    }
    ctx.body = { user: userView(accounts.user(username)) };
  });

  router.post('/users/:username/password', auth, async (ctx) => {
    const username = admin(ctx);
    const body = await parseBody(ctx, ResetPasswordBody, deps.config.maxBodyBytes);
    const answer = await accounts.resetPassword(username, body.password);
    deps.events.endRevoked(username, 'password reset');
    audit(deps, ctx, 'password.reset', username, { generated: body.password === undefined, sessionsEnded: answer.sessionsEnded });
    ctx.body = answer;
  });

  router.delete('/users/:username/sessions', auth, (ctx) => {
    const username = admin(ctx);
    // An admin revoking their own sessions keeps the one they ask with.
    const keep = username === callerOf(ctx).username ? (ctx.state as ServerState).token : undefined;
    const sessionsEnded = accounts.revokeSessions(username, keep);
    deps.events.endRevoked(username, 'sessions revoked');
    audit(deps, ctx, 'sessions.revoke', username, { sessionsEnded });
    ctx.body = { sessionsEnded };
  });

  router.get('/users/:username/tokens', auth, (ctx) => {
    ctx.body = { tokens: accounts.apiTokens.list(admin(ctx)) };
  });
  router.delete('/users/:username/tokens/:tokenId', auth, (ctx) => {
    const username = admin(ctx);
    const view = accounts.apiTokens.revoke(username, ctx.params.tokenId ?? '');
    deps.events.endRevoked(username, 'API token revoked');
    audit(deps, ctx, 'token.revoke', username, { tokenId: view.tokenId, name: view.name });
    ctx.status = 204;
  });

  router.delete('/users/:username', auth, async (ctx) => {
    const username = admin(ctx);
    const query = parseInput(DeleteUserQuery, ctx.query, 'query');
    const user = accounts.user(username);
    accounts.refuseLastAdmin(user, 'deleted');
    const asUser = { username, role: user.role };
    const active = await activeJobs(deps.supervisor, asUser);
    if (active.length > 0 && query.jobs !== 'cancel') {
      throw new JobvisorError('USER_HAS_ACTIVE_RUNS', `${username} has ${active.length} active run(s); delete with ?jobs=cancel to cancel them and delete everything`, { activeJobs: active });
    }
    // Disabled first: no login, token or new run of theirs meanwhile. Stays so if a removal fails.
    if (user.disabledAt === null) {
      accounts.setDisabled(username, true);
      deps.events.endRevoked(username, 'account being deleted');
      audit(deps, ctx, 'user.disable', username, { forDelete: true });
    }
    const removed = await removeUserData(deps.supervisor, asUser);
    accounts.deleteUser(username);
    deps.events.endRevoked(username, 'account deleted');
    audit(deps, ctx, 'user.delete', username, { ...removed, canceledRuns: active.length });
    ctx.body = { deleted: username, ...removed };
  });

  router.get('/admin/audit', auth, (ctx) => {
    requireAdmin(callerOf(ctx));
    ctx.body = accounts.audit.list(parseInput(AuditQuery, ctx.query, 'query'));
  });
}
