/**
 * The server on its own: accounts, tokens, permissions, body parsing and error answers. Nothing
 * here needs a supervisor; the server is pointed at a port where nothing listens.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/shared/config.js';
import { loadOrCreateSecret, secretFilePath } from '../src/shared/secret.js';
import { startServer } from '../src/server/main.js';
import { api, closedPort, onCleanup, rawRequest, runCleanups, silentLogger as logger, startTestServer, tempDataDir } from './helpers/server.js';

afterEach(runCleanups);

const PROTECTED_ROUTES: [string, string][] = [
  ['POST', '/api/auth/logout'],
  ['GET', '/api/auth/me'],
  ['GET', '/api/users'],
  ['POST', '/api/users'],
  ['GET', '/api/templates'],
  ['POST', '/api/jobs'],
  ['GET', '/api/jobs'],
  ['GET', '/api/jobs/job1'],
  ['POST', '/api/jobs/job1/cancel'],
  ['GET', '/api/jobs/job1/log'],
  ['GET', '/api/jobs/job1/files'],
  ['GET', '/api/jobs/job1/files/out/result.txt'],
  ['POST', '/api/jobs/job1/analysis'],
  ['POST', '/api/session'],
  ['GET', '/api/agents'],
  ['GET', '/api/events'],
];

describe('server login and tokens', () => {
  it('logs in with the right password and sets an HttpOnly, SameSite=Strict cookie for /api', async () => {
    const s = await startTestServer();
    const login = await api(s.base, 'POST', '/api/auth/login', { json: { username: 'alice', password: 'alice-password' } });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual({ username: 'alice', role: 'user' });
    expect(typeof login.body.token).toBe('string');
    expect(login.body.expiresAt).toBeGreaterThan(Date.now());
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^jobvisor_token=[A-Za-z0-9_-]+;/);
    expect(cookie).toMatch(/path=\/api/i);
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=strict/i);

    const byHeader = await api(s.base, 'GET', '/api/auth/me', { token: login.body.token });
    expect(byHeader.body).toEqual({ user: { username: 'alice', role: 'user' } });
    const byCookie = await api(s.base, 'GET', '/api/auth/me', { headers: { cookie: `jobvisor_token=${login.body.token}` } });
    expect(byCookie.status).toBe(200);
    expect(byCookie.body.user.username).toBe('alice');
  });

  it('refuses a wrong password and an unknown user with the same error', async () => {
    const s = await startTestServer();
    const wrongPassword = await api(s.base, 'POST', '/api/auth/login', { json: { username: 'alice', password: 'nope-nope' } });
    const unknownUser = await api(s.base, 'POST', '/api/auth/login', { json: { username: 'mallory', password: 'nope-nope' } });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.error.code).toBe('INVALID_CREDENTIALS');
    expect(unknownUser.status).toBe(401);
    expect(unknownUser.body).toEqual(wrongPassword.body);
    expect(wrongPassword.headers.get('set-cookie')).toBeNull();
  });

  it('answers 401 UNAUTHENTICATED on every protected route without a token or with a bad one', async () => {
    const s = await startTestServer();
    for (const [method, url] of PROTECTED_ROUTES) {
      const none = await api(s.base, method, url);
      expect(none.status, `${method} ${url}`).toBe(401);
      expect(none.body.error.code, `${method} ${url}`).toBe('UNAUTHENTICATED');
      const bad = await api(s.base, method, url, { token: 'not-a-token' });
      expect(bad.status, `${method} ${url}`).toBe(401);
      expect(bad.body.error.code).toBe('UNAUTHENTICATED');
    }
    const basic = await api(s.base, 'GET', '/api/auth/me', { headers: { authorization: 'Basic YWxpY2U6cHc=' } });
    expect(basic.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token after it expired', async () => {
    const s = await startTestServer({ JOBVISOR_TOKEN_TTL_HOURS: '1' });
    expect((await api(s.base, 'GET', '/api/auth/me', { token: s.aliceToken })).status).toBe(200);
    s.clock.now += 3600_000 + 1;
    const expired = await api(s.base, 'GET', '/api/auth/me', { token: s.aliceToken });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('revokes the token and clears the cookie on logout', async () => {
    const s = await startTestServer();
    const logout = await api(s.base, 'POST', '/api/auth/logout', { token: s.aliceToken });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/^jobvisor_token=;.*expires=Thu, 01 Jan 1970/i);
    const after = await api(s.base, 'GET', '/api/auth/me', { token: s.aliceToken });
    expect(after.status).toBe(401);
    expect(s.accounts.authenticate(s.aliceToken)).toBeUndefined();
  });

  it('refuses a change by cookie from another origin but accepts it from our own', async () => {
    const s = await startTestServer();
    const cookie = `jobvisor_token=${s.aliceToken}`;
    const crossSite = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie, 'sec-fetch-site': 'same-site' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('FORBIDDEN');
    const read = await api(s.base, 'GET', '/api/auth/me', { headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    expect(read.status).toBe(200);
    const sameOrigin = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    expect(sameOrigin.status).toBe(204);
  });
});

describe('server event fan-out', () => {
  it('greets a client, filters events by user, sends keepalives and forgets the client when it leaves', async () => {
    const s = await startTestServer({}, { keepaliveMs: 50 });
    const controller = new AbortController();
    const res = await fetch(`${s.base}/api/events`, { headers: { cookie: `jobvisor_token=${s.aliceToken}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += Buffer.from((await reader.read()).value ?? []).toString();
    };
    await readUntil(/event: hello\n/);
    expect(s.events.clientCount).toBe(1);
    s.events.publish({ type: 'log', user: 'bob', jobId: 'bobs', serial: 1, lines: ['b'] }, 1);
    s.events.publish({ type: 'log', user: 'alice', jobId: 'alices', serial: 1, lines: ['a'] }, 2);
    await readUntil(/"jobId":"alices"/);
    await readUntil(/: keepalive\n\n/);
    expect(text).not.toContain('bobs');
    controller.abort();
    const deadline = Date.now() + 5000;
    while (s.events.clientCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(s.events.clientCount).toBe(0);
  });
});

describe('server users and permissions', () => {
  it('answers 403 FORBIDDEN to a user on admin-only routes', async () => {
    const s = await startTestServer();
    const cases: [string, string, unknown?][] = [
      ['GET', '/api/users'],
      ['POST', '/api/users', { username: 'bob', password: 'bob-password' }],
      ['GET', '/api/agents'],
      ['GET', '/api/jobs?all=1'],
      ['GET', '/api/jobs?all=true'],
    ];
    for (const [method, url, json] of cases) {
      const answer = await api(s.base, method, url, { token: s.aliceToken, json });
      expect(answer.status, `${method} ${url}`).toBe(403);
      expect(answer.body.error.code).toBe('FORBIDDEN');
    }
  });

  it('lets an admin create a user who can then log in, and refuses the same name twice', async () => {
    const s = await startTestServer();
    const created = await api(s.base, 'POST', '/api/users', { token: s.adminToken, json: { username: 'bob', password: 'bob-password' } });
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ username: 'bob', role: 'user' });
    expect(typeof created.body.user.createdAt).toBe('number');
    const again = await api(s.base, 'POST', '/api/users', { token: s.adminToken, json: { username: 'bob', password: 'other-password', role: 'admin' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('USER_EXISTS');
    const login = await api(s.base, 'POST', '/api/auth/login', { json: { username: 'bob', password: 'bob-password' } });
    expect(login.body.user).toEqual({ username: 'bob', role: 'user' });
    const list = await api(s.base, 'GET', '/api/users', { token: s.adminToken });
    expect(list.body.users.map((u: { username: string }) => u.username)).toEqual(['admin', 'alice', 'bob']);
    expect(JSON.stringify(list.body)).not.toMatch(/password|hash/i);
  });
});

describe('server request bodies', () => {
  it('answers 400 BAD_JSON to a malformed body', async () => {
    const s = await startTestServer();
    const answer = await api(s.base, 'POST', '/api/auth/login', { raw: '{"username": "alice",', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_JSON');
  });

  it('answers 415 to a body that is not JSON', async () => {
    const s = await startTestServer();
    const answer = await api(s.base, 'POST', '/api/auth/login', { raw: 'username=alice&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(answer.status).toBe(415);
    expect(answer.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 413 BODY_TOO_LARGE to a big body, by length or while reading, and keeps serving', async () => {
    const s = await startTestServer({ JOBVISOR_MAX_BODY_BYTES: '1024' });
    const big = { username: 'alice', password: 'x'.repeat(2000) };
    const declared = await api(s.base, 'POST', '/api/auth/login', { json: big });
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('BODY_TOO_LARGE');
    const chunked = await rawRequest(
      s.base,
      { method: 'POST', path: '/api/auth/login', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
      ['{"username":"alice","password":"', 'y'.repeat(600), 'y'.repeat(600), '"}'],
    );
    expect(chunked.status).toBe(413);
    expect(chunked.body.error.code).toBe('BODY_TOO_LARGE');
    const next = await api(s.base, 'POST', '/api/auth/login', { json: { username: 'alice', password: 'alice-password' } });
    expect(next.status).toBe(200);
  });

  it('answers 400 INVALID_INPUT with the schema issues as details', async () => {
    const s = await startTestServer();
    const answer = await api(s.base, 'POST', '/api/users', { token: s.adminToken, json: { username: '../evil', password: 'short', extra: 1 } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('INVALID_INPUT');
    const paths = answer.body.error.details.issues.map((i: { path: string[] }) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['username', 'password']));
    const run = await api(s.base, 'POST', '/api/jobs', { token: s.aliceToken, json: { parameters: {} } });
    expect(run.status).toBe(400);
    expect(run.body.error.code).toBe('INVALID_INPUT');
    const log = await api(s.base, 'GET', '/api/jobs/job1/log?offset=-5', { token: s.aliceToken });
    expect(log.body.error.code).toBe('INVALID_INPUT');
  });
});

describe('server routes and answers', () => {
  it('answers 400 PATH_OUTSIDE_RUN_DIR to a file path with ..', async () => {
    const s = await startTestServer();
    const headers = { authorization: `Bearer ${s.aliceToken}` };
    for (const p of ['/api/jobs/job1/files/../../etc/passwd', '/api/jobs/job1/files/out/%2e%2e/%2e%2e/x', '/api/jobs/job1/files/%2Fetc%2Fpasswd', '/api/jobs/job1/files/a%5C..%5Cb']) {
      const answer = await rawRequest(s.base, { method: 'GET', path: p, headers });
      expect(answer.status, p).toBe(400);
      expect(answer.body.error.code, p).toBe('PATH_OUTSIDE_RUN_DIR');
    }
  });

  it('answers 404 ROUTE_NOT_FOUND to an unknown route and 404 JOB_NOT_FOUND to a job id that cannot exist', async () => {
    const s = await startTestServer();
    const unknown = await api(s.base, 'GET', '/api/nothing-here', { token: s.aliceToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ROUTE_NOT_FOUND');
    const outside = await api(s.base, 'GET', '/index.php');
    expect(outside.body.error.code).toBe('ROUTE_NOT_FOUND');
    const badId = await api(s.base, 'GET', '/api/jobs/.hidden', { token: s.aliceToken });
    expect(badId.status).toBe(404);
    expect(badId.body.error.code).toBe('JOB_NOT_FOUND');
  });

  it('sets security headers on every answer, errors included', async () => {
    const s = await startTestServer();
    for (const answer of [await api(s.base, 'GET', '/api/health'), await api(s.base, 'GET', '/api/auth/me')]) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('answers health without a token and says when the supervisor is down', async () => {
    const s = await startTestServer();
    const health = await api(s.base, 'GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, supervisor: 'down' });
  });

  it('answers 502 SUPERVISOR_UNAVAILABLE when the supervisor is not reachable', async () => {
    const s = await startTestServer();
    const answer = await api(s.base, 'GET', '/api/templates', { token: s.aliceToken });
    expect(answer.status).toBe(502);
    expect(answer.body.error).toEqual({ code: 'SUPERVISOR_UNAVAILABLE', message: 'supervisor is not reachable' });
  });
});

describe('server start-up', () => {
  it('creates the admin account with a generated password on the first start only', async () => {
    const dataDir = tempDataDir();
    const config = loadConfig({ JOBVISOR_DATA_DIR: dataDir, JOBVISOR_SERVER_PORT: '0', JOBVISOR_SUPERVISOR_PORT: String(await closedPort()) });
    const first = await startServer(config, logger);
    const passwordFile = path.join(dataDir, 'initial-admin-password');
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(statSync(secretFilePath(config)).mode & 0o777).toBe(0o600);
    const password = readFileSync(passwordFile, 'utf8').trim();
    const login = await api(first.url, 'POST', '/api/auth/login', { json: { username: 'admin', password } });
    expect(login.body.user).toEqual({ username: 'admin', role: 'admin' });
    await first.close();

    rmSync(passwordFile);
    const second = await startServer(config, logger);
    onCleanup(() => second.close());
    expect(() => statSync(passwordFile)).toThrow();
    const again = await api(second.url, 'GET', '/api/auth/me', { token: login.body.token });
    expect(again.body.user.username).toBe('admin');
  });

  it('drops JOBVISOR_ADMIN_PASSWORD from its environment once it created the admin account', async () => {
    const env = { JOBVISOR_DATA_DIR: tempDataDir(), JOBVISOR_SERVER_PORT: '0', JOBVISOR_SUPERVISOR_PORT: String(await closedPort()), JOBVISOR_ADMIN_PASSWORD: 'password-from-env' };
    process.env.JOBVISOR_ADMIN_PASSWORD = env.JOBVISOR_ADMIN_PASSWORD;
    onCleanup(() => void delete process.env.JOBVISOR_ADMIN_PASSWORD);
    const server = await startServer(loadConfig(env), logger);
    onCleanup(() => server.close());
    expect(process.env.JOBVISOR_ADMIN_PASSWORD).toBeUndefined();
    const login = await api(server.url, 'POST', '/api/auth/login', { json: { username: 'admin', password: 'password-from-env' } });
    expect(login.status).toBe(200);
  });

  it('keeps one shared secret in the data folder unless the configuration sets one', () => {
    const dataDir = tempDataDir();
    const config = loadConfig({ JOBVISOR_DATA_DIR: dataDir });
    const secret = loadOrCreateSecret(config);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(loadOrCreateSecret(config)).toBe(secret);
    expect(loadOrCreateSecret({ ...config, secret: 'configured-secret-123' })).toBe('configured-secret-123');
  });
});
