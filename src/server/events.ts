/**
 * Fans the supervisor's events out to clients over Server-Sent Events. The server holds one
 * subscription to the supervisor; each client gets the events of its own user (admins get all).
 * The stream carries changes only: a client fetches /api/jobs for the current state, and again
 * when it receives `event: resync` (events were missed and cannot be had again).
 *
 * Every event carries its journal number as its SSE `id`. A client that reconnects with
 * `Last-Event-ID` (browsers' EventSource does by itself; or `?lastEventId=`) first gets the
 * events of its user that it missed, then the live ones: from the server's memory of recent
 * events, or, when the server has restarted since, from the supervisor's journal. Live events
 * that arrive while those are fetched wait, so nothing comes twice or out of order.
 *
 * Each stream belongs to the login token it was opened with (by header or cookie alike): a
 * logout ends the token's streams at once, and every keepalive checks each token again, so a
 * stream ends at most one keepalive interval after its token expired. Before it ends, the
 * stream says why (`event: end`).
 *
 * Cost under load (issue 13): each event is formatted once and only the clients of its user (and
 * the admins) are visited. A client's messages of one turn of the event loop (all the events of
 * the chunks of the supervisor's stream read in that turn) are gathered and written to its socket
 * at once, at the end of that turn (`setImmediate`, no timer): one write per client per turn, not
 * one per event or per chunk. The live events of a turn are the same for every stream of a user
 * (and for every admin's), so they are gathered once per audience (a `TurnBatch`), turned into
 * bytes once, and that one buffer is written to each of those streams: not a string and a copy
 * per client (see `deliver` for the streams that also get a message of their own). A client whose
 * backlog (what it was sent in earlier turns and has not taken: ours and its socket's) is past
 * `maxBufferedBytes` when a turn's messages are due is cut, so a stalled reader costs memory up to
 * that bound plus one turn's messages and never delays the others; a client that keeps up is not
 * cut for one large burst (as when the supervisor's stream comes late).
 */
import { JobvisorError } from '../shared/errors.js';
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { EventBacklog, JobEvent } from '../shared/api.js';
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
  /** The supervisor's journal, for clients that resume from before what the server remembers. */
  backlog?: (after: number, limit: number) => Promise<EventBacklog>;
  /** How many recent events the server remembers for resuming clients (and at most how many bytes). */
  recentEvents?: number;
  recentBytes?: number;
}

/** What the fan-out needs of an event: its type and whose it is (the data is passed as JSON text). */
export type EventMeta = Pick<JobEvent, 'type' | 'user'>;

/** A published event, ready to send: its number, whose it is, and its SSE text. */
interface Recent {
  id: number;
  user: string;
  message: string;
}

function newBatch(): TurnBatch {
  return { text: '', complete: false };
}

/** A client resumes from the journal in pages of this many events, and at most this many pages. */
const BACKLOG_PAGE = 1000;
const BACKLOG_PAGES = 20;

/** The login a stream was opened with. */
export interface StreamLogin {
  token: string;
  /** Whether the token is still valid (not logged out, not expired). */
  isValid: () => boolean;
}

/**
 * The live events of one turn of the event loop for one audience (a user's streams, or the
 * admins'), gathered once for all of them; its bytes are made once, at the first write.
 */
interface TurnBatch {
  text: string;
  /** Set when its turn's flush begins: no event is added to it after that. */
  complete: boolean;
  bytes?: Buffer;
}

interface Client {
  caller: Caller;
  login: StreamLogin;
  res: ServerResponse;
  /** Messages of this turn of the event loop not written yet (written together at its end). */
  pending: string;
  /**
   * Or, instead of `pending`: this turn's batch of the client's audience, when the client gets
   * exactly that batch this turn (all of it, and nothing else). Never set with `pending`.
   */
  batch?: TurnBatch;
  closed: boolean;
  /** While the client catches up from the journal: the live events that arrived meanwhile. */
  waiting?: Recent[];
}

