/**
 * The server's only way to the supervisor: one HTTP request per incoming request, carrying the
 * shared secret and who the caller is. Error answers of the supervisor are rebuilt as the same
 * JobvisorError, so the client sees the same code and status. Also the long-lived event stream.
 *
 * Requests, downloads and uploads go through one undici Pool (supervisorPool.ts): keep-alive
 * connections to the supervisor (TCP or its Unix socket), reused from one request to the next,
 * and undici's own header and body timers instead of an AbortController and a timer per request.
 */
import { Readable } from 'node:stream';
import { CALLER_ROLE_HEADER, CALLER_USER_HEADER, type EventBacklog, type JobEvent } from '../shared/api.js';
import { fromErrorBody, JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { delay, RECONNECT_POLICY, sleep, type RetryPolicy } from '../shared/retry.js';
import type { Caller } from '../shared/types.js';
import { parseLastEventId, SseParser, type SseMessage } from '../shared/sse.js';
import { unixFetch } from './unixFetch.js';
import { SupervisorPool, type BufferedAnswer, type PoolAnswer, type PoolRequest } from './supervisorPool.js';
import { SupervisorReadiness, type ReadinessAnswer } from '../shared/metricsApi.js';

export interface SupervisorRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path and query on the supervisor, already encoded, starting with `/`. */
  path: string;
  caller?: Caller;
  /** Sent as JSON when set. */
  body?: unknown;
  /** More headers (the caller's e-mail settings with a run request). */
  headers?: Record<string, string>;
}

export interface SupervisorAnswer {
  status: number;
  /** The parsed JSON body; undefined when the answer had none. */
  body: unknown;
}

/** An answer passed on as the supervisor sent it (`SupervisorClient.relay`). */
export interface SupervisorRelay {
  status: number;
  /** The JSON bytes of the answer; empty when it had none. */
  json: Buffer;
}

export interface SupervisorDownload {
  status: number;
  /** content-type, content-length and content-disposition, when the supervisor sent them. */
  headers: Record<string, string>;
  body: Readable;
}

export interface SupervisorClientOptions {
  baseUrl: string;
  secret: string;
  logger: Logger;
  /**
   * Longest wait for the headers of an answer, and (but for downloads) for each part of its body
   * after them. Default 6 minutes, as analyses may take 5.
   */
  requestTimeoutMs?: number;
  healthTimeoutMs?: number;
  /** The event stream is reopened when nothing (not even a keepalive) arrived for this long. */
  eventsIdleTimeoutMs?: number;
  reconnectPolicy?: RetryPolicy;
}

export interface SubscribeOptions {
  /** Called each time the event stream is (re)opened, with how many times it was opened before. */
  onConnect?: (previousConnections: number) => void;
  /** Called when events may have been missed and cannot be had again: readers should refetch. */
  onResync?: () => void;
}

/** The last journal number the event stream delivered; undefined before the stream first opened. */
interface StreamPosition {
  lastId: number | undefined;
}

/**
 * A supervisor event as it arrived: its type and user, its journal number and its JSON text.
 * `event` is the whole parsed event only when the supervisor did not say whose it is (an older
 * supervisor, or a replay from its journal); otherwise the data is passed on unparsed.
 */
export type EventHandler = (event: JobEvent | EventMeta, id: number | undefined, data: string) => void;

/** What the server needs of an event to pass it on: its type and whose it is. */
export type EventMeta = Pick<JobEvent, 'type' | 'user'>;

const EVENT_TYPES: ReadonlySet<string> = new Set<JobEvent['type']>(['job', 'log', 'progress', 'deleted', 'pipeline']);

const PASSED_DOWNLOAD_HEADERS = ['content-type', 'content-length', 'content-disposition'];

export class SupervisorClient {
  private readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly healthTimeoutMs: number;
  private readonly eventsIdleTimeoutMs: number;
  private readonly reconnectPolicy: RetryPolicy;
  /** `Bearer <secret>`, made once. */
  private readonly authorization: string;

  /** Global fetch, or fetch over the supervisor's Unix socket when baseUrl is `unix:<path>`. */
  private readonly fetch: typeof fetch;
  /** Keep-alive connections for requests, downloads and uploads. */
  private readonly pool: SupervisorPool;

