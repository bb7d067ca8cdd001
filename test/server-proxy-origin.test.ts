/**
 * Behind a TLS reverse proxy (`trustProxy`) and across origins: the login cookie is Secure when
 * the proxy says the request came over HTTPS, login limits key by the forwarded client address,
 * and a state-changing request by cookie must come from the server's own origin. Without
 * `trustProxy` the X-Forwarded-* headers are ignored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { api, loginFrom, runCleanups, startTestServer } from './helpers/server.js';

afterEach(runCleanups);

// Client addresses a proxy would forward; only ever sent as header text here (RFC 5737 documentation ranges).
const CLIENT_A = '192.0.2.10';
const CLIENT_B = '198.51.100.20';

describe('behind a trusted proxy', () => {
  it('marks the login cookie Secure when the proxy says the request was HTTPS', async () => {
    const s = await startTestServer({ JOBVISOR_TRUST_PROXY: 'true' });
    const https = await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': CLIENT_A });
    expect(https.status).toBe(200);
    expect(String(https.headers['set-cookie'])).toMatch(/;\s*secure/i);
    const http = await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.1', { 'x-forwarded-proto': 'http' });
    expect(String(http.headers['set-cookie'])).not.toMatch(/;\s*secure/i);
    const logout = await api(s.base, 'POST', '/api/auth/logout', { token: https.body.token, headers: { 'x-forwarded-proto': 'https' } });
    expect(logout.headers.get('set-cookie')).toMatch(/;\s*secure/i);
  });

  it('counts failed logins per forwarded client address, the last one the proxy added', async () => {
    const s = await startTestServer({ JOBVISOR_TRUST_PROXY: '1', JOBVISOR_LOGIN_FAILURES_PER_ADDRESS: '3' });
    for (const user of ['nobody1', 'nobody2', 'nobody3']) {
      // A client may send its own X-Forwarded-For; the proxy appends the address it saw.
      expect((await loginFrom(s.base, user, 'wrong-password', '127.0.0.1', { 'x-forwarded-for': `10.1.1.${user.length}, ${CLIENT_A}` })).status).toBe(401);
    }
    const refused = await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.1', { 'x-forwarded-for': `203.0.113.99, ${CLIENT_A}` });
    expect([refused.status, refused.body.error.code, refused.body.error.details.scope]).toEqual([429, 'TOO_MANY_ATTEMPTS', 'address']);
    expect((await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.1', { 'x-forwarded-for': CLIENT_B })).status).toBe(200);
  });

  it('ignores X-Forwarded-* without trustProxy: no Secure cookie, and failed logins counted per connection address', async () => {
    const s = await startTestServer({ JOBVISOR_LOGIN_FAILURES_PER_ADDRESS: '3' });
    const login = await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.1', { 'x-forwarded-proto': 'https' });
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).not.toMatch(/;\s*secure/i);
    for (const [user, client] of [['nobody1', CLIENT_A], ['nobody2', CLIENT_B], ['nobody3', CLIENT_A]]) {
      expect((await loginFrom(s.base, user as string, 'wrong-password', '127.0.0.2', { 'x-forwarded-for': client as string })).status).toBe(401);
    }
    const refused = await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.2', { 'x-forwarded-for': '203.0.113.7' });
    expect([refused.status, refused.body.error.details?.scope]).toEqual([429, 'address']);
  });
});

describe('cross-origin requests by cookie', () => {
  it('refuses a cookie POST whose Origin is another origin, also without Sec-Fetch-Site', async () => {
    const s = await startTestServer();
    const cookie = `jobvisor_token=${s.aliceToken}`;
    for (const origin of ['https://evil.example', 'http://127.0.0.1:1', 'null', `http://localhost:${new URL(s.base).port}`]) {
      const answer = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie, origin } });
      expect([origin, answer.status, answer.body.error.code]).toEqual([origin, 403, 'FORBIDDEN']);
    }
    const sameOriginSaysSite = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' } });
    expect(sameOriginSaysSite.status).toBe(403);
    expect((await api(s.base, 'GET', '/api/auth/me', { headers: { cookie, origin: 'https://evil.example' } })).status).toBe(200);
    expect(s.accounts.authenticate(s.aliceToken)?.username).toBe('alice');
  });

  it('accepts a cookie POST from its own origin, also as a trusted proxy forwards it', async () => {
    const s = await startTestServer();
    const own = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie: `jobvisor_token=${s.aliceToken}`, origin: s.base } });
    expect(own.status).toBe(204);

    const p = await startTestServer({ JOBVISOR_TRUST_PROXY: 'true' });
    const proxied = { cookie: `jobvisor_token=${p.aliceToken}`, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'gateway.example.org' };
    const wrongScheme = await api(p.base, 'POST', '/api/auth/logout', { headers: { ...proxied, origin: 'http://gateway.example.org' } });
    expect(wrongScheme.status).toBe(403);
    const viaProxy = await api(p.base, 'POST', '/api/auth/logout', { headers: { ...proxied, origin: 'https://gateway.example.org:443' } });
    expect(viaProxy.status).toBe(204);
  });

  it('lets requests with a bearer token through whatever their Origin', async () => {
    const s = await startTestServer();
    const answer = await api(s.base, 'POST', '/api/auth/logout', { token: s.aliceToken, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(answer.status).toBe(204);
  });
});