export class EventFanout {
  private readonly clients = new Set<Client>();
  /** The same clients by user name (non-admins), and the admins, who see every event. */
  private readonly byUser = new Map<string, Set<Client>>();
  private readonly admins = new Set<Client>();
  /** Clients with pending messages, written at the end of this turn of the event loop. */
  private readonly unflushed: Client[] = [];
  private flushScheduled = false;
  /** This turn's batches, by user name, and the admins'; new ones at each flush. */
  private batches = new Map<string, TurnBatch>();
  private adminBatch: TurnBatch | undefined;
  private readonly keepaliveMs: number;
  private readonly maxBufferedBytes: number;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  /** The latest events, oldest first from `recentStart`, for clients that resume (bounded by count and bytes). */
  private recent: Recent[] = [];
  private recentStart = 0;
  private recentBytes = 0;
  private latestId: number | undefined;

  constructor(private readonly options: EventFanoutOptions) {
    this.keepaliveMs = options.keepaliveMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Turns the request into an event stream for `caller`; it stays open until the client
   * leaves, its login ends, or close(). With `lastEventId`, the stream resumes after it.
   */
  attach(ctx: Context, caller: Caller, login: StreamLogin, lastEventId?: number): void {
    const limit = this.options.streamsPerUser?.(caller.role) ?? Infinity;
    const open = this.streamsOf(caller.username);
    if (open >= limit) {
      throw new JobvisorError('QUOTA_EXCEEDED', `you have ${open} event streams open, the most a${caller.role === 'admin' ? 'n admin' : ' user'} may (quotas.${caller.role}.eventStreams = ${limit}); close one first`, { quota: 'eventStreams', limit });
    }
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    // Written straight to the response (no stream in between): its writableLength is the true backlog.
    ctx.respond = false;
    const res = ctx.res;
    const client: Client = { caller, login, res, pending: '', closed: false };
    this.add(client);
    const detach = () => this.detach(client);
    ctx.req.on('close', detach);
    res.on('close', detach);
    res.on('error', detach);
    res.write(formatSseMessage('hello', JSON.stringify({ user: { username: caller.username, role: caller.role } })));
    if (lastEventId !== undefined) this.resume(client, lastEventId);
    this.startKeepalive();
    this.options.logger.debug({ user: caller.username, clients: this.clients.size }, 'event client connected');
  }

  /**
   * Sends an event of the supervisor to every client allowed to see it; `data` is its JSON
   * text. An event without a journal number (from a supervisor without a journal) is sent
   * without an id and cannot be resumed from.
   */
  publish(event: JobEvent | EventMeta, id: number | undefined, data: string = JSON.stringify(event)): void {
    const recent: Recent = { id: id ?? 0, user: event.user, message: formatSseMessage(event.type, data, id) };
    if (id !== undefined) this.remember(recent);
    const own = this.byUser.get(recent.user);
    if (own) {
      let batch = this.batches.get(recent.user);
      if (!batch) this.batches.set(recent.user, (batch = newBatch()));
      this.deliverAll(own, recent, batch);
    }
    if (this.admins.size > 0) this.deliverAll(this.admins, recent, (this.adminBatch ??= newBatch()));
  }

  /** Delivers a live event to an audience's clients, then adds it to that audience's batch of this turn. */
  private deliverAll(clients: Set<Client>, recent: Recent, batch: TurnBatch): void {
    for (const client of clients) this.deliver(client, recent, batch);
    batch.text += recent.message;
  }

  /**
   * A client shares its audience's batch only if it has had every message of it (it took the
   * batch when the batch was still empty) and no message of its own this turn; otherwise the
   * event is added to the client's own `pending` (a stream that resumed, or was told to resync,
   * in this turn: its messages keep their order). `batch` does not hold `recent` yet.
   */
  private deliver(client: Client, recent: Recent, batch: TurnBatch): void {
    if (client.waiting) client.waiting.push(recent);
    else if (client.batch === batch) return;
    else if (client.batch === undefined && client.pending === '' && batch.text === '' && !client.closed) {
      client.batch = batch;
      this.queueFlush(client);
    } else this.send(client, recent.message);
  }

  /** Tells every client to refetch the current state (events were missed and cannot be had again). */
  resync(): void {
    this.recent = [];
    this.recentStart = 0;
    this.recentBytes = 0;
    this.latestId = undefined;
    const message = formatSseMessage('resync', '{}');
    for (const client of this.clients) {
      if (client.waiting) client.waiting = [];
      this.send(client, message);
    }
  }

  /** Ends every stream opened with `token` (it was logged out). */
  endLogin(token: string, reason: string): void {
    for (const client of [...this.clients]) if (client.login.token === token) this.end(client, reason);
  }

  /**
   * Ends, at once, every stream of `username` whose token no longer holds (revoked, or the user
   * disabled or deleted), or (`all`: their role changed, which a stream keeps from its start) every one.
   */
  endRevoked(username: string, reason: string, all = false): void {
    for (const client of [...this.clients]) if (client.caller.username === username && (all || !client.login.isValid())) this.end(client, reason);
  }

  /** Ends every client stream. */
  close(): void {
    for (const client of [...this.clients]) this.detach(client);
    this.stopKeepalive();
  }

  private streamsOf(username: string): number {
    let n = this.byUser.get(username)?.size ?? 0;
    for (const c of this.admins) if (c.caller.username === username) n++;
    return n;
  }

  private add(client: Client): void {
    this.clients.add(client);
    if (client.caller.role === 'admin') {
      this.admins.add(client);
      return;
    }
    let own = this.byUser.get(client.caller.username);
    if (!own) this.byUser.set(client.caller.username, (own = new Set()));
    own.add(client);
  }

  private remove(client: Client): boolean {
    if (!this.clients.delete(client)) return false;
    this.admins.delete(client);
    const own = this.byUser.get(client.caller.username);
    if (own?.delete(client) && own.size === 0) this.byUser.delete(client.caller.username);
    return true;
  }

  private sees(client: Client, user: string): boolean {
    return client.caller.role === 'admin' || client.caller.username === user;
  }

  private remember(recent: Recent): void {
    this.latestId = recent.id;
    this.recent.push(recent);
    this.recentBytes += recent.message.length;
    const maxCount = this.options.recentEvents ?? 10_000;
    const maxBytes = this.options.recentBytes ?? 16 * 1024 * 1024;
    while (this.recent.length - this.recentStart > maxCount || (this.recentBytes > maxBytes && this.recent.length - this.recentStart > 1)) {
      this.recentBytes -= this.recent[this.recentStart]!.message.length;
      this.recentStart++;
    }
    // The forgotten head is dropped now and then, not on every event.
    if (this.recentStart > 1024 && this.recentStart * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentStart);
      this.recentStart = 0;
    }
  }

