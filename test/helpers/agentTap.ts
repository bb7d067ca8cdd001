/**
 * A TCP proxy a test puts between agents and the supervisor that reads, as anyone on the
 * network between them could (a test's agent websocket is plain ws://), each agent's upgrade
 * request: its id and token. With them a test can connect as that agent. `cut()` destroys
 * every link and refuses new ones until `restore()`.
 */
import type net from 'node:net';
import WebSocket from 'ws';
import { TcpProxy } from './tcpProxy.js';
import { AGENT_ID_HEADER } from '../../src/shared/protocol.js';

export class AgentTap extends TcpProxy {
  /** Agent id → the token it presented. */
  readonly tokens = new Map<string, string>();

  /** Reads the upgrade request's headers as they pass. */
  protected override accepted(client: net.Socket): void {
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
