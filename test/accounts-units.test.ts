/**
 * The accounts database's bounds, with a clock the test drives: the audit log keeps at most
 * `maxEntries` and nothing past its retention; failed logins share an entry per name, address
 * and hour; an API token's last use is written at most once a minute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/server/accounts.js';

describe('accounts database bounds', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function open(clock: { now: number }, more: Partial<ConstructorParameters<typeof Accounts>[1]> = {}): Accounts {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-accounts-'));
    dirs.push(dir);
    return new Accounts(path.join(dir, 'accounts.sqlite'), { tokenTtlMs: 3600_000, now: () => clock.now, ...more });
  }

  it('keeps at most auditMaxEntries entries, the newest, and none older than auditRetentionDays', () => {
    const clock = { now: 1_000_000 };
    const a = open(clock, { auditMaxEntries: 5, auditRetentionDays: 1 });
    for (let i = 0; i < 12; i++) a.audit.record({ actor: 'admin', action: 'user.create', target: `u${i}`, address: '127.0.0.1' });
    const kept = a.audit.list({ limit: 100 }).entries;
    expect(kept.map((e) => e.target)).toEqual(['u11', 'u10', 'u9', 'u8', 'u7']);
    clock.now += 2 * 24 * 3600_000;
    a.audit.record({ actor: 'admin', action: 'user.delete', target: 'u11', address: null });
    expect(a.audit.list({ limit: 100 }).entries.map((e) => e.action)).toEqual(['user.delete']);
    a.close();
  });

  it('counts failed logins in one entry per (name, address, hour)', () => {
    const clock = { now: 10 * 3600_000 };
    const a = open(clock);
    for (let i = 0; i < 1000; i++) a.audit.failedLogin('alice', '10.0.0.1');
    a.audit.failedLogin('alice', '10.0.0.2');
    clock.now += 3600_000;
    a.audit.failedLogin('alice', '10.0.0.1');
    const entries = a.audit.list({ limit: 100, action: 'login.failed' }).entries;
    expect(entries.map((e) => [e.address, e.details?.count])).toEqual([['10.0.0.1', 1], ['10.0.0.2', 1], ['10.0.0.1', 1000]]);
    a.close();
  });

  it('writes a token\'s last use at most once a minute', async () => {
    const clock = { now: 5_000_000 };
    const a = open(clock);
    await a.createUser('alice', 'alice-password', 'user');
    const { token } = a.apiTokens.create('alice', 't', 'read');
    const lastUsed = () => a.apiTokens.list('alice')[0]?.lastUsedAt;
    expect(a.authenticate(token, '127.0.0.1')).toMatchObject({ username: 'alice', tokenKind: 'api', scope: 'read' });
    expect(lastUsed()).toBe(5_000_000);
    clock.now += 30_000;
    a.authenticate(token, '127.0.0.1');
    expect(lastUsed()).toBe(5_000_000);
    clock.now += 31_000;
    a.authenticate(token, '127.0.0.1');
    expect(lastUsed()).toBe(5_061_000);
    a.close();
  });

  it('refuses an expired API token', async () => {
    const clock = { now: 5_000_000 };
    const a = open(clock, { apiTokenMaxDays: 2 });
    await a.createUser('alice', 'alice-password', 'user');
    const { token } = a.apiTokens.create('alice', 't', 'full', 1);
    expect(a.authenticate(token)).toBeDefined();
    clock.now += 24 * 3600_000;
    expect(a.authenticate(token)).toBeUndefined();
    expect(a.apiTokens.list('alice')).toEqual([]);
    a.close();
  });
});
