/**
 * Event streams end with their login: a logout ends every stream opened with that token (by
 * header or by cookie), and a token that expired is noticed at the next keepalive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { api, openEventStream, runCleanups, startTestServer, type OpenStream } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

afterEach(runCleanups);

const hello = (s: OpenStream) => s.text().includes('event: hello\n');

describe('event streams and logins', () => {
  it('ends every stream of a token when it is logged out, opened by header or by cookie, and no other', async () => {
    const s = await startTestServer();
    const secondLogin = (await s.accounts.login('alice', 'alice-password')).token;
    const byHeader = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    const byCookie = await openEventStream(s.base, { cookie: `jobvisor_token=${s.aliceToken}` });
    const otherToken = await openEventStream(s.base, { authorization: `Bearer ${secondLogin}` });
    await waitFor(() => [byHeader, byCookie, otherToken].every(hello), { timeoutMs: 5000, what: 'hello on every stream' });
    expect(s.events.clientCount).toBe(3);

    const logout = await api(s.base, 'POST', '/api/auth/logout', { headers: { cookie: `jobvisor_token=${s.aliceToken}` } });
    expect(logout.status).toBe(204);
    await waitFor(() => byHeader.ended() && byCookie.ended(), { timeoutMs: 5000, what: 'the logged-out streams to end' });
    expect(byHeader.text()).toMatch(/event: end\ndata: \{"reason":"logged out"\}\n\n$/);
    expect(otherToken.ended()).toBe(false);
    expect(s.events.clientCount).toBe(1);

    s.events.publish({ type: 'log', user: 'alice', jobId: 'after-logout', serial: 1, lines: ['x'] }, 1);
    await waitFor(() => otherToken.text().includes('after-logout'), { timeoutMs: 5000, what: 'the other login to get the event' });
    expect(byCookie.text()).not.toContain('after-logout');
  });

  it('ends a stream at the first keepalive after its token expired', async () => {
    const s = await startTestServer({ JOBVISOR_TOKEN_TTL_HOURS: '1' }, { keepaliveMs: 50 });
    const byCookie = await openEventStream(s.base, { cookie: `jobvisor_token=${s.aliceToken}` });
    const admin = await openEventStream(s.base, { authorization: `Bearer ${s.adminToken}` });
    await waitFor(() => byCookie.text().includes(': keepalive\n'), { timeoutMs: 5000, what: 'a keepalive' });
    expect(byCookie.ended()).toBe(false);

    s.clock.now += 3600_000 + 1;
    await waitFor(() => byCookie.ended() && admin.ended(), { timeoutMs: 5000, what: 'the expired streams to end' });
    expect(byCookie.text()).toMatch(/event: end\ndata: \{"reason":"login expired"\}\n\n$/);
    expect(s.events.clientCount).toBe(0);
    expect((await api(s.base, 'GET', '/api/events', { token: s.aliceToken })).status).toBe(401);
  });
});
