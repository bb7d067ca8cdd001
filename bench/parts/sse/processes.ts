/**
 * The processes of the `sse` bench part: a child read line by line, CPU and memory from /proc,
 * and the event-stream clients spread over several processes (sse/clients.ts each).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLIENTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clients.js');

/** A child process whose stdout is read line by line. */
export class Child {
  readonly lines: AsyncIterator<string>;
  private readonly rl: Interface;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.rl = createInterface({ input: child.stdout! });
    this.lines = this.rl[Symbol.asyncIterator]();
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  async next(what: string, timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs)));
    const died = this.exited.then(() => Promise.reject(new Error(`the process exited before ${what}`)));
    try {
      const r = await Promise.race([this.lines.next(), timeout, died]);
      if (r.done) throw new Error(`the process ended its output before ${what}`);
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin?.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

export function startNode(script: string, env: NodeJS.ProcessEnv = process.env): Child {
  return new Child(spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'], env }));
}

/** CPU seconds (user + system) a process used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface ClientsReport {
  streams: number;
  ended: number;
  expected: number;
  received: number;
  lost: number;
  repeated: number;
  samples: number;
  /** Bytes every stream received, and the clients processes' CPU seconds (their whole life). */
  bytes: number;
  cpuSeconds: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  slow?: { cut: boolean; bytes: number };
}

interface Stream {
  user: string;
  token: string;
}

/**
 * The event-stream clients in `count` processes: reading and timing ~100 k messages a second is
 * more than one process (one core) keeps up with while the fan-out it measures needs the other.
 * Each user's streams are dealt out in turn, so every process holds some of every user's; the
 * slow stream (if any) is the first process's. The report is the sum of theirs, with the
 * percentiles of all their delays together (each writes its delays to a file under `dir`).
 */
export class ClientsGroup {
  readonly children: Child[];

  constructor(
    count: number,
    private readonly dir: string,
  ) {
    this.children = Array.from({ length: count }, () => startNode(CLIENTS));
  }

  get pids(): number[] {
    return this.children.map((c) => c.child.pid!);
  }

  /** Opens the streams; resolves once every stream had its first bytes. */
  async open(url: string, streams: Stream[], slow?: { token: string }): Promise<void> {
    const n = this.children.length;
    this.children.forEach((c, k) => c.send(JSON.stringify({ url, streams: streams.filter((_, i) => i % n === k), ...(slow && k === 0 ? { slow } : {}) })));
    await Promise.all(this.children.map((c) => c.next('clients ready', 60_000)));
  }

  cpuSeconds(): number {
    return this.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }

  async report(expect: Record<string, string[]>, lines: number): Promise<ClientsReport> {
    const files = this.children.map((_, k) => path.join(this.dir, `delays-${k}.f64`));
    this.children.forEach((c, k) => c.send(JSON.stringify({ expect, lines, delaysFile: files[k] })));
    const reports = await Promise.all(this.children.map(async (c) => JSON.parse(await c.next('clients report', 60_000)) as ClientsReport));
    const parts = files.map((f) => {
      const b = readFileSync(f);
      return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    });
    const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    all.sort();
    const pct = (p: number) => (all.length === 0 ? NaN : all[Math.min(all.length - 1, Math.max(0, Math.ceil((p / 100) * all.length) - 1))]!);
    const sum = (f: (r: ClientsReport) => number) => reports.reduce((s, r) => s + f(r), 0);
    const slow = reports.find((r) => r.slow)?.slow;
    return {
      streams: sum((r) => r.streams),
      ended: sum((r) => r.ended),
      expected: sum((r) => r.expected),
      received: sum((r) => r.received),
      lost: sum((r) => r.lost),
      repeated: sum((r) => r.repeated),
      samples: all.length,
      bytes: sum((r) => r.bytes),
      cpuSeconds: sum((r) => r.cpuSeconds),
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      max: pct(100),
      ...(slow ? { slow } : {}),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
  }
}
