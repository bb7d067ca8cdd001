/**
 * The floor of the agents part: a bare `ws` server that accepts the same agent websockets
 * (path /agent, a bearer token, no checks beyond that), pings each one every heartbeat and
 * drops one that missed its pong (as the supervisor's agent hub does), and parses every
 * message as JSON. Nothing else: no database, no logs, no schemas.
 *
 *   node dist/bench/parts/agents/bareServer.js [--heartbeat-ms 10000]
 *
 * Prints `{"msg":"bare server listening","url":"ws://127.0.0.1:PORT"}`; ends on SIGTERM.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_PATH, MAX_WS_PAYLOAD } from '../../../src/shared/protocol.js';

const { values } = parseArgs({ options: { 'heartbeat-ms': { type: 'string', default: '10000' } } });
const heartbeatMs = Number(values['heartbeat-ms']);
const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
const alive = new Map<WebSocket, boolean>();
let messages = 0;

const server = http.createServer((_req, res) => res.writeHead(404).end());
server.on('upgrade', (req, socket, head) => {
  if (!req.url?.startsWith(AGENT_PATH) || !req.headers.authorization?.startsWith('Bearer ')) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data) => {
      JSON.parse(data.toString());
      messages++;
    });
    ws.on('close', () => alive.delete(ws));
  });
});
const ping = setInterval(() => {
  for (const [ws, ok] of alive) {
    if (!ok) {
      alive.delete(ws);
      ws.terminate();
      continue;
    }
    alive.set(ws, false);
    ws.ping();
  }
}, heartbeatMs);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ msg: 'bare server listening', url: `ws://127.0.0.1:${addr.port}` }) + '\n');
});
process.once('SIGTERM', () => {
  clearInterval(ping);
  process.stdout.write(JSON.stringify({ msg: 'bare server stopping', messages }) + '\n');
  for (const ws of alive.keys()) ws.terminate();
  wss.close();
  server.close(() => process.exit(0));
});