  constructor(private readonly options: SupervisorClientOptions) {
    const socket = options.baseUrl.startsWith('unix:') ? options.baseUrl.slice('unix:'.length) : undefined;
    this.fetch = socket === undefined ? (input, init) => globalThis.fetch(input, init) : unixFetch(socket);
    this.baseUrl = socket === undefined ? options.baseUrl.replace(/\/+$/, '') : 'http://localhost';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 6 * 60_000;
    this.pool = new SupervisorPool(this.baseUrl, socket, this.requestTimeoutMs);
    this.healthTimeoutMs = options.healthTimeoutMs ?? 2_000;
    this.eventsIdleTimeoutMs = options.eventsIdleTimeoutMs ?? 90_000;
    this.reconnectPolicy = options.reconnectPolicy ?? RECONNECT_POLICY;
    this.authorization = `Bearer ${options.secret}`;
  }

  /** Sends a request and returns the supervisor's JSON answer; an error answer is thrown as JobvisorError. */
  async request(req: SupervisorRequest): Promise<SupervisorAnswer> {
    try {
      const res = await this.call(req);
      const body = parseJsonAnswer(res.body.toString('utf8'), res.status);
      if (!isOk(res.status)) throw fromErrorBody(body, res.status);
      return { status: res.status, body };
    } catch (err) {
      throw this.asJobvisorError(err, req);
    }
  }

  /**
   * Like `request`, for an answer the server passes on unchanged: a JSON answer's bytes are
   * returned as they came, neither parsed nor written again. (An answer that does not say it is
   * JSON is parsed, so that one that is not JSON is still refused as `request` refuses it.)
   */
  async relay(req: SupervisorRequest): Promise<SupervisorRelay> {
    try {
      const res = await this.call(req);
      const json = res.body;
      if (!isOk(res.status)) throw fromErrorBody(parseJsonAnswer(json.toString('utf8'), res.status), res.status);
      if (json.length > 0 && !isJsonType(res.contentType)) parseJsonAnswer(json.toString('utf8'), res.status);
      return { status: res.status, json };
    } catch (err) {
      throw this.asJobvisorError(err, req);
    }
  }

