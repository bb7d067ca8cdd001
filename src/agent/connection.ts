/**
 * The agent's websocket to the supervisor: connects with its id and token, says hello, sends
 * again whatever is unacknowledged, reconnects with backoff when the connection drops, and
 * drops a connection that stops hearing the supervisor's pings.
 */
import WebSocket from 'ws';
import type { Logger } from '../shared/logger.js';
import { AGENT_ID_HEADER, AGENT_PATH, MAX_WS_PAYLOAD, parseMessage, SupervisorMessage, type AgentMessage } from '../shared/protocol.js';
import { delay, RECONNECT_POLICY, sleep } from '../shared/retry.js';

export interface ConnectionOptions {
  url: string;
  agentId: string;
  token: string;
  log: Logger;
  /** A connection that hears no ping for this long is dropped and made again. */
  silenceMs: number;
  /** More headers of the upgrade request (an enrolled worker's claim). */
  headers?: Record<string, string>;
  /** Messages to send first on each new connection (hello, then unacknowledged updates). */
  onOpen(): AgentMessage[];
  onMessage(msg: SupervisorMessage): void;
  /** The supervisor refused this agent (unknown id or wrong token): stop trying. */
  onRefused(why: string): void;
  /** A connection that had opened ended (before the next one is made). */
  onClose?(code: number, reason: string): void;
}

export class Connection {
  private ws: WebSocket | null = null;
  private stopping = false;
  private readonly stopController = new AbortController();
  /** Time of the last successful connection, or null while never connected since the last drop. */
  connectedSince: number | null = null;
  lostSince: number | null = Date.now();

  constructor(private readonly opts: ConnectionOptions) {}

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends `msg` if connected; `text` is its JSON when the caller already made it (to measure it). */
  send(msg: AgentMessage, text?: string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    this.corkTurn(ws);
    ws.send(text ?? JSON.stringify(msg));
  }

  /**
   * Everything sent in one turn of the event loop goes to the socket in one write: a run's start
   * is three messages (its `started` and `phase` updates, the op's reply) and its end one or two,
   * and each was a writev syscall of its own. The socket is corked at the first message and
   * uncorked by setImmediate, which runs in the same turn, after the promise continuations that
   * send the rest: no timer, nothing waits for a later turn. ws corks and uncorks around each
   * frame itself; corks nest, so the frames stay until ours is undone. (`_socket` is ws's own
   * field for the net.Socket under a client; without it, messages go one write each, as before.)
   */
  private corked: NodeJS.Immediate | null = null;

  private corkTurn(ws: WebSocket): void {
    if (this.corked) return;
    const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!socket) return;
    socket.cork();
    this.corked = setImmediate(() => {
      this.corked = null;
      socket.uncork();
    });
  }

  /** Keeps a connection up until `stop()`. */
  async run(): Promise<void> {
    for (let attempt = 0; !this.stopping; ) {
      const opened = await this.connectOnce();
      if (this.stopping) break;
      attempt = opened ? 0 : attempt + 1;
      await sleep(delay(attempt, RECONNECT_POLICY), this.stopController.signal);
    }
  }

  stop(): void {
    this.stopping = true;
    this.stopController.abort();
    this.ws?.close(1000, 'agent stopping');
  }

  /** Resolves when the connection ends; true if it was open at some point. */
  private connectOnce(): Promise<boolean> {
    const { opts } = this;
    return new Promise((resolve) => {
      let opened = false;
      let silence: NodeJS.Timeout | undefined;
      const ws = new WebSocket(opts.url.replace(/\/$/, '') + AGENT_PATH, {
        headers: { ...opts.headers, [AGENT_ID_HEADER]: opts.agentId, authorization: `Bearer ${opts.token}` },
        maxPayload: MAX_WS_PAYLOAD,
        handshakeTimeout: 10_000,
      });
      this.ws = ws;
      const heard = () => {
        clearTimeout(silence);
        silence = setTimeout(() => {
          opts.log.warn('no ping from the supervisor; reconnecting');
          ws.terminate();
        }, opts.silenceMs);
      };
      ws.on('open', () => {
        opened = true;
        this.connectedSince = Date.now();
        this.lostSince = null;
        opts.log.info({ url: opts.url }, 'connected to supervisor');
        heard();
        this.corkTurn(ws);
        for (const m of opts.onOpen()) ws.send(JSON.stringify(m));
      });
      ws.on('ping', heard);
      ws.on('message', (data) => {
        heard();
        const parsed = parseMessage(SupervisorMessage, data.toString());
        if (!parsed.ok) opts.log.warn({ problem: parsed.message }, 'supervisor message refused');
        else opts.onMessage(parsed.value);
      });
      ws.on('unexpected-response', (_req, res) => {
        if (res.statusCode !== 401) return void ws.terminate();
        // The refusal's reason, when the supervisor gives one ({"error": {code, message}}).
        let text = '';
        res.on('data', (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(0, 4096)));
        res.on('end', () => {
          let why = 'the supervisor does not know this agent or its token';
          try {
            const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
            if (e?.message) why = `${e.code ?? 'refused'}: ${e.message}`;
          } catch {
            /* no reason given */
          }
          opts.onRefused(why);
          ws.terminate();
        });
        res.on('error', () => ws.terminate());
      });
      ws.on('error', (err) => opts.log.debug({ err: err.message }, 'websocket error'));
      ws.on('close', (code, reason) => {
        clearTimeout(silence);
        if (opened) opts.log.warn({ code, reason: reason.toString() }, 'connection to supervisor lost');
        this.connectedSince = null;
        this.lostSince ??= Date.now();
        if (opened) opts.onClose?.(code, reason.toString());
        resolve(opened);
      });
    });
  }
}
