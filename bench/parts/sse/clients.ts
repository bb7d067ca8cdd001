/**
 * The event-stream clients of the `sse` bench part, in a process of their own (so that their
 * CPU is not the measuring process's). Started with one JSON line on stdin:
 *
 *   {"url": "http://127.0.0.1:port/api/events", "streams": [{"user": "u0", "token": "..."}, ...],
 *    "slow": {"token": "..."}?}
 *
 * It opens every stream, prints `ready` once each has had its first bytes (the `hello`), then
 * records every `log` event's lines: each line says when it was printed (`t=<epoch ms>`) and its
 * number (`i=<n>`), so the delay printed -> seen is measured for every line at every client, and
 * every line is counted once per client. `slow` is one more stream that never reads.
 *
 * A second stdin line {"expect": {"u0": ["jobId", ...], ...}, "lines": N, "delaysFile": "..."?}
 * asks for the report: one JSON line on stdout (delays, lines seen, lost and repeated, whether the
 * slow stream was cut), then the process exits. With `delaysFile`, every delay measured is also
 * written there (Float64, native byte order), so that the bench can merge the delays of several
 * clients processes into one set of percentiles.
 */
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';

interface Config {
  url: string;
  streams: { user: string; token: string }[];
  slow?: { token: string };
}

interface Expect {
  expect: Record<string, string[]>;
  lines: number;
  delaysFile?: string;
}

/** What one stream saw: for each job, which line numbers (index = line number, value = times seen). */
interface Stream {
  user: string;
  seen: Map<string, Uint8Array>;
  ended: boolean;
}

const LINE = /t=([0-9.]+) i=([0-9]+)/g;
const JOB_ID = /"jobId":"([^"]+)"/;
/**
 * The wall clock, as the printers' `time` (Perl's Time::HiRes) is: not timeOrigin + performance.now(),
 * which follows a monotonic clock and drifts from the wall clock when that is adjusted (a run on a
 * busy machine once measured p50 -837 ms that way).
 */
const now = () => Date.now();

let delays = new Float64Array(1 << 20);
let delayCount = 0;
let repeated = 0;
let maxLine = 0;
let bytes = 0;

function addDelay(ms: number): void {
  if (delayCount === delays.length) {
    const bigger = new Float64Array(delays.length * 2);
    bigger.set(delays);
    delays = bigger;
  }
  delays[delayCount++] = ms;
}

/** One `log` event's data (read with regular expressions, not JSON.parse: this process must keep up): counts its lines and their delays (all seen at `at`). */
function onLog(stream: Stream, data: string, at: number): void {
  const jobId = JOB_ID.exec(data)?.[1];
  if (jobId === undefined) return;
  let seen = stream.seen.get(jobId);
  LINE.lastIndex = 0;
  for (let m = LINE.exec(data); m; m = LINE.exec(data)) {
    const i = Number(m[2]);
    if (i > maxLine) maxLine = i;
    if (!seen || seen.length <= i) {
      const bigger = new Uint8Array(Math.max(i + 1, 128, (seen?.length ?? 0) * 2));
      if (seen) bigger.set(seen);
      stream.seen.set(jobId, (seen = bigger));
    }
    if (seen[i]! > 0) repeated++;
    else addDelay(at - Number(m[1]));
    seen[i] = Math.min(255, seen[i]! + 1);
  }
}

/** What starts a `log` message's data line (jobvisor's messages have an `id:` line before it). */
const LOG_DATA = 'event: log\ndata: ';

/**
 * Reads one stream's HTTP answer from its raw socket (latin1 text: one character per byte; the
 * lines measured are ASCII): the head, then the body, in which it looks only for `log` messages'
 * data lines and hands each on (the other messages are jumped over by indexOf, never sliced).
 * It does not undo the chunked encoding: both servers write whole messages in each write (each
 * HTTP chunk), so a chunk's size line stands between two messages, where no `log` data line can
 * hold it; only the text after the last complete message (`\n\n`) is kept for the next read.
 * The last chunk (`0`, the server ended the stream) comes after the last message, and message
 * data has no `\r`: `\r\n0\r\n` in that rest is the end. A raw socket instead of http.get: the
 * HTTP client's per-chunk cost made this process the bottleneck; and this scan does less per
 * byte than undoing the chunks and splitting every message did, for the clients share the 2 cores
 * with what they measure.
 */
function reader(stream: Stream, onHead: (status: number) => void): (chunk: string) => void {
  let head = '';
  let inBody = false;
  let rest = '';
  return (chunk) => {
    const at = now();
    bytes += chunk.length;
    let text = chunk;
    if (!inBody) {
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      onHead(Number(head.slice(9, 12)));
      text = head.slice(end + 4);
      head = '';
      inBody = true;
    }
    if (rest !== '') text = rest + text;
    const complete = text.lastIndexOf('\n\n');
    if (complete === -1) {
      rest = text;
      return;
    }
    for (let pos = text.indexOf(LOG_DATA); pos !== -1 && pos < complete; pos = text.indexOf(LOG_DATA, pos)) {
      const start = pos + LOG_DATA.length;
      pos = text.indexOf('\n', start);
      onLog(stream, text.slice(start, pos), at);
    }
    rest = text.slice(complete + 2);
    if (rest.includes('\r\n0\r\n')) stream.ended = true;
  };
}