  /** Sends a request whose answer is a file: the body is streamed, never held whole. */
  async download(req: SupervisorRequest): Promise<SupervisorDownload> {
    try {
      const res = await this.send(req);
      if (!isOk(res.statusCode)) throw fromErrorBody(parseJsonAnswer(await readText(res), res.statusCode), res.statusCode);
      const headers: Record<string, string> = {};
      for (const name of PASSED_DOWNLOAD_HEADERS) {
        const value = res.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      return { status: res.statusCode, headers, body: res.body };
    } catch (err) {
      throw this.asJobvisorError(err, req);
    }
  }

  /**
   * Streams `body` (one uploaded file) to the supervisor as the request body and returns its
   * JSON answer; the file is never held whole. The supervisor reads the body to its end before
   * answering, also when it refuses it.
   */
  async upload(req: Omit<SupervisorRequest, 'body' | 'method'>, body: Readable): Promise<SupervisorAnswer> {
    try {
      const headers = { ...this.headers(req.caller), 'content-type': 'application/octet-stream' };
      const res = await this.pool.send({ method: 'POST', path: req.path, headers, body });
      const parsed = parseJsonAnswer(await readText(res), res.statusCode);
      if (!isOk(res.statusCode)) throw fromErrorBody(parsed, res.statusCode);
      return { status: res.statusCode, body: parsed };
    } catch (err) {
      throw this.asJobvisorError(err, { ...req, method: 'POST' });
    }
  }

  /** Closes the connections of requests, downloads and uploads (the event stream ends with its signal). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Whether the supervisor answers its health check (`GET /health`) in time. */
  async isUp(): Promise<boolean> {
    try {
      const res = await this.fetch(`${this.baseUrl}/health`, { headers: this.headers(), signal: AbortSignal.timeout(this.healthTimeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** The supervisor's Prometheus text (`GET /metrics`), or undefined when it does not answer it within `timeoutMs`. */
  async metricsText(timeoutMs: number): Promise<string | undefined> {
    try {
      const res = await this.fetch(`${this.baseUrl}/metrics`, { headers: { authorization: `Bearer ${this.options.secret}` }, signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      return res.ok ? text : undefined;
    } catch (err) {
      this.options.logger.warn({ err: describe(err) }, 'supervisor metrics could not be read');
      return undefined;
    }
  }

  /** Whether the supervisor answers and its database does (`GET /health/ready`), and if not, why. */
  async readiness(timeoutMs: number): Promise<ReadinessAnswer> {
    let res: Response;
    try {
      res = await this.fetch(`${this.baseUrl}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(err);
      return { ready: false, supervisor: 'down', database: 'unknown', reason: `the supervisor is not reachable (${why})` };
    }
    const parsed = SupervisorReadiness.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) return { ready: false, supervisor: 'down', database: 'unknown', reason: `the supervisor answered its readiness check with HTTP ${res.status} and no readiness` };
    const r = parsed.data;
    return { ready: r.ready && res.ok, supervisor: 'up', database: r.database, ...(r.reason !== undefined ? { reason: r.reason } : {}) };
  }

  /** The supervisor's events after journal number `after` (or `resync` when they are gone). */
  async eventBacklog(after: number, limit: number): Promise<EventBacklog> {
    const answer = await this.request({ method: 'GET', path: `/events/backlog?after=${after}&limit=${limit}` });
    return answer.body as EventBacklog;
  }

  /**
   * Holds `GET /events` open and calls `onEvent` for each JobEvent, reconnecting with backoff
   * whenever the stream drops. Each reconnect sends the last journal number seen as
   * `Last-Event-ID`, so the supervisor (even a restarted one) sends what was missed meanwhile;
   * when it cannot, or nothing was seen yet, `onResync` says so. Resolves when `signal` aborts.
   */
  async subscribeEvents(onEvent: EventHandler, signal: AbortSignal, options: SubscribeOptions = {}): Promise<void> {
    let failures = 0;
    let connections = 0;
    const position: StreamPosition = { lastId: undefined };
    while (!signal.aborted) {
      try {
        await this.readEventStream(onEvent, signal, position, options, () => {
          const previous = connections++;
          options.onConnect?.(previous);
          if (previous > 0 && position.lastId === undefined) options.onResync?.();
          failures = 0;
        });
        if (!signal.aborted) this.options.logger.warn('supervisor event stream ended; reconnecting');
      } catch (err) {
        if (signal.aborted) break;
        this.options.logger.warn({ err: describe(err), attempt: failures }, 'supervisor event stream failed; reconnecting');
      }
      await sleep(delay(failures++, this.reconnectPolicy), signal);
    }
  }

  private async readEventStream(onEvent: EventHandler, outer: AbortSignal, position: StreamPosition, options: SubscribeOptions, onOpen: () => void): Promise<void> {
    const idle = new AbortController();
    const signal = AbortSignal.any([outer, idle.signal]);
    let timer = setTimeout(() => idle.abort(), this.eventsIdleTimeoutMs);
    const keepAlive = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), this.eventsIdleTimeoutMs);
    };
    try {
      const headers: Record<string, string> = { ...this.headers(), accept: 'text/event-stream' };
      if (position.lastId !== undefined) headers['last-event-id'] = String(position.lastId);
      const res = await this.fetch(`${this.baseUrl}/events`, { headers, signal });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new Error(`supervisor answered GET /events with HTTP ${res.status}`);
      }
      onOpen();
      const parser = new SseParser((message) => {
        if (message.event === 'ready' || message.event === 'resync') {
          const latest = (JSON.parse(message.data) as { latest?: number }).latest ?? 0;
          if (message.event === 'resync') {
            this.options.logger.warn({ after: position.lastId }, 'the supervisor no longer has the events after the last one seen; clients refetch');
            options.onResync?.();
          }
          if (message.event === 'resync' || position.lastId === undefined) position.lastId = latest;
          return;
        }
        const id = parseLastEventId(message.id);
        if (this.dispatchEvent(message, id, onEvent) && id !== undefined) position.lastId = id;
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        keepAlive();
        parser.push(decoder.decode(chunk, { stream: true }));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Parses (only if it must) and hands on one event; false if it was not one. */
  private dispatchEvent(message: SseMessage, id: number | undefined, onEvent: EventHandler): boolean {
    if (message.user !== undefined && EVENT_TYPES.has(message.event)) {
      // The supervisor said whose it is: no need to parse the data to pass it on.
      try {
        onEvent({ type: message.event as JobEvent['type'], user: message.user }, id, message.data);
      } catch (err) {
        this.options.logger.error({ err }, 'handling a supervisor event failed');
      }
      return true;
    }
    let value: unknown;
    try {
      value = JSON.parse(message.data);
    } catch {
      this.options.logger.warn({ event: message.event }, 'supervisor sent an event that is not JSON; skipped');
      return false;
    }
    if (!isJobEvent(value)) {
      this.options.logger.warn({ event: message.event }, 'supervisor sent an event of unknown shape; skipped');
      return false;
    }
    try {
      onEvent(value, id, message.data);
    } catch (err) {
      this.options.logger.error({ err }, 'handling a supervisor event failed');
    }
    return true;
  }

  /** Sends a request whose answer is small, and returns it whole. */
  private call(req: SupervisorRequest): Promise<BufferedAnswer> {
    return this.pool.call(this.poolRequest(req));
  }

  /** Sends a request whose answer is streamed. */
  private send(req: SupervisorRequest): Promise<PoolAnswer> {
    return this.pool.send(this.poolRequest(req), { streamed: true });
  }

  private poolRequest(req: SupervisorRequest): PoolRequest {
    // One object per request, filled in place: the spreads of two objects it replaced were a
    // sixtieth of the server's CPU per proxied GET. Our own headers come last and win.
    const headers: Record<string, string> = req.headers === undefined ? {} : Object.assign({}, req.headers);
    this.addHeaders(headers, req.caller);
    if (req.body === undefined) return { method: req.method, path: req.path, headers };
    headers['content-type'] = 'application/json';
    return { method: req.method, path: req.path, headers, body: JSON.stringify(req.body) };
  }

  private headers(caller?: Caller): Record<string, string> {
    const headers: Record<string, string> = {};
    this.addHeaders(headers, caller);
    return headers;
  }

  /** The shared secret and who the caller is, as the supervisor expects them. */
  private addHeaders(headers: Record<string, string>, caller: Caller | undefined): void {
    headers.authorization = this.authorization;
    headers.accept = 'application/json';
    if (caller) {
      headers[CALLER_USER_HEADER] = caller.username;
      headers[CALLER_ROLE_HEADER] = caller.role;
    }
  }

  /** Errors of the supervisor pass unchanged; failing to reach it at all becomes SUPERVISOR_UNAVAILABLE. */
  private asJobvisorError(err: unknown, req: SupervisorRequest): JobvisorError {
    if (err instanceof JobvisorError) return err;
    this.options.logger.warn({ err: describe(err), method: req.method, path: req.path }, 'supervisor is not reachable');
    return new JobvisorError('SUPERVISOR_UNAVAILABLE', 'supervisor is not reachable');
  }
}

async function readText(res: PoolAnswer): Promise<string> {
  if (res.statusCode === 204) {
    res.body.resume();
    return '';
  }
  return res.body.text();
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Whether a content-type names JSON (`application/json`, with or without parameters). */
function isJsonType(value: string | undefined): boolean {
  return typeof value === 'string' && /^application\/json\s*(;|$)/i.test(value);
}

function parseJsonAnswer(text: string, status: number): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new JobvisorError('INTERNAL', `supervisor answered HTTP ${status} with a body that is not JSON`);
  }
}

function isJobEvent(value: unknown): value is JobEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  if (typeof e.user !== 'string') return false;
  if (e.type === 'job') return typeof e.job === 'object' && e.job !== null;
  if (e.type === 'log') return typeof e.jobId === 'string' && typeof e.serial === 'number' && Array.isArray(e.lines);
  if (e.type === 'progress') return typeof e.jobId === 'string' && typeof e.serial === 'number';
  if (e.type === 'deleted') return typeof e.jobId === 'string';
  if (e.type === 'pipeline') return typeof e.pipelineId === 'string' && typeof e.pipeline === 'object';
  return false;
}

/** A short description of a network error: undici hides the useful part in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${err.message}: ${cause.code ?? cause.message ?? ''}` : err.message;
}
