/**
 * Site roles (setting `roles`): they act as `user` for access, have their own quotas when the
 * site names them, and admins create users with them; the role reaches the supervisor with
 * every request. An accounts database from before (role CHECK constraint) takes them after it
 * is opened, keeping its users and tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts, hashPassword, hashToken } from '../src/server/accounts.js';
import { ConfigError, loadConfig } from '../src/shared/config.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('site roles', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_ROLES: '["premium"]', JOBVISOR_QUOTAS: JSON.stringify({ premium: { activeRuns: 1 } }) } });
    admin = await jv.login();
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  it('lets admins create users with a site role, refuses an unknown role, and keeps the role on the account', async () => {
    const created = await admin.post('/api/users', { username: 'carol', password: 'carol-password', role: 'premium' });
    expect([created.status, created.body.user.role]).toEqual([201, 'premium']);
    const unknown = await admin.post('/api/users', { username: 'dan', password: 'dan-password', role: 'gold' });
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    expect((await admin.get('/api/users')).body.users.map((u: { username: string }) => u.username)).not.toContain('dan');
    const carol = await jv.login('carol', 'carol-password');
    expect((await carol.get('/api/auth/me')).body.user).toEqual({ username: 'carol', role: 'premium' });
  });

  it('treats a site role as a user for access, with its own quotas', async () => {
    const carol = await jv.login('carol', 'carol-password');
    expect((await carol.get('/api/users')).status).toBe(403);
    expect((await carol.get('/api/agents')).status).toBe(403);
    expect((await carol.get('/api/jobs?all=1')).status).toBe(403);
    const first = await carol.run({ template: 'sleep', jobKey: 'one', parameters: { seconds: 60, lines: 0 } });
    const second = await carol.post('/api/jobs', { template: 'sleep', jobKey: 'two', parameters: { seconds: 0, lines: 0 } });
    expect([second.status, second.body.error.code, second.body.error.details]).toEqual([429, 'QUOTA_EXCEEDED', { quota: 'activeRuns', limit: 1 }]);
    expect(second.body.error.message).toContain('quotas.premium.activeRuns = 1');
    // A plain user keeps the user quotas (100 runs at once by default).
    const erin = await jv.addUser(admin, 'erin');
    await erin.run({ template: 'sleep', jobKey: 'a', parameters: { seconds: 60, lines: 0 } });
    await erin.run({ template: 'sleep', jobKey: 'b', parameters: { seconds: 60, lines: 0 } });
    // carol sees her own job, not erin's; admins see both.
    expect((await carol.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).toEqual(['one']);
    expect((await carol.post(`/api/jobs/${first.jobId}/cancel`, {})).status).toBe(200);
  }, 60_000);
});

describe('site roles in the configuration and an older accounts database', () => {
  it('refuses quotas that name a role the site does not have, and "user"/"admin" as site roles', () => {
    expect(() => loadConfig({ JOBVISOR_QUOTAS: '{"gold": {"activeRuns": 2}}' }, undefined)).toThrow(ConfigError);
    expect(() => loadConfig({ JOBVISOR_ROLES: '["admin"]' }, undefined)).toThrow(/built in/);
    const c = loadConfig({ JOBVISOR_ROLES: '["gold"]', JOBVISOR_QUOTAS: '{"gold": {"activeRuns": 2}}' }, undefined);
    expect(c.roles).toEqual(['gold']);
    expect(c.quotas.gold).toMatchObject({ activeRuns: 2, storedJobs: 10_000 });
  });

  it('opens an accounts database whose users table allows only user and admin, keeping its users and tokens', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-accounts-'));
    try {
      const file = path.join(dir, 'accounts.sqlite');
      const old = new Database(file);
      old.exec(`CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'admin')), created_at INTEGER NOT NULL);
        CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL);`);
      old.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run('olduser', await hashPassword('old-password'), 'user', 1);
      old.prepare('INSERT INTO tokens VALUES (?, ?, ?, ?)').run(hashToken('old-token'), 'olduser', Date.now() + 3600_000, 1);
      expect(() => old.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run('x', 'h', 'premium', 1)).toThrow(/CHECK/);
      old.close();

      const accounts = new Accounts(file, { tokenTtlMs: 3600_000 });
      try {
        expect(accounts.authenticate('old-token')).toMatchObject({ username: 'olduser', role: 'user' });
        await accounts.createUser('pat', 'pat-password', 'premium');
        expect(accounts.listUsers().map((u) => [u.username, u.role])).toEqual([
          ['olduser', 'user'],
          ['pat', 'premium'],
        ]);
        expect((await accounts.login('olduser', 'old-password')).user.role).toBe('user');
        expect(accounts.settings('pat')).toEqual({ email: null, notifyOnEnd: 'never' });
      } finally {
        accounts.close();
      }
      // Opened again: nothing to rebuild, nothing lost.
      const again = new Accounts(file, { tokenTtlMs: 3600_000 });
      expect(again.listUsers()).toHaveLength(2);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
