/**
 * The server's connections to the supervisor (src/server/supervisorPool.ts, used by
 * SupervisorClient): keep-alive reuse, counted on the supervisor's side; answers passed on as
 * they came; timeouts and broken connections as SUPERVISOR_UNAVAILABLE; uploads and downloads
 * streamed; the same over a Unix socket. A plain node:http server stands in for the supervisor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { JobvisorError } from '../src/shared/errors.js';
import { SupervisorClient } from '../src/server/supervisorClient.js';
import { api, onCleanup, runCleanups, silentLogger as logger, startTestServer } from './helpers/server.js';

afterEach(runCleanups);

const SECRET = 'test-secret-0123456789';

interface Fake {
  base: string;
  /** TCP (or Unix socket) connections the fake accepted so far. */
  connections: number;
  /** Requests it received: method, URL and body. */
  received: { method: string; url: string; body: Buffer }[];
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;
}

/** A stand-in supervisor on 127.0.0.1 (or on the Unix socket `socketPath`). */
async function startFake(socketPath?: string): Promise<Fake> {
  const fake: Fake = {
    base: '',
    connections: 0,
    received: [],
    handler: (_req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end('{"job":{"jobId":"job1"}}');
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      fake.received.push({ method: req.method ?? '', url: req.url ?? '', body });
      fake.handler(req, res, body);
    });
  });
  server.on('connection', () => fake.connections++);
  await new Promise<void>((resolve) => (socketPath ? server.listen(socketPath, resolve) : server.listen(0, '127.0.0.1', resolve)));
  fake.base = socketPath ? `unix:${socketPath}` : `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  onCleanup(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return fake;
}

function client(fake: Fake, requestTimeoutMs?: number): SupervisorClient {
  const c = new SupervisorClient({ baseUrl: fake.base, secret: SECRET, logger, ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}) });
  onCleanup(() => c.close());
  return c;
}

const caller = { username: 'alice', role: 'user' as const };

async function unavailable(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof JobvisorError ? err.code : String(err);
  }
}

describe('the server to supervisor connections', () => {
  // undici checks an idle kept-alive connection for one turn of the event loop before it reuses
  // it (GHSA-35p6-xmwp-9g52), so a request sent in that turn opens another one: up to twice as
  // many connections as requests in flight, then reused.
  it('sends 200 requests, 10 at a time, over at most 20 kept-alive connections', async () => {
    const fake = await startFake();
    const c = client(fake);
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => c.request({ method: 'GET', path: '/jobs/job1', caller })));
      for (const a of answers) expect(a).toEqual({ status: 200, body: { job: { jobId: 'job1' } } });
    }
    expect(fake.received).toHaveLength(200);
    expect(fake.connections).toBeGreaterThanOrEqual(1);
    expect(fake.connections).toBeLessThanOrEqual(20);
  });

  it('sends 50 requests one after the other over at most 2 connections, also over a Unix socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jobvisor-pool-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    for (const fake of [await startFake(), await startFake(path.join(dir, 'supervisor.sock'))]) {
      const c = client(fake);
      for (let i = 0; i < 50; i++) expect((await c.request({ method: 'GET', path: `/jobs/job${i}`, caller })).status).toBe(200);
      expect(fake.received.map((r) => r.url)).toEqual(Array.from({ length: 50 }, (_, i) => `/jobs/job${i}`));
      expect(fake.connections, fake.base).toBeGreaterThanOrEqual(1);
      expect(fake.connections, fake.base).toBeLessThanOrEqual(2);
    }
  });

  it('passes a JSON answer on through the server byte for byte, with its status', async () => {
    const fake = await startFake();
    const text = '{"job":{"jobId":"job1","note":"é ü \\u2028"},  "n":1.50}';
    fake.handler = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
      res.end(text);
    };
    const s = await startTestServer({ JOBVISOR_SUPERVISOR_URL: fake.base });
    const res = await fetch(`${s.base}/api/jobs/job1`, { headers: { authorization: `Bearer ${s.aliceToken}` } });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.text()).toBe(text);
    expect(fake.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /jobs/job1']);
  });

  it('answers 500 INTERNAL when a 2xx answer of the supervisor is not JSON, and 204 when it has no body', async () => {
    const fake = await startFake();
    fake.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
    };
    const s = await startTestServer({ JOBVISOR_SUPERVISOR_URL: fake.base });
    const bad = await api(s.base, 'GET', '/api/jobs/job1', { token: s.aliceToken });
    expect(bad.status).toBe(500);
    expect(bad.body.error.code).toBe('INTERNAL');
    fake.handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const none = await api(s.base, 'DELETE', '/api/jobs/job1', { token: s.aliceToken });
    expect(none.status).toBe(204);
    expect(none.body).toBeUndefined();
  });

  it('answers SUPERVISOR_UNAVAILABLE when the supervisor cuts the connection or sends no headers in time, and goes on after', async () => {
    const fake = await startFake();
    const c = client(fake, 300);
    fake.handler = (req) => req.socket.destroy();
    expect(await unavailable(c.request({ method: 'GET', path: '/jobs/job1', caller }))).toBe('SUPERVISOR_UNAVAILABLE');
    fake.handler = () => undefined; // never answers
    expect(await unavailable(c.request({ method: 'GET', path: '/jobs/job1', caller }))).toBe('SUPERVISOR_UNAVAILABLE');
    fake.handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'JOB_NOT_FOUND', message: 'no job job1' } }));
    };
    expect(await unavailable(c.request({ method: 'GET', path: '/jobs/job1', caller }))).toBe('JOB_NOT_FOUND');
  });

  it('streams an upload to the supervisor whole, and a download whose body pauses longer than the request timeout', async () => {
    const fake = await startFake();
    const c = client(fake, 200);
    const file = Buffer.alloc(3 * 1024 * 1024, 7);
    fake.handler = (_req, res, body) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ bytes: body.length, sevens: body.every((b) => b === 7) }));
    };
    const up = await c.upload({ path: '/uploads?name=a.bin', caller }, Readable.from([file.subarray(0, 1024), file.subarray(1024)]));
    expect(up).toEqual({ status: 200, body: { bytes: file.length, sevens: true } });
    expect(fake.received.at(-1)?.url).toBe('/uploads?name=a.bin');

    fake.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
      res.write('first');
      setTimeout(() => res.end('-last'), 500);
    };
    const down = await c.download({ method: 'GET', path: '/jobs/job1/files/out.txt', caller });
    expect(down.headers).toEqual({ 'content-type': 'text/plain', 'content-length': '10' });
    const chunks: Buffer[] = [];
    for await (const chunk of down.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('first-last');
  });

  it('sends the path as fetch did: dot segments resolved, characters a request line may not carry encoded', async () => {
    const fake = await startFake();
    const c = client(fake);
    await c.request({ method: 'GET', path: '/jobs/job1/files/a/../b c?x=1', caller });
    expect(fake.received.at(-1)?.url).toBe('/jobs/job1/files/b%20c?x=1');
    // Plain paths are sent as they are (no URL parse); each must still come out as the parser makes it.
    const paths = ['/jobs/job1', '/jobs?limit=100&cursor=eyJx%3D', '/jobs/a/./b', '/jobs/a/..', '/jobs/x/..?y=1', '/jobs/.hidden/..x', '/jobs/a.b/c..d', '/jobs?q=a b', '/jobs/%2e%2e/x'];
    for (const p of paths) {
      await c.request({ method: 'GET', path: p, caller });
      const parsed = new URL(p, 'http://localhost');
      expect([p, fake.received.at(-1)?.url]).toEqual([p, parsed.pathname + parsed.search]);
    }
  });
});
