/**
 * What the server sends to the supervisor and passes back, checked on the wire: a plain
 * node:http server stands in for the supervisor and records every request it receives. (The
 * end-to-end tests with the real supervisor live elsewhere.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/shared/api.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { startServer, type RunningServer } from '../src/server/main.js';
import { SseParser, type SseMessage } from '../src/shared/sse.js';
import { openEventStream, runCleanups } from './helpers/server.js';

const logger = createLogger('test', 'silent');
const SECRET = 'test-secret-0123456789';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterEach(runCleanups);

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Received, res: http.ServerResponse) => void;

/** A stand-in supervisor: records requests; `handler` answers them (default: 200 `{ok:true}`). */
async function startFakeSupervisor() {
  const received: Received[] = [];
  const eventStreams = new Set<http.ServerResponse>();
  const fake = {
    received,
    eventStreams,
    /** The `Last-Event-ID` of each `GET /events`, in order (undefined: none sent). */
    resumedFrom: [] as (string | undefined)[],
    /** Answer the next resuming stream with `resync` (as a supervisor that no longer has those events). */
    resyncNext: false,
    lastId: 0,
    port: 0,
    handler: ((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    }) as Handler,
    sendEvent(event: JobEvent) {
      const id = ++fake.lastId;
      for (const res of eventStreams) res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    },
    /** Sends an event as the supervisor does: with a `user:` field saying whose it is, and `data` as given. */
    sendWithUser(type: string, user: string, data: string) {
      const id = ++fake.lastId;
      for (const res of eventStreams) res.write(`id: ${id}\nevent: ${type}\nuser: ${user}\ndata: ${data}\n\n`);
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      if (r.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': hi\n\n');
        const from = req.headers['last-event-id'] as string | undefined;
        fake.resumedFrom.push(from);
        if (from !== undefined && fake.resyncNext) {
          fake.resyncNext = false;
          res.write(`event: resync\ndata: ${JSON.stringify({ latest: fake.lastId })}\n\n`);
        }
        res.write(`event: ready\ndata: ${JSON.stringify({ latest: fake.lastId })}\n\n`);
        eventStreams.add(res);
        res.on('close', () => eventStreams.delete(res));
        return;
      }
      received.push(r);
      fake.handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return fake;
}

async function startWithFakeSupervisor(env: Record<string, string> = {}) {
  const fake = await startFakeSupervisor();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'jobvisor-server-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    JOBVISOR_DATA_DIR: dataDir,
    JOBVISOR_SERVER_PORT: '0',
    JOBVISOR_SUPERVISOR_URL: `http://127.0.0.1:${fake.port}`,
    JOBVISOR_SECRET: SECRET,
    JOBVISOR_ADMIN_PASSWORD: 'admin-password',
    ...env,
  });
  const server = await startServer(config, logger);
  cleanups.push(() => server.close());
  const adminToken = await login(server, 'admin', 'admin-password');
  await call(server, 'POST', '/api/users', adminToken, { username: 'alice', password: 'alice-password' });
  const aliceToken = await login(server, 'alice', 'alice-password');
  return { fake, server, adminToken, aliceToken };
}

async function call(server: RunningServer, method: string, url: string, token: string, json?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };  
}

async function login(server: RunningServer, username: string, password: string): Promise<string> {
  const res = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return ((await res.json()) as { token: string }).token;
}

