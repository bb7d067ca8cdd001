/**
 * The server's fan-out of events to its clients under load, by counts: a client that does not
 * read is cut once its unsent data passes the bound, while one that reads gets every event once
 * and in order; each event reaches exactly the streams of its user and the admins; the streams of
 * one audience share one write of a turn's events, and a message for one stream alone (a resync,
 * the end of its login) keeps its place among them.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { api, onCleanup, openEventStream, runCleanups, startTestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

afterEach(runCleanups);

/** A stream that sends its request and never reads; `drain()` reads what is left and says whether the server had ended it. */
function stalledStream(base: string, token: string) {
  const url = new URL(base);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.write(`GET /api/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  socket.pause();
  socket.on('error', () => undefined);
  onCleanup(() => void socket.destroy());
  return {
    drain: () =>
      new Promise<{ ended: boolean; text: string }>((resolve) => {
        let text = '';
        let quiet: NodeJS.Timeout | undefined;
        const done = (ended: boolean) => {
          clearTimeout(quiet);
          resolve({ ended, text });
        };
        const rearm = () => {
          clearTimeout(quiet);
          quiet = setTimeout(() => done(false), 2000);
        };
        socket.setEncoding('latin1');
        socket.on('data', (c: string) => {
          text += c;
          rearm();
        });
        socket.once('end', () => done(true));
        rearm();
        socket.resume();
      }),
  };
}

const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

describe('event fan-out', () => {
  it('cuts a client that does not read once its backlog passes the bound, while a client that reads gets every event once, in order', async () => {
    const s = await startTestServer({}, { maxBufferedBytes: 256 * 1024, captureLogs: true });
    const stalled = stalledStream(s.base, s.aliceToken);
    await waitFor(() => s.events.clientCount === 1, { timeoutMs: 5000, what: 'the stalled stream to attach' });
    const reader = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    await waitFor(() => s.events.clientCount === 2 && reader.text().includes('event: hello'), { timeoutMs: 5000, what: 'the reading stream' });

    // 16 MB in all, 80 KB a turn: far past what the stalled stream's socket and the bound hold.
    const line = 'x'.repeat(16 * 1024);
    const total = 1000;
    for (let id = 1; id <= total; id += 5) {
      for (let k = id; k < id + 5; k++) s.events.publish({ type: 'log', user: 'alice', jobId: 'j', serial: 1, lines: [line] }, k);
      await waitFor(() => reader.text().includes(`id: ${id + 4}\n`), { timeoutMs: 10_000, intervalMs: 1, what: `event ${id + 4} at the reading stream` });
    }
    await waitFor(() => s.events.clientCount === 1, { timeoutMs: 5000, what: 'the stalled stream to be cut' });
    expect(ids(reader.text())).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(reader.ended()).toBe(false);
    const left = await stalled.drain();
    expect(left.ended).toBe(true);
    expect(ids(left.text).length).toBeLessThan(total);
    expect(s.logs.filter((l) => l.includes('event client too slow; disconnected'))).toHaveLength(1);
  });

  it("sends each event to its user's streams and the admins' only, as streams come and go, and counts each user's streams for the quota", async () => {
    const s = await startTestServer({ JOBVISOR_QUOTAS: JSON.stringify({ user: { eventStreams: 2 } }) });
    await api(s.base, 'POST', '/api/users', { token: s.adminToken, json: { username: 'bob', password: 'bob-password', role: 'user' } });
    const bobToken = ((await api(s.base, 'POST', '/api/auth/login', { json: { username: 'bob', password: 'bob-password' } })).body as { token: string }).token;
    const alice1 = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    const alice2 = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    const bob = await openEventStream(s.base, { authorization: `Bearer ${bobToken}` });
    const admin = await openEventStream(s.base, { authorization: `Bearer ${s.adminToken}` });
    await waitFor(() => s.events.clientCount === 4, { timeoutMs: 5000, what: 'four streams' });
    const third = await api(s.base, 'GET', '/api/events', { token: s.aliceToken });
    expect((third.body as { error: { code: string } }).error.code).toBe('QUOTA_EXCEEDED');

    s.events.publish({ type: 'log', user: 'alice', jobId: 'a1', serial: 1, lines: ['x'] }, 1);
    s.events.publish({ type: 'log', user: 'bob', jobId: 'b1', serial: 1, lines: ['x'] }, 2);
    await waitFor(() => alice1.text().includes('a1') && alice2.text().includes('a1') && bob.text().includes('b1') && admin.text().includes('b1'), { timeoutMs: 5000, what: 'the first events' });
    alice1.close();
    await waitFor(() => s.events.clientCount === 3, { timeoutMs: 5000, what: 'the closed stream to go' });
    const again = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    await waitFor(() => s.events.clientCount === 4, { timeoutMs: 5000, what: 'a new stream in the freed place' });
    s.events.publish({ type: 'log', user: 'alice', jobId: 'a2', serial: 1, lines: ['x'] }, 3);
    await waitFor(() => alice2.text().includes('a2') && again.text().includes('a2') && admin.text().includes('a2'), { timeoutMs: 5000, what: 'the second event' });

    expect(ids(alice2.text())).toEqual([1, 3]);
    expect(ids(again.text())).toEqual([3]);
    expect(ids(bob.text())).toEqual([2]);
    expect(ids(admin.text())).toEqual([1, 2, 3]);
    expect(alice1.text()).not.toContain('a2');
  });

  it("writes a turn's events alike to every stream of a user and the admins', and a message told in the middle of the turn keeps its place", async () => {
    const s = await startTestServer({});
    const secondAliceToken = (await s.accounts.login('alice', 'alice-password')).token;
    const alice1 = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    const alice2 = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    const ending = await openEventStream(s.base, { authorization: `Bearer ${secondAliceToken}` });
    const admin = await openEventStream(s.base, { authorization: `Bearer ${s.adminToken}` });
    await waitFor(() => s.events.clientCount === 4 && [alice1, alice2, ending, admin].every((c) => c.text().includes('event: hello')), { timeoutMs: 5000, what: 'four streams' });
    const body = (c: { text: () => string }) => c.text().slice(c.text().indexOf('\n\n') + 2);

    // One turn: two events, a resync for everyone, the end of one stream's login, two more events.
    const log = (user: string, jobId: string) => ({ type: 'log' as const, user, jobId, serial: 1, lines: ['x'] });
    s.events.publish(log('alice', 'a1'), 1);
    s.events.publish(log('carol', 'c1'), 2);
    s.events.resync();
    s.events.endLogin(secondAliceToken, 'logged out');
    s.events.publish(log('alice', 'a2'), 3);
    s.events.publish(log('carol', 'c2'), 4);
    await waitFor(() => alice1.text().includes('a2') && alice2.text().includes('a2') && admin.text().includes('c2') && ending.ended(), { timeoutMs: 5000, what: 'the events' });

    const order = (text: string) => [...text.matchAll(/^(id: \d+|event: resync|event: end)$/gm)].map((m) => m[1]);
    expect(order(body(alice1))).toEqual(['id: 1', 'event: resync', 'id: 3']);
    expect(body(alice2)).toBe(body(alice1));
    expect(order(body(ending))).toEqual(['id: 1', 'event: resync', 'event: end']);
    expect(order(body(admin))).toEqual(['id: 1', 'id: 2', 'event: resync', 'id: 3', 'id: 4']);
  });

  it('does not cut a reading client for one turn of events larger than the bound, only for a backlog', async () => {
    const s = await startTestServer({}, { maxBufferedBytes: 64 * 1024, captureLogs: true });
    const reader = await openEventStream(s.base, { authorization: `Bearer ${s.aliceToken}` });
    await waitFor(() => s.events.clientCount === 1 && reader.text().includes('event: hello'), { timeoutMs: 5000, what: 'the stream' });
    // 160 KB in one turn (a burst, as when the supervisor's stream comes late), to a client with nothing unread.
    const line = 'x'.repeat(16 * 1024);
    for (let id = 1; id <= 10; id++) s.events.publish({ type: 'log', user: 'alice', jobId: 'j', serial: 1, lines: [line] }, id);
    await waitFor(() => reader.text().includes('id: 10\n') || s.events.clientCount === 0, { timeoutMs: 10_000, what: 'the burst, or the end of the stream' });
    expect(ids(reader.text())).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(reader.ended()).toBe(false);
    expect(s.logs.filter((l) => l.includes('event client too slow; disconnected'))).toHaveLength(0);
  });
});
