/**
 * The users of recently seen login tokens, so that a request with a known token does not hash
 * it and query the accounts database again (that lookup was an eighth of the server's CPU for a
 * request it answers itself). Only the server writes the accounts database, through Accounts,
 * which calls `clear()` on every change that can end or alter a login (logout, sessions
 * revoked, user disabled, deleted, given another role, new password). An entry also ends at the
 * token's expiry and at most `ttlMs` after it was looked up, as a bound on what a change made
 * elsewhere could leave stale. Bounded in size: when full, it starts again empty.
 */
import type { AuthenticatedUser } from './accounts.js';

interface Entry {
  user: AuthenticatedUser;
  /** The earlier of the token's expiry and lookup time + ttlMs. */
  validUntil: number;
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The token's user, when it was looked up less than ttlMs ago and has not expired since; else undefined. */
  get(token: string, now: number): AuthenticatedUser | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.validUntil > now) return entry.user;
    this.entries.delete(token);
    return undefined;
  }

  set(token: string, user: AuthenticatedUser, expiresAt: number, now: number): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(token, { user, validUntil: Math.min(expiresAt, now + this.ttlMs) });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
