/**
 * The supervisor's side of the agent websockets: authenticates each agent at upgrade, keeps
 * one connection per agent, pings it, sends ops and matches their replies, and hands every
 * hello and update to its handlers one at a time per agent, in order.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { JobvisorError, wsCloseCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { delay, sleep, type RetryPolicy } from '../shared/retry.js';
import { storageError } from '../shared/storageErrors.js';
import {
  AGENT_ID_HEADER,
  AgentMessage,
  MAX_WS_PAYLOAD,
  PROTOCOL_VERSION,
  WORKER_HEADER,
  WorkerClaim,
  parseMessage,
  type Op,
  type SupervisorMessage,
} from '../shared/protocol.js';

type Hello = Extract<AgentMessage, { type: 'hello' }>;
type UpdateMessage = Extract<AgentMessage, { type: 'update' }>;
type ResourcesMessage = Extract<AgentMessage, { type: 'resources' }>;
type CommandsMessage = Extract<AgentMessage, { type: 'schedulerCommands' }>;

export interface AgentHubHandlers {
  /** Checks an agent's id and token at upgrade. */
  authenticate(agentId: string, token: string): boolean;
  onConnect(agentId: string): void;
  onHello(agentId: string, hello: Hello): Promise<void>;
  /**
   * Applies and persists one update (or finds it applied already); the hub acknowledges it
   * afterwards. Throws AGENT_PROTOCOL for an update it refuses: the connection is closed with it.
   */
  onUpdate(agentId: string, update: UpdateMessage): Promise<void>;
  onDisconnect(agentId: string, why: string): void;
  onHeartbeat(agentId: string): void;
  /** Checks an enrolled worker (its enrollment token and what it claims) at upgrade: the agent id of its process, else why not. */
  authenticateWorker?(workerId: string, token: string, claim: WorkerClaim): { agentId: string } | { code: string; message: string };
  /** An enrolled worker's free resources (in its hello and every interval). */
  onResources?(agentId: string, free: ResourcesMessage['free']): void;
  /** An agent's cumulative scheduler command counts (metrics). */
  onSchedulerCommands?(agentId: string, counts: Pick<CommandsMessage, 'issued' | 'failed'>): void;
}

/** What the op loop reports of each op it works through (supervisor/metrics.ts). */
export interface OpMetrics {
  op(kind: string, outcome: 'ok' | 'failed' | 'timeout' | 'abandoned', seconds: number): void;
  opRetried(kind: string): void;
}

interface PendingOp {
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

interface Connection {
  agentId: string;
  ws: WebSocket;
  alive: boolean;
  pending: Map<string, PendingOp>;
  /** Messages of one agent are handled one after another. */
  chain: Promise<void>;
  /** Set once the connection is being closed (for a message it sent, or replaced by a newer one): nothing it sends after is applied. */
  closing: boolean;
  /** Aborted once the connection has ended. */
  gone: AbortController;
  /** The highest update applied whose ack is not sent yet (see ack). */
  ackSeq: number | null;
  /** The socket under `ws` (what ws writes its frames to): corked while this turn's messages gather (see write). */
  socket: Duplex;
  corked: boolean;
  /** An endTurn is scheduled for this turn. */
  turnEnding: boolean;
}

/** How an update that could not be stored is tried again. */
const STORAGE_RETRY: RetryPolicy = { baseMs: 250, maxMs: 5000, jitter: 0.2 };

export class AgentHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
  private readonly connections = new Map<string, Connection>();
  private readonly pingTimer: NodeJS.Timeout;

  constructor(
    private readonly handlers: AgentHubHandlers,
    private readonly log: Logger,
    heartbeatMs: number,
    /** Where the op loop (opLoop.ts) counts its ops' durations and retries, if anywhere. */
    readonly opMetrics?: OpMetrics,
  ) {
    this.pingTimer = setInterval(() => this.ping(), heartbeatMs);
    this.pingTimer.unref();
  }

