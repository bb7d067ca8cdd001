/**
 * The floor of the `sse` bench part: a bare `node:http` Server-Sent Events fan-out, with no
 * jobvisor in between. It listens on 127.0.0.1 (prints `listening <port>`); a client opens
 * `GET /events` with `Authorization: Bearer <user>` and gets that user's messages. On a stdin
 * line {"runs": [{"user", "jobId", "phase"}], "argv": [...]} it starts one printer per run (the same
 * command the jobvisor runs execute; prints `started` once all are), reads its stdout and sends each line at once to every
 * client of the run's user, as one `event: log` message shaped like jobvisor's; it prints `done`
 * once every printer has exited, and exits when stdin ends.
 *
 * Like any real fan-out (jobvisor's server does the same), a client's messages of one turn of the
 * event loop are gathered and written to its socket in one write at the end of that turn
 * (`setImmediate`), not one write per message: the lines read from the printers' pipes in one
 * turn reach each client together. Every line still goes to every client of its user, at once.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

const clients = new Map<string, Set<http.ServerResponse>>();

const server = http.createServer((req, res) => {
  const user = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (req.url !== '/events' || !user) {
    res.writeHead(404).end();
    return;
  }
  req.socket.setNoDelay(true);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write('event: hello\ndata: {}\n\n');
  let set = clients.get(user);
  if (!set) clients.set(user, (set = new Set()));
  set.add(res);
  res.on('close', () => set.delete(res));
});

/** What each user's clients get at the end of this turn (the same text for all of them). */
const pending = new Map<string, string>();
let flushScheduled = false;

function relay(user: string, jobId: string, line: string): void {
  const message = `event: log\ndata: ${JSON.stringify({ type: 'log', user, jobId, serial: 1, lines: [line] })}\n\n`;
  pending.set(user, (pending.get(user) ?? '') + message);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  for (const [user, text] of pending) for (const res of clients.get(user) ?? []) res.write(text);
  pending.clear();
}

/** Each run's printer gets `argv` and then its `phase` (where in each period it prints, see sse.ts). */
function start(runs: { user: string; jobId: string; phase: number }[], argv: string[]): void {
  let running = runs.length;
  for (const run of runs) {
    const child = spawn(argv[0]!, [...argv.slice(1), String(run.phase)], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout }).on('line', (line) => relay(run.user, run.jobId, line));
    child.on('close', () => {
      if (--running === 0) process.stdout.write('done\n');
    });
  }
  // The printers wait for the bench's `go` (see sse.ts): told once all are spawned.
  process.stdout.write('started\n');
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const go = JSON.parse(line) as { runs: { user: string; jobId: string; phase: number }[]; argv: string[] };
  start(go.runs, go.argv);
});
input.on('close', () => {
  for (const set of clients.values()) for (const res of set) res.destroy();
  server.close();
  process.exit(0);
});
