/**
 * The floor of the `sse` bench part: a bare `node:http` Server-Sent Events fan-out, with no
 * jobvisor in between. It listens on 127.0.0.1 (prints `listening <port>`); a client opens
 * `GET /events` with `Authorization: Bearer <user>` and gets that user's messages. On a stdin
 * line {"runs": [{"user", "jobId"}], "argv": [...]} it starts one printer per run (the same
 * command the jobvisor runs execute), reads its stdout and sends each line at once to every
 * client of the run's user, as one `event: log` message shaped like jobvisor's; it prints `done`
 * once every printer has exited, and exits when stdin ends.
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

function relay(user: string, jobId: string, line: string): void {
  const message = `event: log\ndata: ${JSON.stringify({ type: 'log', user, jobId, serial: 1, lines: [line] })}\n\n`;
  for (const res of clients.get(user) ?? []) res.write(message);
}

function start(runs: { user: string; jobId: string }[], argv: string[]): void {
  let running = runs.length;
  for (const run of runs) {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout }).on('line', (line) => relay(run.user, run.jobId, line));
    child.on('close', () => {
      if (--running === 0) process.stdout.write('done\n');
    });
  }
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const go = JSON.parse(line) as { runs: { user: string; jobId: string }[]; argv: string[] };
  start(go.runs, go.argv);
});
input.on('close', () => {
  for (const set of clients.values()) for (const res of set) res.destroy();
  server.close();
  process.exit(0);
});
