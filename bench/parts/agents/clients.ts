/**
 * The second process of the agents part: N enrolled workers that connect at once and then
 * idle, each through the real agent's websocket code (src/agent/connection.ts: the headers of
 * an enrolled worker, hello on open, automatic pongs to the supervisor's pings, reconnect with
 * backoff, a silence timer per connection) and, like a real worker (src/agent/agent.ts), a
 * `resources` message every status interval. Ops are answered (a worker with nothing to run).
 *
 *   node dist/bench/parts/agents/clients.js --url ws://127.0.0.1:PORT --token-file F --count 1000 [--status-ms 10000]
 *
 * It prints JSON lines on stdout: `{"event":"status", open, opened, closed, refused, ms}` every
 * second (ms since the storm began), `{"event":"all-open", ms}` once all are open at once; on
 * SIGTERM it closes every connection and exits.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Connection } from '../../../src/agent/connection.js';
import { createLogger } from '../../../src/shared/logger.js';
import { PROTOCOL_VERSION, WORKER_HEADER, WorkerClaim, type AgentMessage, type WorkerFree } from '../../../src/shared/protocol.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    'token-file': { type: 'string' },
    count: { type: 'string', default: '1000' },
    'status-ms': { type: 'string', default: '10000' },
  },
});
const url = values.url ?? '';
const token = readFileSync(values['token-file'] ?? '', 'utf8').trim();
const count = Number(values.count);
const statusMs = Number(values['status-ms']);
const log = createLogger('bench-agents', 'silent');
const free = (): WorkerFree => ({ cores: 2, memoryMb: 4096 });
const run = randomBytes(4).toString('hex');

let open = 0;
let opened = 0;
let closed = 0;
let refused = 0;
let allOpenAt: number | null = null;
const started = performance.now();
const conns: Connection[] = [];
const timers: NodeJS.Timeout[] = [];

for (let i = 0; i < count; i++) {
  const claim: WorkerClaim = { name: `bench-${i}`, labels: { os: 'linux' }, slots: 1, session: randomBytes(9).toString('base64url'), host: 'bench-host', free: free() };
  const headers = { [WORKER_HEADER]: Buffer.from(JSON.stringify(WorkerClaim.parse(claim))).toString('base64url') };
  const conn: Connection = new Connection({
    url,
    agentId: `bench-${run}-${String(i).padStart(5, '0')}`,
    token,
    log,
    silenceMs: 60_000,
    headers,
    onOpen: (): AgentMessage[] => {
      open++;
      opened++;
      if (open === count && allOpenAt === null) {
        allOpenAt = performance.now() - started;
        say({ event: 'all-open', ms: Math.round(allOpenAt) });
      }
      return [{ v: PROTOCOL_VERSION, type: 'hello', runs: [], pendingUpdates: 0, free: free() }];
    },
    onMessage: (m) => {
      if (m.type !== 'op') return;
      const ok = m.op.kind === 'shutdown' || m.op.kind === 'runStatus';
      conn.send(ok
        ? { v: PROTOCOL_VERSION, type: 'reply', opId: m.opId, ok: true, result: m.op.kind === 'runStatus' ? { runs: [] } : { ok: true } }
        : { v: PROTOCOL_VERSION, type: 'reply', opId: m.opId, ok: false, error: { code: 'INTERNAL', message: 'a bench worker runs nothing' } });
    },
    onRefused: () => {
      refused++;
      conn.stop();
    },
    onClose: () => {
      open--;
      closed++;
    },
  });
  conns.push(conn);
  // As a real worker: its free resources every status interval, from its start on.
  timers.push(setInterval(() => conn.send({ v: PROTOCOL_VERSION, type: 'resources', free: free() }), statusMs));
  void conn.run();
}

function say(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

const status = setInterval(() => say({ event: 'status', open, opened, closed, refused, ms: Math.round(performance.now() - started) }), 1000);
process.once('SIGTERM', () => {
  clearInterval(status);
  for (const t of timers) clearInterval(t);
  for (const c of conns) c.stop();
  setTimeout(() => process.exit(0), 500).unref();
});
