/**
 * Who is calling: a login token from `Authorization: Bearer <token>` or, for browsers (and their
 * EventSource, which cannot set headers), from the HttpOnly cookie set at login.
 */
import type { Context, Next } from 'koa';
import { JobvisorError } from '../shared/errors.js';
import type { Caller } from '../shared/types.js';
import type { Accounts, AuthenticatedUser } from './accounts.js';
import { isApiToken } from './apiTokens.js';

export const TOKEN_COOKIE = 'jobvisor_token';
const COOKIE_PATH = '/api';

/** What the server keeps in `ctx.state` for a request. */
export interface ServerState {
  caller?: Caller;
  token?: string;
  /** The token's user and kind (a login's, or an API token with its scope). */
  auth?: AuthenticatedUser;
}

/** The token the request carries and where it came from; undefined when it carries none. */
export function requestToken(ctx: Context): { token: string; fromCookie: boolean } | undefined {
  const header = ctx.get('authorization');
  if (header !== '') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new JobvisorError('UNAUTHENTICATED', 'authorization header must be "Bearer <token>"');
    return { token: match[1], fromCookie: false };
  }
  const cookie = ctx.cookies.get(TOKEN_COOKIE);
  return cookie ? { token: cookie, fromCookie: true } : undefined;
}

/** Middleware: lets the request through only with a valid token; sets `ctx.state.caller`. */
export function requireCaller(accounts: Accounts) {
  return async function authenticate(ctx: Context, next: Next): Promise<void> {
    const found = requestToken(ctx);
    if (found === undefined) throw new JobvisorError('UNAUTHENTICATED', 'authentication required: log in and send the token');
    if (found.fromCookie) refuseCrossOrigin(ctx);
    if (found.fromCookie && isApiToken(found.token)) throw new JobvisorError('UNAUTHENTICATED', 'an API token goes in the Authorization header ("Bearer jvt_..."), never in a cookie');
    const user = accounts.authenticate(found.token, ctx.ip);
    if (!user) throw new JobvisorError('UNAUTHENTICATED', 'token is not valid or has expired; log in again');
    if (user.scope === 'read' && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw new JobvisorError('TOKEN_READ_ONLY', `this API token (${user.tokenId ?? ''}) is read-only: it may call GET routes only`);
    }
    const state = ctx.state as ServerState;
    state.caller = { username: user.username, role: user.role };
    state.token = found.token;
    state.auth = user;
    await next();
  };
}

/**
 * A browser sends the cookie by itself, so a page of another site (SameSite=Strict stops those)
 * or of a sibling origin of the same site could make it act for the user. Only our own origin
 * may change anything by cookie: browsers say where a request comes from in `Sec-Fetch-Site`,
 * and (older ones too) in `Origin`, which must then be this server's own origin: the scheme
 * and host the request came to (behind a reverse proxy with `trustProxy`, the ones it forwarded
 * in X-Forwarded-Proto and -Host; without it the proxy must pass the original Host on).
 */
function refuseCrossOrigin(ctx: Context): void {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return;
  const site = ctx.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    throw new JobvisorError('FORBIDDEN', 'a request from another origin may not use the login cookie');
  }
  const origin = ctx.get('origin');
  if (origin !== '' && !sameOrigin(origin, `${ctx.protocol}://${ctx.host}`)) {
    throw new JobvisorError('FORBIDDEN', `a request from another origin (${origin.slice(0, 200)}) may not use the login cookie`);
  }
}

/** Whether two origins are the same, as URLs compare them (case, default ports); `null` and junk match nothing. */
function sameOrigin(a: string, b: string): boolean {
  try {
    const ua = new URL(a);
    return ua.origin !== 'null' && ua.origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** The caller that requireCaller let through. */
export function callerOf(ctx: Context): Caller {
  const caller = (ctx.state as ServerState).caller;
  if (!caller) throw new Error('route has no requireCaller in front of it');
  return caller;
}

/** Refuses API tokens: what only a login may do (change the password, make API tokens). */
export function requireSession(ctx: Context): void {
  if ((ctx.state as ServerState).auth?.tokenKind !== 'session') throw new JobvisorError('SESSION_REQUIRED', 'this needs a login (POST /api/auth/login), not an API token');
}

export function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new JobvisorError('FORBIDDEN', 'only admins may do this');
}

export function setTokenCookie(ctx: Context, token: string, expiresAt: number): void {
  ctx.cookies.set(TOKEN_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: COOKIE_PATH,
    expires: new Date(expiresAt),
    secure: ctx.secure,
    overwrite: true,
  });
}

export function clearTokenCookie(ctx: Context): void {
  ctx.cookies.set(TOKEN_COOKIE, '', {
    httpOnly: true,
    sameSite: 'strict',
    path: COOKIE_PATH,
    expires: new Date(0),
    secure: ctx.secure,
    overwrite: true,
  });
}
