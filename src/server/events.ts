/**
 * Fans the supervisor's events out to clients over Server-Sent Events. The server holds one
 * subscription to the supervisor; each client gets the events of its own user (admins get all).
 * The stream carries changes only: a client fetches /api/jobs for the current state, and again
 * when it receives `event: resync` (sent after the supervisor stream was lost, since events may
 * have been missed meanwhile).
 *
 * Each stream belongs to the login token it was opened with (by header or cookie alike): a
 * logout ends the token's streams at once, and every keepalive checks each token again, so a
 * stream ends at most one keepalive interval after its token expired. Before it ends, the
 * stream says why (`event: end`).
 */
import { JobvisorError } from '../shared/errors.js';
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { JobEvent } from '../shared/api.js';
import type { Logger } from '../shared/logger.js';
import type { Caller } from '../shared/types.js';
import { formatSseComment, formatSseMessage } from '../shared/sse.js';

export interface EventFanoutOptions {
  logger: Logger;
  keepaliveMs?: number;
  /** A client whose unsent data grows past this is disconnected (it can reconnect and refetch). */
  maxBufferedBytes?: number;
  /** How many streams one user may hold open at once, by role. */
  streamsPerUser?: (role: Caller['role']) => number;
}

/** The login a stream was opened with. */
export interface StreamLogin {
  token: string;
  /** Whether the token is still valid (not logged out, not expired). */
  isValid: () => boolean;
}

interface Client {
  caller: Caller;
  login: StreamLogin;
  stream: PassThrough;
}

export class EventFanout {
  private readonly clients = new Set<Client>();
  private readonly keepaliveMs: number;
  private readonly maxBufferedBytes: number;
  private keepaliveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EventFanoutOptions) {
    this.keepaliveMs = options.keepaliveMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Turns the request into an event stream for `caller`; it stays open until the client leaves, its login ends, or close(). */
  attach(ctx: Context, caller: Caller, login: StreamLogin): void {
    const limit = this.options.streamsPerUser?.(caller.role) ?? Infinity;
    const open = [...this.clients].filter((c) => c.caller.username === caller.username).length;
    if (open >= limit) {
      throw new JobvisorError('QUOTA_EXCEEDED', `you have ${open} event streams open, the most a${caller.role === 'admin' ? 'n admin' : ' user'} may (quotas.${caller.role}.eventStreams = ${limit}); close one first`, { quota: 'eventStreams', limit });
    }
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    const stream = new PassThrough();
    const client: Client = { caller, login, stream };
    this.clients.add(client);
    const detach = () => this.detach(client);
    ctx.req.on('close', detach);
    ctx.res.on('close', detach);
    stream.on('close', detach);
    stream.on('error', detach);
    ctx.body = stream;
    stream.write(formatSseMessage('hello', JSON.stringify({ user: { username: caller.username, role: caller.role } })));
    this.startKeepalive();
    this.options.logger.debug({ user: caller.username, clients: this.clients.size }, 'event client connected');
  }

  /** Sends an event of the supervisor to every client allowed to see it. */
  publish(event: JobEvent): void {
    const message = formatSseMessage(event.type, JSON.stringify(event));
    for (const client of this.clients) {
      if (client.caller.role === 'admin' || client.caller.username === event.user) this.send(client, message);
    }
  }

  /** Tells every client to refetch the current state (events may have been missed). */
  resync(): void {
    const message = formatSseMessage('resync', '{}');
    for (const client of this.clients) this.send(client, message);
  }

  /** Ends every stream opened with `token` (it was logged out). */
  endLogin(token: string, reason: string): void {
    for (const client of [...this.clients]) if (client.login.token === token) this.end(client, reason);
  }

  /** Ends every client stream. */
  close(): void {
    for (const client of [...this.clients]) client.stream.end();
    this.clients.clear();
    this.stopKeepalive();
  }

  private send(client: Client, message: string): void {
    if (client.stream.writableLength > this.maxBufferedBytes) {
      this.options.logger.warn({ user: client.caller.username }, 'event client too slow; disconnected');
      client.stream.destroy();
      this.detach(client);
      return;
    }
    client.stream.write(message);
  }

  private end(client: Client, reason: string): void {
    if (!client.stream.destroyed) client.stream.write(formatSseMessage('end', JSON.stringify({ reason })));
    this.detach(client);
    this.options.logger.debug({ user: client.caller.username, reason }, 'event stream ended');
  }

  /** Sends a keepalive to each client whose token is still valid, and ends the others' streams. */
  private keepalive(): void {
    const comment = formatSseComment('keepalive');
    const valid = new Map<string, boolean>();
    for (const client of [...this.clients]) {
      const { token } = client.login;
      let ok = valid.get(token);
      if (ok === undefined) valid.set(token, (ok = client.login.isValid()));
      if (ok) this.send(client, comment);
      else this.end(client, 'login expired');
    }
  }

  private detach(client: Client): void {
    if (!this.clients.delete(client)) return;
    if (!client.stream.destroyed) client.stream.end();
    if (this.clients.size === 0) this.stopKeepalive();
    this.options.logger.debug({ user: client.caller.username, clients: this.clients.size }, 'event client disconnected');
  }

  private startKeepalive(): void {
    if (this.keepaliveTimer) return;
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }
}