  /** Sends the client what it missed after `after`: from memory if the server has it, else from the supervisor's journal. */
  private resume(client: Client, after: number): void {
    const oldest = this.recent[this.recentStart]?.id;
    if (oldest !== undefined && this.latestId !== undefined && after >= oldest - 1 && after <= this.latestId) {
      for (let i = this.recentStart; i < this.recent.length; i++) {
        const r = this.recent[i]!;
        if (r.id > after && this.sees(client, r.user)) this.send(client, r.message);
      }
      return;
    }
    client.waiting = [];
    void this.catchUp(client, after).then(
      (last) => this.flushWaiting(client, last),
      (err: unknown) => {
        this.options.logger.warn({ err, after }, 'could not read the supervisor journal for a resuming client; told to refetch');
        this.send(client, formatSseMessage('resync', '{}'));
        this.flushWaiting(client, after);
      },
    );
  }

  /** Sends the client the journal's events after `after` (its own); returns the last number sent. */
  private async catchUp(client: Client, after: number): Promise<number> {
    if (!this.options.backlog) throw new Error('no journal to resume from');
    let from = after;
    for (let page = 0; page < BACKLOG_PAGES; page++) {
      const backlog = await this.options.backlog(from, BACKLOG_PAGE);
      if (!this.clients.has(client)) return from;
      if (backlog.resync) {
        this.send(client, formatSseMessage('resync', '{}'));
        return backlog.latest;
      }
      for (const e of backlog.events) {
        from = e.id;
        const user = (JSON.parse(e.data) as { user?: unknown }).user;
        if (typeof user === 'string' && this.sees(client, user)) this.send(client, formatSseMessage(e.type, e.data, e.id));
      }
      if (backlog.events.length < BACKLOG_PAGE || from >= backlog.latest) return from;
    }
    // Too far behind to replay: the client refetches instead.
    this.send(client, formatSseMessage('resync', '{}'));
    return from;
  }