/** Polls until `check` returns a value, or fails after `ms`. */
async function waitFor<T>(check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An SSE client of the server's /api/events, collecting messages. */
async function openEvents(server: RunningServer, token: string, lastEventId?: string) {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${server.url}/api/events`, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  const decoder = new TextDecoder();
  const reading = (async () => {
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted
    }
  })();
  cleanups.push(async () => {
    controller.abort();
    await reading;
  });
  return { res, messages, close: () => controller.abort() };
}

function jobEvent(user: string, jobId: string): JobEvent {
  return { type: 'log', user, jobId, serial: 1, lines: [`line of ${jobId}`] };
}

describe('server forwarding to the supervisor', () => {
  it('forwards a request once with the shared secret and the caller, and passes the answer back', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    fake.handler = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"job":{"jobId":"job1"}}');
    };
    const answer = await call(server, 'POST', '/api/jobs', aliceToken, { template: 'sleep', parameters: { seconds: 1 } });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ job: { jobId: 'job1' } });
    expect(fake.received).toHaveLength(1);
    const [req] = fake.received;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/jobs/run');
    expect(req?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(req?.headers['x-jobvisor-user']).toBe('alice');
    expect(req?.headers['x-jobvisor-role']).toBe('user');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req?.body ?? '')).toEqual({ template: 'sleep', parameters: { seconds: 1 } });
  });

  it('maps each public route to its supervisor route', async () => {
    const { fake, server, aliceToken, adminToken } = await startWithFakeSupervisor();
    const cases: [string, string, string, unknown?, string?][] = [
      ['GET', '/api/templates', 'GET /templates'],
      ['GET', '/api/jobs', 'GET /jobs?limit=100'],
      ['GET', '/api/jobs?all=1', 'GET /jobs?limit=100&all=1', undefined, adminToken],
      ['GET', '/api/jobs/job1', 'GET /jobs/job1'],
      ['POST', '/api/jobs/job1/cancel', 'POST /jobs/job1/cancel', { serial: 2 }],
      ['GET', '/api/jobs/job1/log?serial=3', 'GET /jobs/job1/log?offset=0&limit=65536&serial=3'],
      ['GET', '/api/jobs/job1/files', 'GET /jobs/job1/files'],
      ['POST', '/api/jobs/job1/analysis', 'POST /jobs/job1/analysis', { frame: 'energy' }],
      ['POST', '/api/session', 'POST /session/begin', {}],
      ['GET', '/api/agents', 'GET /agents', undefined, adminToken],
    ];
    for (const [method, url, expected, json, token] of cases) {
      fake.received.length = 0;
      const answer = await call(server, method, url, token ?? aliceToken, json);
      expect(answer.status, url).toBe(200);
      expect(fake.received.map((r) => `${r.method} ${r.url}`), url).toEqual([expected]);
    }
    expect(fake.received[0]?.body).toBe(''); // a GET carries no body
  });

  it('passes the supervisor error code and status through', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    fake.handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'JOB_NOT_FOUND', message: 'job job9 does not exist' } }));
    };
    const answer = await call(server, 'GET', '/api/jobs/job9', aliceToken);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: { code: 'JOB_NOT_FOUND', message: 'job job9 does not exist' } });
  });

  it('streams a file download through without waiting for its end', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    let finish: (() => void) | undefined;
    fake.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10', 'content-disposition': 'attachment; filename="out.txt"' });
      res.write('first');
      finish = () => res.end('-last');
    };
    const res = await fetch(`${server.url}/api/jobs/job1/files/out/my%20file.txt`, { headers: { authorization: `Bearer ${aliceToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('content-length')).toBe('10');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="out.txt"');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString()).toBe('first');
    expect(fake.received[0]?.url).toBe('/jobs/job1/files/out/my%20file.txt');
    finish?.();
    const rest = await reader.read();
    expect(Buffer.from(rest.value ?? []).toString()).toBe('-last');
  });

  it('says the supervisor is up in health when it answers', async () => {
    const { fake, server } = await startWithFakeSupervisor();
    const res = await fetch(`${server.url}/api/health`);
    expect(await res.json()).toEqual({ ok: true, supervisor: 'up' });
    expect(fake.received.at(-1)?.url).toBe('/health');
    expect(fake.received.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
  });
});