  /** For `server.on('upgrade')`: answers 401 before accepting an agent it does not know. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const agentId = req.headers[AGENT_ID_HEADER];
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (req.headers[WORKER_HEADER] !== undefined) return this.upgradeWorker(req, socket, head, token);
    if (typeof agentId !== 'string' || !token || !this.handlers.authenticate(agentId, token)) {
      this.log.warn({ agentId, remote: req.socket.remoteAddress }, 'agent refused at upgrade');
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":{"code":"AGENT_UNKNOWN","message":"unknown agent or wrong token"}}');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(agentId, ws, socket));
  }

  /** An enrolled worker: its claim (WORKER_HEADER) and token are checked before it is accepted; a refusal says why. */
  private upgradeWorker(req: IncomingMessage, socket: Duplex, head: Buffer, token: string): void {
    const agentId = req.headers[AGENT_ID_HEADER];
    const raw = req.headers[WORKER_HEADER];
    let claim: WorkerClaim | undefined;
    try {
      claim = WorkerClaim.parse(JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')));
    } catch {
      claim = undefined;
    }
    const answer = typeof agentId !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(agentId) || !claim || !token || !this.handlers.authenticateWorker
      ? { code: 'AGENT_UNKNOWN', message: 'not a valid worker id, claim or token' }
      : this.handlers.authenticateWorker(agentId, token, claim);
    if (!('agentId' in answer)) {
      this.log.warn({ workerId: agentId, remote: req.socket.remoteAddress, code: answer.code, why: answer.message }, 'worker refused at upgrade');
      const body = JSON.stringify({ error: answer });
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(answer.agentId, ws, socket));
  }

  isConnected(agentId: string): boolean {
    return this.connections.has(agentId);
  }

  /** Sends an op and resolves with the agent's result; rejects with AGENT_LOST if the connection ends first. */
  send(agentId: string, op: Op, signal?: AbortSignal): Promise<unknown> {
    const conn = this.connections.get(agentId);
    if (!conn) return Promise.reject(new JobvisorError('AGENT_LOST', 'the agent is not connected'));
    const opId = randomUUID();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        conn.pending.delete(opId);
        reject(signal?.reason ?? new JobvisorError('JOB_NOT_ACTIVE', 'op abandoned'));
      };
      conn.pending.set(opId, {
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.write(conn, { v: PROTOCOL_VERSION, type: 'op', opId, op });
    });
  }

  /** Closes one agent's connection (the agent will reconnect if it still runs). */
  disconnect(agentId: string): void {
    const conn = this.connections.get(agentId);
    if (!conn) return;
    this.uncork(conn);
    conn.ws.terminate();
  }

  close(): void {
    clearInterval(this.pingTimer);
    for (const c of this.connections.values()) {
      this.uncork(c);
      c.ws.close(1001, 'supervisor stopping');
    }
    this.wss.close();
  }

  private accept(agentId: string, ws: WebSocket, socket: Duplex): void {
    const previous = this.connections.get(agentId);
    if (previous) {
      this.log.info({ agentId }, 'agent reconnected; dropping its previous connection');
      previous.closing = true;
      this.drop(previous, 'replaced by a new connection');
      this.uncork(previous);
      previous.ws.terminate();
    }
    const conn: Connection = { agentId, ws, alive: true, pending: new Map(), chain: Promise.resolve(), closing: false, gone: new AbortController(), ackSeq: null, socket, corked: false, turnEnding: false };
    this.connections.set(agentId, conn);
    ws.on('pong', () => {
      conn.alive = true;
      this.handlers.onHeartbeat(agentId);
    });
    ws.on('message', (data, isBinary) => this.receive(conn, data, isBinary));
    ws.on('close', (code) => this.drop(conn, `connection closed (${code})`));
    ws.on('error', (err) => this.log.warn({ agentId, err: err.message }, 'agent websocket error'));
    this.log.info({ agentId }, 'agent connected');
    this.handlers.onConnect(agentId);
  }

  private drop(conn: Connection, why: string): void {
    conn.gone.abort();
    if (this.connections.get(conn.agentId) !== conn) return;
    this.connections.delete(conn.agentId);
    for (const p of conn.pending.values()) p.reject(new JobvisorError('AGENT_LOST', `the agent's connection ended: ${why}`));
    conn.pending.clear();
    this.log.info({ agentId: conn.agentId, why }, 'agent disconnected');
    this.handlers.onDisconnect(conn.agentId, why);
  }

  /** Closes a connection for a message it sent; later messages of the connection are not applied (the agent sends them again). */
  private refuse(conn: Connection, code: 'AGENT_PROTOCOL' | 'INTERNAL', reason: string): void {
    conn.closing = true;
    conn.ws.close(wsCloseCode(code), reason.slice(0, 120));
  }