  /** Ends the catch-up: sends the live events that came meanwhile and were not in it. */
  private flushWaiting(client: Client, last: number): void {
    const waiting = client.waiting ?? [];
    client.waiting = undefined;
    if (!this.clients.has(client)) return;
    for (const r of waiting) if (r.id > last) this.send(client, r.message);
  }

  /**
   * Queues a message for the client alone; the queue is written at the end of this turn of the
   * event loop. A client that shared its audience's batch gets a copy of what the batch held so
   * far, to which its own message is added: it no longer shares the batch this turn.
   */
  private send(client: Client, message: string): void {
    if (client.closed) return;
    if (client.batch) {
      client.pending = client.batch.text;
      client.batch = undefined;
    } else if (client.pending === '') this.queueFlush(client);
    client.pending += message;
  }

  /** Marks the client as having something to write at the end of this turn (it had nothing). */
  private queueFlush(client: Client): void {
    this.unflushed.push(client);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushAll());
    }
  }

  private flushAll(): void {
    this.flushScheduled = false;
    const clients = this.unflushed.splice(0, this.unflushed.length);
    // The next events start new batches: the clients below hold this turn's until they are written.
    for (const batch of this.batches.values()) batch.complete = true;
    if (this.adminBatch) this.adminBatch.complete = true;
    this.batches = new Map();
    this.adminBatch = undefined;
    for (const client of clients) this.flush(client);
  }

  /**
   * Writes the client's queued messages (its batch's bytes, or its own text), or cuts it if what it
   * was sent before and has not read (its backlog) is past the bound. A batch is made bytes once, when complete; a client written
   * before that (its stream ends mid-turn) gets the batch's text so far.
   */
  private flush(client: Client): void {
    const batch = client.batch;
    const data = batch ? (batch.complete ? (batch.bytes ??= Buffer.from(batch.text)) : batch.text) : client.pending;
    client.pending = '';
    client.batch = undefined;
    if (client.closed || data.length === 0) return;
    // The backlog is what the client was sent before and has not taken: one turn's burst, however large, is written to a client that keeps up.
    if (client.res.writableLength > this.maxBufferedBytes) {
      this.options.logger.warn({ user: client.caller.username, buffered: client.res.writableLength }, 'event client too slow; disconnected');
      client.res.destroy();
      this.detach(client);
      return;
    }
    client.res.write(data);
  }

  private end(client: Client, reason: string): void {
    if (!client.closed) {
      this.flush(client);
      if (!client.closed) client.res.write(formatSseMessage('end', JSON.stringify({ reason })));
    }
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
    if (!this.remove(client)) return;
    if ((client.pending !== '' || client.batch) && !client.res.destroyed) this.flush(client);
    client.closed = true;
    client.pending = '';
    client.batch = undefined;
    if (!client.res.destroyed) client.res.end();
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
