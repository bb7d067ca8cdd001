/**
 * Accounts against the real server and supervisor: the caller's password change, admins'
 * changes to users (disable/enable, role, password reset, sessions, delete with the user's jobs),
 * API tokens (shown once, scoped, revocable, refused at once when their user is disabled), and the
 * audit log of every change. Each refusal has its stable code and changes nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

describe('accounts', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_PASSWORD_MIN_LENGTH: '10', JOBVISOR_API_TOKENS_PER_USER: '3', JOBVISOR_API_TOKEN_MAX_DAYS: '30' } });
    admin = await jv.login();
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
  });

  const code = (r: { status: number; body: any }) => [r.status, r.body?.error?.code];
  const anon = () => new Client(jv.serverUrl);
  const canLogin = async (username: string, password: string) => (await anon().post('/api/auth/login', { username, password })).status;
  const auditOf = async (query: string) => (await admin.get(`/api/admin/audit?${query}`)).body.entries as any[];

  it('changes the own password: wrong current and weak new refused, other sessions end, this one stays', async () => {
    const first = await jv.addUser(admin, 'carol', 'carol-password-1');
    const second = await jv.login('carol', 'carol-password-1');

    expect(code(await first.post('/api/auth/password', { currentPassword: 'wrong-password', newPassword: 'carol-password-2' }))).toEqual([403, 'WRONG_PASSWORD']);
    const short = await first.post('/api/auth/password', { currentPassword: 'carol-password-1', newPassword: 'short' });
    expect(code(short)).toEqual([400, 'PASSWORD_REJECTED']);
    expect(short.body.error.details.minLength).toBe(10);
    expect(code(await first.post('/api/auth/password', { currentPassword: 'carol-password-1', newPassword: 'carol' }))).toEqual([400, 'PASSWORD_REJECTED']);
    expect(code(await first.post('/api/auth/password', { currentPassword: 'carol-password-1', extra: 1 }))).toEqual([400, 'INVALID_INPUT']);
    // Nothing changed: both sessions work, the old password logs in.
    expect((await second.get('/api/auth/me')).status).toBe(200);
    expect(await canLogin('carol', 'carol-password-1')).toBe(200);

    const changed = await first.post('/api/auth/password', { currentPassword: 'carol-password-1', newPassword: 'carol-password-2' });
    expect(changed.status).toBe(200);
    expect(changed.body.sessionsEnded).toBeGreaterThanOrEqual(2);
    expect((await first.get('/api/auth/me')).status).toBe(200);
    expect(code(await second.get('/api/auth/me'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(await canLogin('carol', 'carol-password-1')).toBe(401);
    expect(await canLogin('carol', 'carol-password-2')).toBe(200);

    const entries = await auditOf('user=carol&action=password.change');
    expect(entries[0]).toMatchObject({ actor: 'carol', action: 'password.change', target: 'carol' });
    expect(entries[0].address).toMatch(/127\.0\.0\.1/);
    const wrong = await auditOf('action=password.change');
    expect(wrong).toHaveLength(1); // the refused attempts wrote nothing
  });

  it('API tokens: shown once, hashed, read scope refused on POST, revocable, by Bearer header only', async () => {
    const dave = await jv.addUser(admin, 'dave', 'dave-password-1');
    const read = await dave.post('/api/auth/tokens', { name: 'monitor', scope: 'read' });
    expect(read.status).toBe(201);
    expect(read.body.token).toMatch(/^jvt_[A-Za-z0-9_-]{43}$/);
    expect(read.body.tokenInfo).toMatchObject({ name: 'monitor', scope: 'read', user: 'dave', lastUsedAt: null, prefix: read.body.token.slice(0, 8) });
    expect(read.body.tokenInfo.expiresAt - read.body.tokenInfo.createdAt).toBe(30 * 24 * 3600_000);
    const full = await dave.post('/api/auth/tokens', { name: 'submit script', scope: 'full', expiresInDays: 7 });
    expect(full.status).toBe(201);

    // Refusals: too long, bad scope, an API token making tokens or changing the password.
    expect(code(await dave.post('/api/auth/tokens', { name: 'x', scope: 'full', expiresInDays: 31 }))).toEqual([400, 'INVALID_INPUT']);
    expect(code(await dave.post('/api/auth/tokens', { name: 'x', scope: 'admin' }))).toEqual([400, 'INVALID_INPUT']);
    const fullClient = new Client(jv.serverUrl, full.body.token);
    expect(code(await fullClient.post('/api/auth/tokens', { name: 'x', scope: 'full' }))).toEqual([403, 'SESSION_REQUIRED']);
    expect(code(await fullClient.post('/api/auth/password', { currentPassword: 'dave-password-1', newPassword: 'dave-password-2' }))).toEqual([403, 'SESSION_REQUIRED']);

    // The list never holds the token itself; the database holds only its hash.
    const listed = await dave.get('/api/auth/tokens');
    expect(listed.body.tokens.map((t: { name: string }) => t.name)).toEqual(['submit script', 'monitor']);
    expect(JSON.stringify(listed.body)).not.toContain(read.body.token);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(jv.dataDir, 'accounts.sqlite'), { readonly: true });
    try {
      const stored = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
      expect(stored).not.toContain(read.body.token.slice(4));
    } finally {
      db.close();
    }

    const readClient = new Client(jv.serverUrl, read.body.token);
    expect((await readClient.get('/api/jobs')).status).toBe(200);
    expect((await readClient.get('/api/auth/me')).body.user).toEqual({ username: 'dave', role: 'user' });
    const refused = await readClient.post('/api/jobs', { template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    expect(code(refused)).toEqual([403, 'TOKEN_READ_ONLY']);
    expect((await readClient.get('/api/jobs')).body.jobs).toEqual([]);
    const ran = await fullClient.post('/api/jobs', { template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    expect(ran.status).toBe(200);

    // As a cookie, an API token is refused.
    const cookie = await fetch(`${jv.serverUrl}/api/auth/me`, { headers: { cookie: `jobvisor_token=${read.body.token}` } });
    expect(cookie.status).toBe(401);

    // Last use noted (time and address).
    const used = (await dave.get('/api/auth/tokens')).body.tokens.find((t: { name: string }) => t.name === 'monitor');
    expect(used.lastUsedAt).toBeGreaterThan(0);
    expect(used.lastUsedFrom).toMatch(/127\.0\.0\.1/);

    // The limit (3 here): one more, then TOKEN_LIMIT.
    expect((await dave.post('/api/auth/tokens', { name: 'third', scope: 'read' })).status).toBe(201);
    expect(code(await dave.post('/api/auth/tokens', { name: 'fourth', scope: 'read' }))).toEqual([429, 'TOKEN_LIMIT']);

    // Revoke: the token stops at once; an unknown or another user's id is TOKEN_NOT_FOUND.
    expect((await dave.request('DELETE', `/api/auth/tokens/${read.body.tokenInfo.tokenId}`)).status).toBe(204);
    expect(code(await readClient.get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(code(await dave.request('DELETE', `/api/auth/tokens/${read.body.tokenInfo.tokenId}`))).toEqual([404, 'TOKEN_NOT_FOUND']);
    const adminToken = (await admin.post('/api/auth/tokens', { name: 'admin script', scope: 'read' })).body.tokenInfo.tokenId;
    expect(code(await dave.request('DELETE', `/api/auth/tokens/${adminToken}`))).toEqual([404, 'TOKEN_NOT_FOUND']);

    // Admins list and revoke anyone's; users may not.
    const byAdmin = await admin.get('/api/users/dave/tokens');
    expect(byAdmin.body.tokens.map((t: { name: string }) => t.name).sort()).toEqual(['submit script', 'third']);
    expect(code(await dave.get('/api/users/admin/tokens'))).toEqual([403, 'FORBIDDEN']);
    expect((await admin.request('DELETE', `/api/users/dave/tokens/${full.body.tokenInfo.tokenId}`)).status).toBe(204);
    expect(code(await fullClient.get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']);

    const actions = (await auditOf('user=dave')).map((e) => `${e.actor} ${e.action} ${e.details?.name ?? ''}`);
    expect(actions).toEqual(['admin token.revoke submit script', 'dave token.revoke monitor', 'dave token.create third', 'dave token.create submit script', 'dave token.create monitor', 'admin user.create ']);
  });

  it('disables a user: their session, API token and event stream end at once, schedules pause, login says ACCOUNT_DISABLED; re-enabling restores the token', async () => {
    const erin = await jv.addUser(admin, 'erin', 'erin-password-1');
    const token = (await erin.post('/api/auth/tokens', { name: 'cron', scope: 'full' })).body.token as string;
    const script = new Client(jv.serverUrl, token);
    expect((await script.get('/api/jobs')).status).toBe(200);
    const schedule = await erin.post('/api/schedules', { template: 'sleep', parameters: { seconds: 0, lines: 1 }, intervalSeconds: 3600, startAt: Date.now() + 3600_000 });
    expect(schedule.body.schedule.state).toBe('active');
    // An open event stream (the keepalive, which also checks tokens, is 15 s away).
    const stream = await fetch(`${jv.serverUrl}/api/events`, { headers: { authorization: `Bearer ${token}` } });
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('hello');

    expect(code(await erin.request('PATCH', '/api/users/erin', { disabled: true }))).toEqual([403, 'FORBIDDEN']);
    const disabled = await admin.request('PATCH', '/api/users/erin', { disabled: true });
    expect(disabled.status).toBe(200);
    const ended = Date.now();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      /* the server's goodbye, then the end */
    }
    expect(Date.now() - ended).toBeLessThan(5000);
    expect((await admin.get(`/api/schedules/${schedule.body.schedule.scheduleId}`)).body.schedule.state).toBe('paused');
    expect(disabled.body.user.disabledAt).toBeGreaterThan(0);
    expect(code(await erin.get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(code(await script.get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(code(await anon().post('/api/auth/login', { username: 'erin', password: 'erin-password-1' }))).toEqual([403, 'ACCOUNT_DISABLED']);
    expect(code(await anon().post('/api/auth/login', { username: 'erin', password: 'wrong-password' }))).toEqual([401, 'INVALID_CREDENTIALS']);
    expect((await admin.get('/api/users')).body.users.find((u: { username: string }) => u.username === 'erin').disabledAt).toBeGreaterThan(0);

    expect((await admin.request('PATCH', '/api/users/erin', { disabled: false })).body.user.disabledAt).toBeNull();
    expect((await script.get('/api/jobs')).status).toBe(200);
    expect(code(await erin.get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']); // a session, once ended, stays ended
    expect(await canLogin('erin', 'erin-password-1')).toBe(200);

    const actions = (await auditOf('user=erin')).map((e) => `${e.actor} ${e.action}`);
    expect(actions.slice(0, 4)).toEqual(['admin user.enable', 'null login.failed', 'admin user.disable', 'erin token.create']);
    expect((await auditOf('user=erin&action=user.disable'))[0].details).toEqual({ pausedSchedules: [schedule.body.schedule.scheduleId] });
  });

  it('keeps the last enabled admin: not disabled, demoted or deleted; a second admin makes it possible', async () => {
    expect(code(await admin.request('PATCH', '/api/users/admin', { disabled: true }))).toEqual([409, 'LAST_ADMIN']);
    expect(code(await admin.request('PATCH', '/api/users/admin', { role: 'user' }))).toEqual([409, 'LAST_ADMIN']);
    expect(code(await admin.request('PATCH', '/api/users/admin', { role: 'user', disabled: true }))).toEqual([409, 'LAST_ADMIN']);
    expect(code(await admin.request('DELETE', '/api/users/admin'))).toEqual([409, 'LAST_ADMIN']);
    expect(code(await admin.request('PATCH', '/api/users/nobody', { disabled: true }))).toEqual([404, 'USER_NOT_FOUND']);
    expect(code(await admin.request('PATCH', '/api/users/admin', {}))).toEqual([400, 'INVALID_INPUT']);
    expect(code(await admin.request('PATCH', '/api/users/admin', { role: 'wizard' }))).toEqual([400, 'INVALID_INPUT']);
    expect((await admin.get('/api/auth/me')).body.user).toEqual({ username: 'admin', role: 'admin' });

    const made = await admin.post('/api/users', { username: 'root2', password: 'root2-password', role: 'user' });
    expect(made.status).toBe(201);
    expect((await admin.request('PATCH', '/api/users/root2', { role: 'admin' })).body.user.role).toBe('admin');
    const root2 = await jv.login('root2', 'root2-password');
    expect((await root2.request('PATCH', '/api/users/admin', { disabled: true })).status).toBe(200);
    expect(code(await root2.request('PATCH', '/api/users/root2', { disabled: true }))).toEqual([409, 'LAST_ADMIN']);
    expect((await root2.request('PATCH', '/api/users/admin', { disabled: false })).status).toBe(200);
    admin = await jv.login();
    // root2's event stream shows every user's events while an admin: a new role ends it at once.
    const stream = await fetch(`${jv.serverUrl}/api/events`, { headers: { authorization: `Bearer ${root2.token}` } });
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"role":"admin"');
    expect((await admin.request('PATCH', '/api/users/root2', { role: 'user' })).body.user.role).toBe('user');
    const changed = Date.now();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      /* the goodbye, then the end */
    }
    expect(Date.now() - changed).toBeLessThan(5000);
    expect((await root2.get('/api/auth/me')).body.user.role).toBe('user');
    expect((await auditOf('user=root2&action=user.role')).map((e) => e.details)).toEqual([{ from: 'admin', to: 'user' }, { from: 'user', to: 'admin' }]);
  });

  it('resets a password (given, or generated and shown once) and revokes sessions', async () => {
    const frank = await jv.addUser(admin, 'frank', 'frank-password-1');
    expect(code(await admin.post('/api/users/frank/password', { password: 'short' }))).toEqual([400, 'PASSWORD_REJECTED']);
    expect((await frank.get('/api/auth/me')).status).toBe(200);
    const generated = await admin.post('/api/users/frank/password', {});
    expect(generated.status).toBe(200);
    expect(generated.body.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24,}$/);
    expect(code(await frank.get('/api/auth/me'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(await canLogin('frank', 'frank-password-1')).toBe(401);
    const again = await jv.login('frank', generated.body.generatedPassword);
    expect((await admin.post('/api/users/frank/password', { password: 'frank-password-2' })).body).toEqual({ sessionsEnded: 1 });
    expect(code(await again.get('/api/auth/me'))).toEqual([401, 'UNAUTHENTICATED']);

    const s1 = await jv.login('frank', 'frank-password-2');
    await jv.login('frank', 'frank-password-2');
    expect((await admin.request('DELETE', '/api/users/frank/sessions')).body).toEqual({ sessionsEnded: 2 });
    expect(code(await s1.get('/api/auth/me'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(await canLogin('frank', 'frank-password-2')).toBe(200);
    const entries = (await auditOf('user=frank')).filter((e) => e.action !== 'login.failed'); // the old password's try
    expect(entries.map((e) => e.action)).toEqual(['sessions.revoke', 'password.reset', 'password.reset', 'user.create']);
    expect(entries[2].details).toMatchObject({ generated: true });
    expect(JSON.stringify(entries)).not.toContain(generated.body.generatedPassword);
  });

  it('deletes a user: refused while they have active runs, with ?jobs=cancel their runs are canceled and jobs, files and schedules deleted', async () => {
    const gina = await jv.addUser(admin, 'gina', 'gina-password-1');
    const token = (await gina.post('/api/auth/tokens', { name: 'x', scope: 'full' })).body.token as string;
    const done = await gina.run({ template: 'sleep', jobKey: 'done', parameters: { seconds: 0, lines: 1 } });
    await gina.waitJob(done.jobId, (j) => j.status === 'completed', 60_000, 'first run');
    const long = await gina.run({ template: 'sleep', jobKey: 'long', parameters: { seconds: 600, lines: 1 } });
    await gina.waitJob(long.jobId, (j) => j.status === 'running', 60_000, 'long run starts');
    const schedule = await gina.post('/api/schedules', { name: 'hourly', template: 'sleep', parameters: { seconds: 0, lines: 1 }, intervalSeconds: 3600, startAt: Date.now() + 3600_000 });
    expect(schedule.status).toBe(201);

    const refused = await admin.request('DELETE', '/api/users/gina');
    expect(code(refused)).toEqual([409, 'USER_HAS_ACTIVE_RUNS']);
    expect(refused.body.error.details.activeJobs).toEqual([long.jobId]);
    expect(code(await admin.request('DELETE', '/api/users/gina?jobs=keep'))).toEqual([400, 'INVALID_INPUT']);
    // Nothing changed.
    expect((await gina.job(long.jobId)).status).toBe('running');
    expect((await new Client(jv.serverUrl, token).get('/api/jobs')).status).toBe(200);

    const deleted = await admin.request('DELETE', '/api/users/gina?jobs=cancel');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: 'gina', jobsDeleted: 2, schedulesDeleted: 1 });
    expect((await admin.get('/api/schedules?all=1')).body.schedules.filter((x: { user: string }) => x.user === 'gina')).toEqual([]);
    expect(existsSync(path.join(jv.dataDir, 'runs', 'gina', long.jobId))).toBe(false);
    expect(existsSync(path.join(jv.dataDir, 'runs', 'gina', done.jobId))).toBe(false);
    const all = (await admin.get('/api/jobs?all=1')).body.jobs as { user: string }[];
    expect(all.filter((j) => j.user === 'gina')).toEqual([]);
    expect((await admin.get('/api/users')).body.users.map((u: { username: string }) => u.username)).not.toContain('gina');
    expect(code(await new Client(jv.serverUrl, token).get('/api/jobs'))).toEqual([401, 'UNAUTHENTICATED']);
    expect(await canLogin('gina', 'gina-password-1')).toBe(401);
    expect(code(await admin.request('DELETE', '/api/users/gina'))).toEqual([404, 'USER_NOT_FOUND']);
    const entries = (await auditOf('user=gina')).filter((e) => e.action !== 'login.failed');
    expect(entries.slice(0, 2).map((e) => e.action)).toEqual(['user.delete', 'user.disable']);
    expect(entries[0].details).toMatchObject({ jobsDeleted: 2, canceledRuns: 1 });
  });

  it('counts failed logins in one audit entry per name, address and hour; pages newest first', async () => {
    for (let i = 0; i < 3; i++) await anon().post('/api/auth/login', { username: 'mallory', password: `guess-${i}` });
    const failed = await auditOf('user=mallory&action=login.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actor: null, target: 'mallory', details: { count: 3 } });

    const page1 = await admin.get('/api/admin/audit?limit=2');
    expect(page1.body.entries).toHaveLength(2);
    expect(page1.body.entries[0].id).toBeGreaterThan(page1.body.entries[1].id);
    const page2 = await admin.get(`/api/admin/audit?limit=2&before=${page1.body.next}`);
    expect(page2.body.entries[0].id).toBeLessThan(page1.body.entries[1].id);
    expect(code(await admin.get('/api/admin/audit?action=nonsense'))).toEqual([400, 'INVALID_INPUT']);
    expect(code(await admin.get('/api/admin/audit?limit=100000'))).toEqual([400, 'INVALID_INPUT']);
    const user = await jv.login('carol', 'carol-password-2');
    expect(code(await user.get('/api/admin/audit'))).toEqual([403, 'FORBIDDEN']);
  });
});