function open(config: Config, s: { user: string; token: string }, streams: Stream[], onFirst: () => void): void {
  const stream: Stream = { user: s.user, seen: new Map(), ended: false };
  streams.push(stream);
  const url = new URL(config.url);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${s.token}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.setEncoding('latin1');
  let first = true;
  const read = reader(stream, (status) => {
    if (status !== 200) {
      process.stderr.write(`clients: GET events for ${s.user} answered ${status}\n`);
      process.exit(3);
    }
  });
  socket.on('data', (chunk: string) => {
    read(chunk);
    if (first) {
      first = false;
      onFirst();
    }
  });
  socket.on('end', () => (stream.ended = true));
  socket.on('error', (err) => {
    stream.ended = true;
    process.stderr.write(`clients: stream of ${s.user}: ${err.message}\n`);
  });
}

/**
 * The stream that never reads, in a small Perl process of its own: Node cannot set a socket's
 * receive buffer, and with the kernel's defaults a loopback socket that is never read swallows a
 * few MB (the admin's stream got 3.8 MB in a whole run and the server never had a backlog to cut
 * it for). With SO_RCVBUF set to 4 KiB before it connects, the kernel holds next to nothing for
 * it, so what the server sends piles up in the server's own buffers, as it would for a client on
 * a slow link. It sends its request, says `sent`, and reads nothing until a line on its stdin;
 * then it reads what is left and says `cut <bytes>` if the server had ended the stream (end of
 * file or reset), `open <bytes>` if the stream was still open after 2 s of quiet.
 */
const SLOW = `use strict; use warnings; use Socket; use IO::Select;
$| = 1;
my ($port, $path, $token) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, getprotobyname('tcp')) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "setsockopt: $!";
connect($s, sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
syswrite($s, "GET $path HTTP/1.1\\r\\nHost: 127.0.0.1:$port\\r\\nAuthorization: Bearer $token\\r\\nAccept: text/event-stream\\r\\n\\r\\n");
print "sent\\n";
my $ask = <STDIN>;
my ($bytes, $cut) = (0, 0);
my $sel = IO::Select->new($s);
while ($sel->can_read(2)) {
  my $n = sysread($s, my $buf, 65536);
  if (!$n) { $cut = 1; last; }
  $bytes += $n;
}
print(($cut ? 'cut' : 'open') . " $bytes\\n");
`;

/** Starts the slow stream (see SLOW); resolves once its request is sent. */
async function openSlow(config: Config, token: string): Promise<{ report: () => Promise<{ cut: boolean; bytes: number }> }> {
  const url = new URL(config.url);
  const child = spawn('perl', ['-e', SLOW, url.port, url.pathname, token], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const sent = await out.next();
  if (sent.value !== 'sent') throw new Error(`the slow stream did not start: ${String(sent.value)}`);
  return {
    report: async () => {
      child.stdin!.write('read\n');
      const [state, bytes] = String((await out.next()).value).split(' ');
      return { cut: state === 'cut', bytes: Number(bytes) };
    },
  };
}

function report(streams: Stream[], expect: Expect, slow: { cut: boolean; bytes: number } | undefined): string {
  let expected = 0;
  let received = 0;
  let ended = 0;
  for (const s of streams) {
    if (s.ended) ended++;
    for (const jobId of expect.expect[s.user] ?? []) {
      expected += expect.lines;
      const seen = s.seen.get(jobId);
      if (!seen) continue;
      for (let i = 1; i <= expect.lines && i < seen.length; i++) if (seen[i]! > 0) received++;
    }
  }
  const sorted = delays.subarray(0, delayCount).sort();
  if (expect.delaysFile) writeFileSync(expect.delaysFile, sorted);
  const pct = (p: number) => (delayCount === 0 ? NaN : sorted[Math.min(delayCount - 1, Math.max(0, Math.ceil((p / 100) * delayCount) - 1))]!);
  return JSON.stringify({
    streams: streams.length,
    ended,
    expected,
    received,
    lost: expected - received,
    repeated,
    maxLine,
    bytes,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    samples: delayCount,
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: pct(100),
    slow,
  });
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const first = await lines.next();
  const config = JSON.parse(String(first.value)) as Config;
  const streams: Stream[] = [];
  let waiting = config.streams.length;
  const ready = new Promise<void>((resolve) => {
    for (const s of config.streams) open(config, s, streams, () => --waiting === 0 && resolve());
  });
  await ready;
  const slow = config.slow ? await openSlow(config, config.slow.token) : undefined;
  process.stdout.write('ready\n');
  const second = await lines.next();
  const expect = JSON.parse(String(second.value)) as Expect;
  const slowReport = slow ? await slow.report() : undefined;
  process.stdout.write(report(streams, expect, slowReport) + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`clients: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