describe('server event stream', () => {
  it('sends each client only the events of its own user, and admins all of them', async () => {
    const { fake, server, aliceToken, adminToken } = await startWithFakeSupervisor();
    await waitFor(() => (fake.eventStreams.size === 1 ? true : undefined));
    const alice = await openEvents(server, aliceToken);
    const admin = await openEvents(server, adminToken);
    expect(alice.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(alice.res.headers.get('cache-control')).toBe('no-cache');
    expect(alice.res.headers.get('x-accel-buffering')).toBe('no');
    await waitFor(() => (alice.messages.length && admin.messages.length ? true : undefined));
    expect(alice.messages[0]).toEqual({ event: 'hello', data: JSON.stringify({ user: { username: 'alice', role: 'user' } }) });

    fake.sendEvent(jobEvent('bob', 'bobs-job'));
    fake.sendEvent(jobEvent('alice', 'alices-job'));
    await waitFor(() => (admin.messages.length === 3 && alice.messages.length === 2 ? true : undefined));
    expect(alice.messages[1]).toEqual({ event: 'log', data: JSON.stringify(jobEvent('alice', 'alices-job')), id: '2' });
    expect(admin.messages.slice(1).map((m) => (JSON.parse(m.data) as { jobId: string }).jobId)).toEqual(['bobs-job', 'alices-job']);
  });

  it("passes an event whose user the supervisor names to that user's streams with its data as it came, and skips one of an unknown type", async () => {
    const { fake, server, aliceToken, adminToken } = await startWithFakeSupervisor();
    await waitFor(() => (fake.eventStreams.size === 1 ? true : undefined));
    const alice = await openEvents(server, aliceToken);
    const admin = await openEvents(server, adminToken);
    await waitFor(() => (alice.messages.length && admin.messages.length ? true : undefined));
    // The data is passed on unread: text the server would refuse to parse as an event reaches alice all the same.
    fake.sendWithUser('log', 'alice', '{"type":"log","said":"not parsed"}');
    fake.sendWithUser('bogus', 'alice', '{"type":"bogus"}');
    fake.sendWithUser('log', 'bob', '{"type":"log","for":"bob"}');
    fake.sendEvent(jobEvent('alice', 'last'));
    await waitFor(() => (alice.messages.length === 3 && admin.messages.length === 4 ? true : undefined));
    expect(alice.messages.slice(1)).toEqual([
      { event: 'log', data: '{"type":"log","said":"not parsed"}', id: '1' },
      { event: 'log', data: JSON.stringify(jobEvent('alice', 'last')), id: '4' },
    ]);
    expect(admin.messages.slice(1).map((m) => m.id)).toEqual(['1', '3', '4']);
  });

  it('sends keepalives at the configured interval and ends a stream when its token is logged out', async () => {
    const { server, aliceToken } = await startWithFakeSupervisor({ JOBVISOR_EVENTS_KEEPALIVE_MS: '50' });
    const stream = await openEventStream(server.url, { authorization: `Bearer ${aliceToken}` });
    await waitFor(() => (stream.text().includes(': keepalive\n') ? true : undefined));
    expect((await call(server, 'POST', '/api/auth/logout', aliceToken)).status).toBe(204);
    await waitFor(() => (stream.ended() ? true : undefined));
    expect(stream.text()).toMatch(/event: end\ndata: \{"reason":"logged out"\}\n\n$/);
  });

  it('reconnects to the supervisor when its stream drops, resuming after the last event id it saw', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    await waitFor(() => (fake.eventStreams.size === 1 ? true : undefined));
    const alice = await openEvents(server, aliceToken);
    fake.sendEvent(jobEvent('alice', 'before-drop'));
    await waitFor(() => alice.messages.find((m) => m.data.includes('before-drop')));
    for (const res of fake.eventStreams) res.destroy();
    await waitFor(() => (fake.resumedFrom.length === 2 && fake.eventStreams.size === 1 ? true : undefined));
    expect(fake.resumedFrom).toEqual([undefined, '1']);
    fake.sendEvent(jobEvent('alice', 'after-reconnect'));
    await waitFor(() => alice.messages.find((m) => m.data.includes('after-reconnect')));
    expect(alice.messages.map((m) => m.event)).toEqual(['hello', 'log', 'log']);

    // A client that comes back with the last id it saw gets what it missed (its own only) from the server's memory.
    alice.close();
    fake.sendEvent(jobEvent('alice', 'missed-1'));
    fake.sendEvent(jobEvent('bob', 'not-hers'));
    fake.sendEvent(jobEvent('alice', 'missed-2'));
    const back = await openEvents(server, aliceToken, '2');
    await waitFor(() => (back.messages.length === 3 ? true : undefined));
    expect(back.messages.slice(1).map((m) => [m.id, (JSON.parse(m.data) as { jobId: string }).jobId])).toEqual([
      ['3', 'missed-1'],
      ['5', 'missed-2'],
    ]);
    expect(fake.received.map((r) => r.url)).not.toContain('/events/backlog?after=2&limit=1000');

    // A supervisor that no longer has the events after that id says resync; so do the clients.
    fake.resyncNext = true;
    for (const res of fake.eventStreams) res.destroy();
    await waitFor(() => (back.messages.some((m) => m.event === 'resync') ? true : undefined));
    expect(fake.resumedFrom).toEqual([undefined, '1', '5']);
  });
});

