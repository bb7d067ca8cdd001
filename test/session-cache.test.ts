/**
 * Login tokens are remembered for a moment after their lookup (src/server/sessionCache.ts):
 * every change that can end or alter a login must be seen by the very next request all the same;
 * a change made to the database behind the server's back is seen within a second; an expired
 * token is refused at once. The clock is the test's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/server/accounts.js';
import { SessionCache } from '../src/server/sessionCache.js';

describe('remembered login tokens', () => {
  const dirs: string[] = [];
  const opened: Accounts[] = [];
  afterEach(() => {
    for (const a of opened.splice(0)) a.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setUp(tokenTtlMs = 3600_000) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-sessions-'));
    dirs.push(dir);
    const clock = { now: 1_000_000 };
    const file = path.join(dir, 'accounts.sqlite');
    const a = new Accounts(file, { tokenTtlMs, now: () => clock.now });
    opened.push(a);
    await a.createUser('root', 'root-password', 'admin');
    await a.createUser('alice', 'alice-password', 'user');
    const token = (await a.login('alice', 'alice-password')).token;
    expect(a.authenticate(token)?.username).toBe('alice'); // looked up, now remembered
    expect(a.authenticate(token)?.username).toBe('alice'); // from memory
    return { a, clock, token, file };
  }

  it('refuses a token at once after its logout, its user disabled or deleted, or their sessions revoked', async () => {
    const changes: ((a: Accounts, token: string) => unknown)[] = [
      (a, token) => a.logout(token),
      (a) => a.setDisabled('alice', true),
      (a) => a.deleteUser('alice'),
      (a) => a.revokeSessions('alice'),
      (a) => a.resetPassword('alice', 'another-password'),
    ];
    for (const change of changes) {
      const { a, token } = await setUp();
      await change(a, token);
      expect(a.authenticate(token), change.toString()).toBeUndefined();
    }
  });

  it('sees a new role at the next request', async () => {
    const { a, token } = await setUp();
    a.setRole('alice', 'admin');
    expect(a.authenticate(token)?.role).toBe('admin');
  });

  it('keeps the caller logged in after their own password change, and ends their other logins', async () => {
    const { a, token } = await setUp();
    const other = (await a.login('alice', 'alice-password')).token;
    expect(a.authenticate(other)?.username).toBe('alice');
    await a.changePassword('alice', 'alice-password', 'new-alice-password', token);
    expect(a.authenticate(token)?.username).toBe('alice');
    expect(a.authenticate(other)).toBeUndefined();
  });

  it('refuses a remembered token once it expired', async () => {
    const { a, clock, token } = await setUp(500);
    clock.now += 499;
    expect(a.authenticate(token)?.username).toBe('alice');
    clock.now += 1;
    expect(a.authenticate(token)).toBeUndefined();
  });

  it('sees a change made to the database by another connection within one second', async () => {
    const { a, clock, token, file } = await setUp();
    const other = new Database(file);
    other.prepare('DELETE FROM tokens').run();
    other.close();
    expect(a.authenticate(token)?.username).toBe('alice'); // still remembered
    clock.now += 1000;
    expect(a.authenticate(token)).toBeUndefined();
  });

  it('holds at most maxEntries tokens and remembers none with a ttl of 0', () => {
    const cache = new SessionCache(1000, 3);
    const user = { username: 'u', role: 'user', createdAt: 0, disabledAt: null, tokenKind: 'session', scope: 'full' } as const;
    for (let i = 0; i < 10; i++) cache.set(`t${i}`, user, 10_000, 0);
    expect(cache.size).toBeLessThanOrEqual(3);
    expect(cache.get('t9', 0)).toBe(user);
    const none = new SessionCache(0, 3);
    none.set('t', user, 10_000, 0);
    expect(none.get('t', 0)).toBeUndefined();
  });
});
