/**
 * What a run request says about its end: whom to e-mail (the caller's address and preference,
 * passed by the server in headers, and the request's own `notify`), and its own callback URL
 * (only under one of the site's allowed prefixes).
 */
import type { NotifyOnEnd, RunBody } from '../../shared/api.js';
import { JobvisorError } from '../../shared/errors.js';
import type { RunNotify } from '../store.js';

/** The caller's e-mail settings, as the server passed them. */
export interface Contact {
  email: string | null;
  notifyOnEnd: NotifyOnEnd;
}

export function runNotify(body: Pick<RunBody, 'notify'>, contact: Contact | undefined): RunNotify | null {
  const email = contact?.email ?? null;
  if (body.notify?.email === true) {
    if (!email) throw new JobvisorError('INVALID_INPUT', 'this run asks to e-mail you when it ends, but your account has no e-mail address: set one (PUT /api/auth/me/settings {"email": ...})');
    return { email, when: 'always' };
  }
  if (!email || !contact || contact.notifyOnEnd === 'never' || body.notify?.email === false) return null;
  return { email, when: contact.notifyOnEnd };
}

/** The run's callback URL if the site allows it (it starts with one of `allowedPrefixes`); CALLBACK_NOT_ALLOWED otherwise. */
export function checkCallbackUrl(url: string | undefined, allowedPrefixes: readonly string[]): string | null {
  if (url === undefined) return null;
  if (!allowedPrefixes.some((p) => url.startsWith(p))) {
    const allowed = allowedPrefixes.length ? `it must start with one of: ${allowedPrefixes.join(', ')}` : 'this site allows no per-run callback URL (callbacks.allowedPrefixes is empty)';
    throw new JobvisorError('CALLBACK_NOT_ALLOWED', `callbackUrl ${url} is not allowed: ${allowed}`);
  }
  return url;
}
