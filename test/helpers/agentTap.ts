/**
 * A TCP proxy a test puts between agents and the supervisor that reads, as anyone on the
 * network between them could (a test's agent websocket is plain ws://), each agent's upgrade
 * request: its id and token. With them a test can connect as that agent. `cut()` destroys
 * every link and refuses new ones until `restore()`.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { AGENT_ID_HEADER } from '../../src/shared/protocol.js';

export class AgentTap {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;
  /** Agent id → the token it presented. */
  readonly tokens = new Map<string, string>();

  constructor(private readonly targetPort: () => number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.refusing = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    let head = '';
    const read = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < 16_384) return;
      client.off('data', read);
      const header = (name: string) => new RegExp(`^${name}: *(.*)$`, 'im').exec(head.slice(0, end))?.[1]?.trim();
      const id = header(AGENT_ID_HEADER);
      const token = header('authorization')?.replace(/^Bearer /, '');
      if (id && token) this.tokens.set(id, token);
    };
    client.on('data', read);
    const upstream = net.connect(this.targetPort(), '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** A websocket opened as an agent (with its id and token): every message it gets, and how it closed. */
export interface AgentSocket {
  ws: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(msg: unknown): void;
}

export async function connectAsAgent(supervisorUrl: string, agentId: string, token: string): Promise<AgentSocket> {
  const ws = new WebSocket(`${supervisorUrl.replace(/^http/, 'ws')}/agent`, { headers: { [AGENT_ID_HEADER]: agentId, authorization: `Bearer ${token}` } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed, send: (msg) => ws.send(JSON.stringify(msg)) };
}