  private receive(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    const text = isBinary ? '' : data.toString();
    if (!isBinary && this.olderVersion(conn, text)) return;
    const parsed = isBinary ? { ok: false as const, message: 'binary frames are not accepted' } : parseMessage(AgentMessage, text);
    if (!parsed.ok) {
      this.log.warn({ agentId: conn.agentId, problem: parsed.message }, 'agent message refused');
      this.refuse(conn, 'AGENT_PROTOCOL', `AGENT_PROTOCOL: ${parsed.message}`);
      return;
    }
    const msg = parsed.value;
    if (msg.type === 'reply') {
      const p = conn.pending.get(msg.opId);
      conn.pending.delete(msg.opId);
      if (!p) return;
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new JobvisorError(msg.error?.code ?? 'INTERNAL', msg.error?.message ?? 'the agent gave no reason'));
      return;
    }
    conn.chain = conn.chain
      .then(() => (conn.closing ? undefined : this.handle(conn, msg)))
      .catch((err: unknown) => {
        if (err instanceof JobvisorError && err.code === 'AGENT_PROTOCOL') {
          this.log.warn({ agentId: conn.agentId, problem: err.message }, 'agent message refused');
          this.refuse(conn, 'AGENT_PROTOCOL', `AGENT_PROTOCOL: ${err.message}`);
          return;
        }
        this.log.error({ agentId: conn.agentId, err }, 'agent message could not be applied');
        this.refuse(conn, 'INTERNAL', 'update could not be applied');
      });
  }

  /**
   * An agent of an earlier jobvisor (left running on a cluster): it is told to end, in its own
   * protocol version, and nothing it says is applied. Its scheduler jobs go on; its user's next
   * login starts a current agent that follows them again.
   */
  private olderVersion(conn: Connection, text: string): boolean {
    const v = /^\{"v":(\d+),/.exec(text)?.[1];
    if (v === undefined || Number(v) >= PROTOCOL_VERSION) return false;
    if (text.includes('"type":"hello"')) {
      this.log.warn({ agentId: conn.agentId, version: Number(v) }, 'agent of an older protocol version: telling it to stop');
      const reason = 'jobvisor was upgraded: log in again to start a current agent (your scheduler jobs are kept)';
      conn.ws.send(JSON.stringify({ v: Number(v), type: 'op', opId: randomUUID(), op: { kind: 'shutdown', reason } }));
    }
    return true;
  }

  private async handle(conn: Connection, msg: Hello | UpdateMessage | ResourcesMessage | CommandsMessage): Promise<void> {
    if (msg.type === 'resources') {
      this.handlers.onResources?.(conn.agentId, msg.free);
      return;
    }
    if (msg.type === 'schedulerCommands') {
      this.handlers.onSchedulerCommands?.(conn.agentId, msg);
      return;
    }
    if (msg.type === 'hello') {
      if (msg.free) this.handlers.onResources?.(conn.agentId, msg.free);
      await this.handlers.onHello(conn.agentId, msg);
      return;
    }
    if (await this.applyUpdate(conn, msg)) this.ack(conn, msg.seq);
  }

  /**
   * Acknowledges updates up to `seq`, once per turn of the event loop: an ack covers every
   * update up to its number (the agent's outbox drops them all), so the updates applied in one
   * turn (a run's start, phase and end often come together) get one message, not one each. The
   * ack goes at the end of the turn (endTurn); a connection that ended meanwhile gets none (its
   * agent sends those updates again, and they are acknowledged then).
   */
  private ack(conn: Connection, seq: number): void {
    conn.ackSeq = seq;
    this.scheduleTurnEnd(conn);
  }

  /**
   * Applies an update; one that cannot be stored (disk full, database locked) is not acknowledged
   * and is tried again, with a growing delay, for as long as its connection lasts (the updates
   * after it wait their turn; a new connection sends them all again). False if the connection ended first.
   */
  private async applyUpdate(conn: Connection, msg: UpdateMessage): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.handlers.onUpdate(conn.agentId, msg);
        if (attempt > 0) this.log.info({ agentId: conn.agentId, seq: msg.seq, attempts: attempt + 1 }, 'an update that could not be stored is stored now');
        return true;
      } catch (err) {
        const storage = storageError(err, 'the supervisor');
        if (!storage) throw err;
        if (attempt === 0) this.log.warn({ agentId: conn.agentId, seq: msg.seq, code: storage.code, err: storage.message }, 'an update could not be stored; it is not acknowledged and is tried again');
      }
      await sleep(delay(attempt, STORAGE_RETRY), conn.gone.signal);
      if (conn.closing || conn.gone.signal.aborted) return false;
    }
  }

  /**
   * Sends a message; the messages of one turn of the event loop to one agent leave in one write
   * to its socket. A run's end often makes three in a turn (the ack of its updates, the io op
   * that measures its folder, the run op of the next queued run), and each `ws.send` is its own
   * system call and wakes the agent for each (issue 13). So the first message of a turn corks
   * the socket (the frames gather in the stream's buffer, in order) and the end of the turn
   * uncorks it (endTurn). A connection that is terminated first is uncorked before, so what it
   * was sent still goes out, as before.
   */
  private write(conn: Connection, msg: SupervisorMessage): void {
    if (!conn.corked) {
      conn.corked = true;
      conn.socket.cork();
      this.scheduleTurnEnd(conn);
    }
    conn.ws.send(JSON.stringify(msg));
  }

  /** Once per turn and connection: endTurn at the end of this turn (`setImmediate`, no timer). */
  private scheduleTurnEnd(conn: Connection): void {
    if (conn.turnEnding) return;
    conn.turnEnding = true;
    setImmediate(() => this.endTurn(conn));
  }

  /** The end of a turn: this turn's ack joins its other messages, then they leave together. */
  private endTurn(conn: Connection): void {
    conn.turnEnding = false;
    const last = conn.ackSeq;
    conn.ackSeq = null;
    if (last !== null && !conn.closing && !conn.gone.signal.aborted) conn.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'ack', seq: last } satisfies SupervisorMessage));
    this.uncork(conn);
  }

  private uncork(conn: Connection): void {
    if (!conn.corked) return;
    conn.corked = false;
    conn.socket.uncork();
  }

  private ping(): void {
    for (const conn of this.connections.values()) {
      if (!conn.alive) {
        this.log.warn({ agentId: conn.agentId }, 'agent missed a heartbeat; terminating its connection');
        this.drop(conn, 'it did not answer the heartbeat');
        this.uncork(conn);
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }
}
