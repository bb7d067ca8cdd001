import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JobvisorError } from '../src/shared/errors.js';
import { createLogger } from '../src/shared/logger.js';
import { AGENT_ID_HEADER, PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { AgentHub } from '../src/supervisor/agentHub.js';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

function connect(url: string, agentId: string, token: string): WebSocket {
  return new WebSocket(`${url}/agent`, { headers: { [AGENT_ID_HEADER]: agentId, authorization: `Bearer ${token}` } });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** A client's text frame (RFC 6455: FIN, text, masked with the key 0, which leaves the payload as it is); payloads under 64 KiB. */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

describe('the agent websocket of a real supervisor', () => {
  let jv: Jobvisor;
  beforeAll(async () => {
    jv = await startJobvisor();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('answers 401 at upgrade to an unknown agent or a wrong token, and keeps serving', async () => {
    const wsUrl = jv.supervisorUrl.replace('http', 'ws');
    const ws = connect(wsUrl, 'local-nobody-sequential-00000000', 'guess');
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    ws.terminate();
    const admin = await jv.login();
    expect((await admin.get('/api/templates')).status).toBe(200);
  });
});

describe('the agent hub', () => {
  const updates: number[] = [];
  let server: http.Server;
  let url: string;
  let hub: AgentHub;

  beforeAll(async () => {
    hub = new AgentHub(
      {
        authenticate: (id, token) => id === 'agent-1' && token === 'secret-token',
        onConnect: () => undefined,
        onHello: async () => undefined,
        onUpdate: async (_id, u) => {
          updates.push(u.seq);
        },
        onDisconnect: () => undefined,
        onHeartbeat: () => undefined,
      },
      createLogger('test', 'silent'),
      60_000,
    );
    server = http.createServer();
    server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    hub.close();
    await new Promise((r) => server.close(r));
  });

  it.each([
    ['not JSON', 'hello?'],
    ['an unknown type', JSON.stringify({ v: PROTOCOL_VERSION, type: 'shout' })],
    ['a wrong protocol version', JSON.stringify({ v: 99, type: 'hello', runs: [], pendingUpdates: 0 })],
    ['an update failing its schema', JSON.stringify({ v: PROTOCOL_VERSION, type: 'update', seq: 1, jobId: 'j', serial: 1, update: { kind: 'progress', value: 7 } })],
  ])('closes the connection with 1008 on %s, applying nothing', async (_what, frame) => {
    const ws = connect(url, 'agent-1', 'secret-token');
    await opened(ws);
    const end = closed(ws);
    ws.send(frame);
    const { code, reason } = await end;
    expect(code).toBe(1008);
    expect(reason).toMatch(/^AGENT_PROTOCOL/);
    expect(updates).toEqual([]);
  });

  it('applies a valid update and acknowledges it after a refused connection', async () => {
    const ws = connect(url, 'agent-1', 'secret-token');
    await opened(ws);
    const ack = new Promise<unknown>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
    ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'update', seq: 1, jobId: 'j', serial: 1, update: { kind: 'progress', value: 0.5 } }));
    expect(await ack).toEqual({ v: PROTOCOL_VERSION, type: 'ack', seq: 1 });
    expect(updates).toEqual([1]);
    ws.close();
  });

  it('acknowledges the updates applied in one turn with one ack of the last (acks are cumulative)', async () => {
    const ws = connect(url, 'agent-1', 'secret-token');
    await opened(ws);
    const messages: unknown[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    const update = (seq: number) => JSON.stringify({ v: PROTOCOL_VERSION, type: 'update', seq, jobId: 'j', serial: 1, update: { kind: 'progress', value: 0.5 } });
    // The three frames in one write to the socket, so the hub reads them in one turn (ws's own framing, masked as a client's).
    (ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.concat([2, 3, 4].map((seq) => clientTextFrame(update(seq)))));
    await waitFor(() => messages.length > 0, { timeoutMs: 5000, what: 'an ack' });
    await new Promise((r) => setTimeout(r, 100)); // (any further ack would come now)
    expect(updates.slice(-3)).toEqual([2, 3, 4]);
    expect(messages).toEqual([{ v: PROTOCOL_VERSION, type: 'ack', seq: 4 }]);
    ws.close();
  });

  it('sends the messages of one turn to an agent in one write to its socket, in order (issue 13)', async () => {
    // Counts the writes the server side of the connection hands to the system (Writable's _write / _writev).
    let writes = 0;
    const spy = (_req: http.IncomingMessage, socket: Duplex) => {
      const s = socket as Duplex & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
      for (const m of ['_write', '_writev'] as const) {
        const original = s[m].bind(s);
        s[m] = (...a: unknown[]) => (writes++, original(...a));
      }
    };
    server.prependListener('upgrade', spy);
    const ws = connect(url, 'agent-1', 'secret-token');
    await opened(ws);
    server.off('upgrade', spy);
    await waitFor(() => hub.isConnected('agent-1'), { timeoutMs: 5000, what: 'the hub to hold the connection' });
    const messages: { op: { kind: string; reason: string } }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as { op: { kind: string; reason: string } }));
    writes = 0;
    // Two ops in one turn (never answered: they end with the connection).
    for (const reason of ['first', 'second']) hub.send('agent-1', { kind: 'shutdown', reason }).catch(() => undefined);
    await waitFor(() => messages.length === 2, { timeoutMs: 5000, what: 'both ops' });
    expect(messages.map((m) => m.op.reason)).toEqual(['first', 'second']);
    expect(writes).toBe(1);
    ws.close();
  });
});

describe('the agent hub, refusing an update', () => {
  const applied: number[] = [];
  let server: http.Server;
  let url: string;
  let hub: AgentHub;

  beforeAll(async () => {
    hub = new AgentHub(
      {
        authenticate: (id, token) => id === 'agent-2' && token === 'secret-token',
        onConnect: () => undefined,
        onHello: async () => undefined,
        onUpdate: async (_id, u) => {
          if (u.seq === 99) throw new JobvisorError('AGENT_PROTOCOL', 'update 99 skips ahead of 0: the next one is 1');
          applied.push(u.seq);
        },
        onDisconnect: () => undefined,
        onHeartbeat: () => undefined,
      },
      createLogger('test', 'silent'),
      60_000,
    );
    server = http.createServer();
    server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    hub.close();
    await new Promise((r) => server.close(r));
  });

  it('closes with AGENT_PROTOCOL (1008) and applies and acknowledges nothing the connection sent after it', async () => {
    const ws = connect(url, 'agent-2', 'secret-token');
    await opened(ws);
    const messages: unknown[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    const end = closed(ws);
    const update = (seq: number) => JSON.stringify({ v: PROTOCOL_VERSION, type: 'update', seq, jobId: 'j', serial: 1, update: { kind: 'progress', value: 0.5 } });
    ws.send(update(99));
    ws.send(update(1));
    const { code, reason } = await end;
    expect(code).toBe(1008);
    expect(reason).toBe('AGENT_PROTOCOL: update 99 skips ahead of 0: the next one is 1');
    expect(applied).toEqual([]);
    expect(messages).toEqual([]);
  });
});
