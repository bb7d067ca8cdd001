/**
 * `GET /api/auth/session` (open): the caller's login if the request carries a valid one, else
 * `{user: null}`, always 200. The GUI asks it at start, so a fresh visit logs no failed request.
 */
import type Router from '@koa/router';
import type { AuthSessionAnswer } from '../shared/authSessionApi.js';
import { JobvisorError } from '../shared/errors.js';
import type { Accounts } from './accounts.js';
import { requestToken } from './auth.js';

/** The caller a request's token names, or null (no token, a malformed header, an unknown or expired token). */
function sessionOf(accounts: Accounts, found: () => ReturnType<typeof requestToken>): AuthSessionAnswer {
  let token: ReturnType<typeof requestToken>;
  try {
    token = found();
  } catch (err) {
    if (err instanceof JobvisorError && err.code === 'UNAUTHENTICATED') return { user: null };
    throw err;
  }
  const user = token === undefined ? undefined : accounts.authenticate(token.token);
  return { user: user ? { username: user.username, role: user.role } : null };
}

export function addAuthSessionRoute(router: Router, deps: { accounts: Accounts }): void {
  router.get('/auth/session', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = sessionOf(deps.accounts, () => requestToken(ctx));
  });
}