describe('server input checks before forwarding', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('answers 400 INVALID_INPUT to deep nesting, __proto__/constructor/prototype keys and lone surrogates, and forwards nothing', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    const cases: [string, string, RegExp][] = [
      ['/api/jobs', `{"template":"quick","parameters":{"x":${nested(50_000)}}}`, /nested more than 64 levels deep/],
      ['/api/jobs', `{"template":"quick","parameters":{"x":${nested(63)}}}`, /nested more than 64 levels deep/],
      ['/api/jobs', '{"template":"quick","parameters":{"__proto__":{"samples":5}}}', /key "__proto__" is not allowed/],
      ['/api/jobs', '{"template":"quick","parameters":{"constructor":1}}', /key "constructor" is not allowed/],
      ['/api/jobs', '{"template":"quick","parameters":{"a":[{"prototype":1}]}}', /key "prototype" is not allowed/],
      ['/api/jobs', '{"__proto__":{"template":"quick"}}', /key "__proto__" is not allowed/],
      ['/api/jobs', '{"template":"quick","parameters":{"label":"ab\\ud800"}}', /lone UTF-16 surrogate/],
      ['/api/jobs', '{"template":"quick","parameters":{"\\udc00":"x"}}', /lone UTF-16 surrogate/],
      ['/api/jobs', '{"template":"quick","options":{"partition":"x\\ud83d"}}', /lone UTF-16 surrogate/],
      ['/api/jobs/job1/analysis', '{"frame":"\\udfff"}', /lone UTF-16 surrogate/],
    ];
    for (const [url, body, message] of cases) {
      const res = await fetch(server.url + url, { method: 'POST', headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' }, body });
      const answer = (await res.json()) as { error: { code: string; message: string; details?: { issues: { path: unknown[] }[] } } };
      expect([body.slice(0, 70), res.status, answer.error.code]).toEqual([body.slice(0, 70), 400, 'INVALID_INPUT']);
      expect(answer.error.message).toMatch(message);
      expect(answer.error.details?.issues).toHaveLength(1);
    }
    expect(fake.received).toEqual([]);

    const surrogate = await call(server, 'POST', '/api/jobs', aliceToken, { template: 'quick', parameters: { a: { b: '\ud800' } } });
    expect(surrogate.body?.error.details.issues[0].path).toEqual(['parameters', 'a', 'b']);
    expect(fake.received).toEqual([]);
  });

  it('forwards JSON up to 64 levels deep and well-formed surrogate pairs', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    const body = `{"template":"quick","parameters":{"x":${nested(62)},"label":"\\ud83d\\ude00"}}`;
    const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(fake.received).toHaveLength(1);
    expect(JSON.parse(fake.received[0]?.body ?? '')).toEqual(JSON.parse(body));
  });

  it('answers 400 BAD_JSON to a body that is not UTF-8, and INVALID_INPUT to __proto__ in a query, forwarding nothing', async () => {
    const { fake, server, aliceToken } = await startWithFakeSupervisor();
    const bytes = Buffer.concat([Buffer.from('{"template":"quick","parameters":{"label":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
    const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' }, body: bytes });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'BAD_JSON', message: expect.stringMatching(/not valid UTF-8/) });
    const query = await call(server, 'GET', '/api/jobs/job1/log?__proto__=1&offset=0', aliceToken);
    expect([query.status, query.body?.error.code]).toEqual([400, 'INVALID_INPUT']);
    expect(fake.received).toEqual([]);
  });
});
