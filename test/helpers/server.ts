/**
 * The server on its own, in this process, for tests of what the server decides by itself
 * (accounts, tokens, login limits, cookies, body checks, event streams): real HTTP on port 0, a
 * fresh data folder, an injectable clock, and a supervisor URL where nothing listens.
 * Each test file calls `afterEach(runCleanups)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, quotaOf, supervisorHttpUrl, type Config } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { Accounts } from '../../src/server/accounts.js';
import { createServer } from '../../src/server/app.js';
import { EventFanout } from '../../src/server/events.js';
import { SupervisorClient } from '../../src/server/supervisorClient.js';

export const silentLogger = createLogger('test', 'silent');

const cleanups: (() => Promise<void> | void)[] = [];

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Undoes what the test started, last first. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'jobvisor-server-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port where nothing listens (taken, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export interface TestServer {
  base: string;
  config: Config;
  accounts: Accounts;
  clock: { now: number };
  adminToken: string;
  aliceToken: string;
  events: EventFanout;
  /** The server's log lines (JSON), when started with `captureLogs`. */
  logs: string[];
}

export interface TestServerOptions {
  keepaliveMs?: number;
  /** The event fan-out's cut of a client that does not read (EventFanoutOptions.maxBufferedBytes). */
  maxBufferedBytes?: number;
  /** Keep the server's log lines (level debug) in `logs`. */
  captureLogs?: boolean;
}

/** A server with the users admin (`admin-password`) and alice (`alice-password`), each with a token. */
export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const config = loadConfig({
    JOBVISOR_DATA_DIR: tempDataDir(),
    JOBVISOR_ADMIN_PASSWORD: 'admin-password',
    JOBVISOR_SECRET: 'test-secret-0123456789',
    JOBVISOR_SUPERVISOR_URL: `http://127.0.0.1:${await closedPort()}`,
    ...env,
  });
  const logs: string[] = [];
  const logger = options.captureLogs ? createLogger('server', 'debug', { write: (line: string) => void logs.push(line) }) : silentLogger;
  const clock = { now: Date.now() };
  const accounts = Accounts.open(config, () => clock.now);
  await accounts.ensureAdmin(config);
  await accounts.createUser('alice', 'alice-password', 'user');
  const supervisor = new SupervisorClient({ baseUrl: supervisorHttpUrl(config), secret: config.secret ?? '', logger });
  const events = new EventFanout({ logger, keepaliveMs: options.keepaliveMs, maxBufferedBytes: options.maxBufferedBytes, streamsPerUser: (role) => quotaOf(config.quotas, role).eventStreams });
  const server = createServer({ config, accounts, supervisor, events, logger }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  onCleanup(async () => {
    events.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    accounts.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const adminToken = (await accounts.login('admin', 'admin-password')).token;
  const aliceToken = (await accounts.login('alice', 'alice-password')).token;
  return { base, config, accounts, clock, adminToken, aliceToken, events, logs };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export interface ApiOptions {
  token?: string;
  json?: unknown;
  headers?: Record<string, string>;
  raw?: string;
}

export async function api(base: string, method: string, url: string, options: ApiOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.raw;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/**
 * A raw HTTP request, for what fetch would normalize away (`..` in paths, chunked bodies, raw
 * bytes) or cannot choose (`localAddress`: the client address the server sees, any of 127.0.0.0/8).
 */
export function rawRequest(base: string, options: http.RequestOptions, chunks: (string | Buffer)[] = []): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, agent: false, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

/** POST /api/auth/login from a chosen client address (default 127.0.0.1). */
export function loginFrom(base: string, username: string, password: string, from = '127.0.0.1', headers: Record<string, string> = {}): Promise<RawAnswer> {
  return rawRequest(
    base,
    { method: 'POST', path: '/api/auth/login', localAddress: from, headers: { 'content-type': 'application/json', ...headers } },
    [JSON.stringify({ username, password })],
  );
}

/** An event stream of /api/events: its raw text so far, and whether the server ended it. */
export interface OpenStream {
  status: number;
  text: () => string;
  ended: () => boolean;
  close: () => void;
}

export async function openEventStream(base: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/events`, { headers, signal: controller.signal });
  let text = '';
  let ended = false;
  const decoder = new TextDecoder();
  const reading = (async () => {
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
      ended = true;
    } catch {
      // aborted by close()
    }
  })();
  onCleanup(async () => {
    controller.abort();
    await reading;
  });
  return { status: res.status, text: () => text, ended: () => ended, close: () => controller.abort() };
}
