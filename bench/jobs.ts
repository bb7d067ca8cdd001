/**
 * Benchmark: trivial jobs through the real jobvisor (server + supervisor + local agents, all
 * over HTTP on 127.0.0.1) against a floor measured in the same run: the same process spawned
 * directly with child_process.spawn, with the same concurrency and the same slot limit.
 *
 *   npm run bench                      (build, then 200 jobs)
 *   node dist/bench/jobs.js --jobs 100 --concurrency 4
 *
 * Options:
 *   --jobs N          jobs measured per size (default 200)
 *   --concurrency C   jobs in flight at once (default 2 x the parallel slots)
 *   --warmup W        warm-up jobs per size before measuring (default 5)
 *   --modes LIST      sizes to measure, comma separated (default parallel,sequential)
 *   --timeout S       seconds one job may take before it is reported as stuck (default 60)
 *
 * The job is the `sleep` template with {seconds: 0, lines: 1}: `node sleep.mjs` that prints two
 * lines, writes done.txt and exits. Latency is submit-to-completed as a client sees it: from
 * just before `POST /api/jobs` to the `event: job` message of /api/events saying `completed`
 * (a job with no event for 2 s is polled with GET /api/jobs/:jobId instead). Throughput is
 * jobs / (last completion - first submission).
 *
 * The floor runs the same argv (process.execPath templates/sleep/sleep.mjs --seconds=0 --lines=1)
 * in a fresh folder per job, detached, stdout and stderr read to the end, with the environment a
 * local agent gives its cmds (PATH, HOME, LANG, ... and JOBVISOR_LOG_LEVEL; no NODE_OPTIONS, no
 * NODE_EXTRA_CA_CERTS, which makes every node start-up several times slower). C clients keep
 * C jobs in flight, and at most `slots` of them run at once, as in jobvisor.
 *
 * Figures are printed as a table and written to bench/results/jobs-<date>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JobEvent, JobView } from '../src/shared/api.js';
import { SseParser } from '../src/shared/sse.js';

// ---- options ------------------------------------------------------------------------------

type Mode = 'parallel' | 'sequential';

interface Options {
  jobs: number;
  concurrency: number;
  warmup: number;
  modes: Mode[];
  timeoutMs: number;
  slots: Record<Mode, number>;
}

const USAGE = 'usage: node dist/bench/jobs.js [--jobs N] [--concurrency C] [--warmup W] [--modes parallel,sequential] [--timeout SECONDS]';

function parseOptions(argv: string[]): Options {
  const cores = Math.max(1, os.availableParallelism());
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
    if (!m?.[1]) usage(`unexpected argument "${a}"`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) usage(`--${m[1]} needs a value`);
    values.set(m[1], value);
  }
  const int = (name: string, dflt: number, min: number): number => {
    const raw = values.get(name);
    values.delete(name);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  const slots: Record<Mode, number> = { parallel: cores, sequential: 1 };
  const jobs = int('jobs', 200, 1);
  const concurrency = int('concurrency', 2 * slots.parallel, 1);
  const warmup = int('warmup', 5, 1);
  const timeoutMs = int('timeout', 60, 1) * 1000;
  const modesRaw = values.get('modes') ?? 'parallel,sequential';
  values.delete('modes');
  const modes = modesRaw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of modes) if (m !== 'parallel' && m !== 'sequential') usage(`--modes takes parallel and/or sequential, got "${m}"`);
  if (modes.length === 0) usage('--modes needs at least one size');
  const unknown = [...values.keys()];
  if (unknown.length > 0) usage(`unknown option --${unknown[0]}`);
  return { jobs, concurrency, warmup, modes: [...new Set(modes)] as Mode[], timeoutMs, slots };
}

function usage(problem: string): never {
  process.stderr.write(`jobs bench: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

// ---- small helpers ------------------------------------------------------------------------

function findPackageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

const ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const TEMPLATES = path.join(ROOT, 'templates');
const SLEEP_SCRIPT = path.join(TEMPLATES, 'sleep', 'sleep.mjs');
const JOB_PARAMETERS = { seconds: 0, lines: 1 };
const SLEEP_ARGS = [SLEEP_SCRIPT, `--seconds=${JOB_PARAMETERS.seconds}`, `--lines=${JOB_PARAMETERS.lines}`];
const LOG_LEVEL = 'info';
/** What a local agent passes on to its cmds (src/drivers/local.ts agentEnvironment, minus the agent's own id and URL). */
const AGENT_KEPT_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'];
const TERMINAL = new Set(['completed', 'error', 'canceled', 'missing', 'purged']);
const POLL_AFTER_MS = 2000;

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function cmdEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of AGENT_KEPT_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  env.JOBVISOR_LOG_LEVEL = LOG_LEVEL;
  return env;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Peak resident set size (VmHWM) of a process in KiB, or null if it cannot be read. */
function peakRssKiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Direct children of `pid` whose command line holds `word`. */
function childPids(pid: number, word: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(word)) out.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `count` tasks with at most `concurrency` at once; task i gets its index. */
async function runPool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** A FIFO counting semaphore (the floor's stand-in for jobvisor's CPU slots). */
class Semaphore {
  private readonly waiters: (() => void)[] = [];
  constructor(private free: number) {}
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  give(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
}

// ---- the jobvisor processes ---------------------------------------------------------------

interface LogLine {
  msg?: string;
  level?: number;
  time?: number;
  [key: string]: unknown;
}

class Proc {
  readonly lines: LogLine[] = [];
  readonly rawLines: string[] = [];
  readonly exited: Promise<void>;
  private watchers: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  private exitInfo: string | null = null;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        this.exitInfo = `could not start: ${err.message}`;
        resolve();
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get ended(): string | null {
    return this.exitInfo;
  }

  private onLine(line: string): void {
    this.rawLines.push(line);
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      parsed = { msg: line };
    }
    this.lines.push(parsed);
    this.watchers = this.watchers.filter((w) => {
      if (!w.test(parsed)) return true;
      w.resolve(parsed);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) passing `test`; rejects on exit or timeout. */
  async waitFor(what: string, test: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<LogLine>((resolve) => this.watchers.push({ test, resolve })),
        this.exited.then(() => {
          throw new Error(`${this.name} ${this.exitInfo ?? 'ended'} before "${what}"; its last output:\n${this.tail(15)}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.name}: no "${what}" within ${timeoutMs} ms; its last output:\n${this.tail(15)}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(n: number): string {
    return this.rawLines.slice(-n).map((l) => `  | ${l}`).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with what happened. */
  async stop(graceMs: number): Promise<string> {
    if (!this.running) return `already ${this.exitInfo}`;
    this.child.kill('SIGTERM');
    const t0 = now();
    const inTime = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (inTime) return `${this.exitInfo} ${Math.round(now() - t0)} ms after SIGTERM`;
    this.child.kill('SIGKILL');
    await this.exited;
    return `did not end within ${graceMs} ms of SIGTERM; ${this.exitInfo}`;
  }
}

function startProc(name: string, command: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [CLI, command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Proc(name, child);
}

// ---- the HTTP client ----------------------------------------------------------------------

class Api {
  token = '';
  constructor(readonly base: string) {}

  async call<T>(method: string, p: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + p, {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }
}

interface Completion {
  status: string;
  at: number;
  via: 'event' | 'poll' | 'submit';
  reason: string | null;
}

/** Follows /api/events and hands each job's terminal status to whoever waits for it. */
class JobWatcher {
  private readonly abort = new AbortController();
  private readonly waiting = new Map<string, (c: Completion) => void>();
  /** Terminal events that came before their submitter knew the job id. */
  private readonly early = new Map<string, Completion>();
  private helloResolve: (() => void) | undefined;
  readonly hello = new Promise<void>((r) => (this.helloResolve = r));
  events = 0;
  readonly byStatus: Record<string, number> = {};
  streamError: string | null = null;
  private loop: Promise<void> | undefined;

  constructor(private readonly api: Api) {}

  start(): void {
    this.loop = this.read().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.streamError = (err as Error).message;
    });
  }

  private async read(): Promise<void> {
    const res = await fetch(this.api.base + '/api/events', {
      headers: { authorization: `Bearer ${this.api.token}`, accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`GET /api/events answered ${res.status}`);
    const parser = new SseParser((m) => {
      if (m.event === 'hello') this.helloResolve?.();
      if (m.event !== 'job') return;
      this.events++;
      const e = JSON.parse(m.data) as JobEvent;
      if (e.type !== 'job') return;
      this.byStatus[e.job.status] = (this.byStatus[e.job.status] ?? 0) + 1;
      if (TERMINAL.has(e.job.status)) this.settle(e.job, 'event');
    });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
    if (!this.abort.signal.aborted) this.streamError = 'the event stream ended';
  }

  private settle(job: JobView, via: Completion['via']): void {
    const c: Completion = { status: job.status, at: now(), via, reason: job.reason };
    const w = this.waiting.get(job.jobId);
    if (w) {
      this.waiting.delete(job.jobId);
      w(c);
    } else if (via === 'event') {
      this.early.set(job.jobId, c);
    }
  }

  /** Resolves with the job's terminal status; polls if no event came for a while; null on timeout. */
  async wait(job: JobView, timeoutMs: number): Promise<Completion | null> {
    const early = this.early.get(job.jobId);
    if (early) {
      this.early.delete(job.jobId);
      return early;
    }
    if (TERMINAL.has(job.status)) return { status: job.status, at: now(), via: 'submit', reason: job.reason };
    const done = new Promise<Completion>((r) => this.waiting.set(job.jobId, r));
    const deadline = now() + timeoutMs;
    let result: Completion | null = null;
    void done.then((c) => (result = c));
    await Promise.race([done, sleep(POLL_AFTER_MS)]);
    while (result === null && now() < deadline) {
      try {
        const { job: polled } = await this.api.call<{ job: JobView }>('GET', `/api/jobs/${job.jobId}`);
        if (TERMINAL.has(polled.status)) this.settle(polled, 'poll');
      } catch {
        /* try again */
      }
      if (result === null) await Promise.race([done, sleep(Math.min(500, Math.max(0, deadline - now())))]);
    }
    if (result === null) this.waiting.delete(job.jobId);
    return result;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

// ---- measuring ----------------------------------------------------------------------------

interface Sample {
  ok: boolean;
  latencyMs: number;
  via?: Completion['via'];
}

interface Figures {
  label: string;
  jobs: number;
  completed: number;
  failed: number;
  concurrency: number;
  slots: number;
  wallSeconds: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  completedVia?: Record<string, number>;
}

function summarize(label: string, samples: Sample[], wallMs: number, concurrency: number, slots: number): Figures {
  const ok = samples.filter((s) => s.ok);
  const lat = ok.map((s) => s.latencyMs).sort((a, b) => a - b);
  const via: Record<string, number> = {};
  for (const s of ok) if (s.via) via[s.via] = (via[s.via] ?? 0) + 1;
  return {
    label,
    jobs: samples.length,
    completed: ok.length,
    failed: samples.length - ok.length,
    concurrency,
    slots,
    wallSeconds: wallMs / 1000,
    throughput: ok.length / (wallMs / 1000),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    meanMs: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : NaN,
    maxMs: lat.length ? (lat[lat.length - 1] as number) : NaN,
    ...(Object.keys(via).length ? { completedVia: via } : {}),
  };
}

interface Problem {
  phase: string;
  jobId: string | null;
  jobKey: string;
  status: string;
  reason: string | null;
}

async function jobvisorPhase(
  api: Api,
  watcher: JobWatcher,
  mode: Mode,
  phase: string,
  count: number,
  concurrency: number,
  timeoutMs: number,
  problems: Problem[],
): Promise<{ samples: Sample[]; wallMs: number; jobIds: string[] }> {
  const samples: Sample[] = [];
  const jobIds: string[] = [];
  let first = Infinity;
  let last = -Infinity;
  await runPool(count, concurrency, async (i) => {
    const jobKey = `bench-${mode}-${phase}-${i}`;
    const t0 = now();
    first = Math.min(first, t0);
    let job: JobView;
    try {
      ({ job } = await api.call<{ job: JobView }>('POST', '/api/jobs', { template: 'sleep', parameters: JOB_PARAMETERS, size: mode, jobKey }));
    } catch (err) {
      problems.push({ phase: `${mode}/${phase}`, jobId: null, jobKey, status: 'submit failed', reason: (err as Error).message });
      samples.push({ ok: false, latencyMs: now() - t0 });
      return;
    }
    jobIds.push(job.jobId);
    const c = await watcher.wait(job, timeoutMs);
    const t1 = c?.at ?? now();
    last = Math.max(last, t1);
    if (c?.status === 'completed') {
      samples.push({ ok: true, latencyMs: t1 - t0, via: c.via });
    } else {
      problems.push({ phase: `${mode}/${phase}`, jobId: job.jobId, jobKey, status: c ? c.status : `stuck (no terminal status within ${timeoutMs} ms)`, reason: c?.reason ?? null });
      samples.push({ ok: false, latencyMs: t1 - t0 });
    }
  });
  return { samples, wallMs: last - first, jobIds };
}

async function floorPhase(
  dir: string,
  tag: string,
  count: number,
  concurrency: number,
  slots: number,
  problems: Problem[],
): Promise<{ samples: Sample[]; wallMs: number }> {
  const env = cmdEnvironment();
  const sem = new Semaphore(slots);
  const samples: Sample[] = [];
  let first = Infinity;
  let last = -Infinity;
  await runPool(count, concurrency, async (i) => {
    const t0 = now();
    first = Math.min(first, t0);
    await sem.take();
    let result: { code: number | null; signal: string | null; stderr: string };
    try {
      const cwd = path.join(dir, `${tag}-${i}`);
      mkdirSync(cwd, { recursive: true });
      result = await new Promise((resolve) => {
        const child = spawn(process.execPath, SLEEP_ARGS, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stdout.on('data', () => undefined);
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', (err) => resolve({ code: null, signal: null, stderr: err.message }));
        child.once('close', (code, signal) => resolve({ code, signal, stderr }));
      });
    } finally {
      sem.give();
    }
    const t1 = now();
    last = Math.max(last, t1);
    const ok = result.code === 0;
    if (!ok) problems.push({ phase: `floor/${tag}`, jobId: null, jobKey: `${tag}-${i}`, status: `exit ${result.code ?? result.signal}`, reason: result.stderr.slice(0, 500) || null });
    samples.push({ ok, latencyMs: t1 - t0 });
  });
  return { samples, wallMs: last - first };
}

/** Seconds from "starting agent" to "agent connected" in the supervisor's log, per agent. */
function agentStartups(supervisor: Proc): { agentId: string; size: string; startupMs: number }[] {
  const out: { agentId: string; size: string; startupMs: number }[] = [];
  for (const s of supervisor.lines.filter((l) => l.msg === 'starting agent')) {
    const c = supervisor.lines.find((l) => l.msg === 'agent connected' && l.agentId === s.agentId);
    if (c && typeof c.time === 'number' && typeof s.time === 'number') {
      out.push({ agentId: String(s.agentId), size: String(s.size), startupMs: c.time - s.time });
    }
  }
  return out;
}

// ---- output -------------------------------------------------------------------------------

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

function figuresRow(f: Figures): string[] {
  return [f.label, `${f.completed}/${f.jobs}`, String(f.concurrency), String(f.slots), f2(f.wallSeconds), f1(f.throughput), f1(f.p50Ms), f1(f.p99Ms), f1(f.maxMs)];
}

interface ModeResult {
  mode: Mode;
  jobvisor: Figures;
  floor: Figures;
  floorUncapped?: Figures;
  ratio: { throughput: number; p50: number; p99: number };
  firstJobColdMs: number | null;
  warmupJobs: number;
  supervisorPeakRssKiBAfter: number | null;
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run npm run build first`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-'));
  const floorDir = path.join(dataDir, 'floor');
  const password = randomBytes(12).toString('hex');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JOBVISOR_')));
  const baseEnv: NodeJS.ProcessEnv = {
    ...inherited,
    JOBVISOR_DATA_DIR: dataDir,
    JOBVISOR_TEMPLATES_DIR: TEMPLATES,
    JOBVISOR_SUPERVISOR_HOST: '127.0.0.1',
    JOBVISOR_SUPERVISOR_PORT: '0',
    JOBVISOR_SERVER_HOST: '127.0.0.1',
    JOBVISOR_SERVER_PORT: '0',
    JOBVISOR_SLOTS_PARALLEL: String(opts.slots.parallel),
    JOBVISOR_SLOTS_SEQUENTIAL: String(opts.slots.sequential),
    JOBVISOR_ADMIN_PASSWORD: password,
    JOBVISOR_LOG_LEVEL: LOG_LEVEL,
  };

  let supervisor: Proc | undefined;
  let server: Proc | undefined;
  let watcher: JobWatcher | undefined;
  let agentPids: number[] = [];
  const cleanupNotes: string[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await watcher?.stop();
      if (supervisor?.pid !== undefined) agentPids = [...new Set([...agentPids, ...childPids(supervisor.pid, 'agent')])];
      if (server) cleanupNotes.push(`server: ${await server.stop(10_000)}`);
      if (supervisor) cleanupNotes.push(`supervisor: ${await supervisor.stop(15_000)}`);
      for (const pid of agentPids) {
        for (let i = 0; i < 20 && alive(pid); i++) await sleep(100);
        if (alive(pid)) {
          cleanupNotes.push(`agent ${pid} still running 2 s after the supervisor ended: SIGTERM, then SIGKILL`);
          try {
            process.kill(pid, 'SIGTERM');
            await sleep(3000);
            if (alive(pid)) process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        } else {
          cleanupNotes.push(`agent ${pid}: ended`);
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`jobs bench: ${sig}; stopping jobvisor and removing ${dataDir}\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const problems: Problem[] = [];
  try {
    // Floor warm-up (file cache), before anything else runs.
    await floorPhase(floorDir, 'warm', 4, 2, 2, problems);

    const t0 = now();
    supervisor = startProc('supervisor', 'supervisor', baseEnv);
    const supListening = await supervisor.waitFor('supervisor listening', (l) => l.msg === 'supervisor listening', 30_000);
    const supervisorUrl = String(supListening.url);
    const supervisorStartMs = now() - t0;
    server = startProc('server', 'server', { ...baseEnv, JOBVISOR_SUPERVISOR_URL: supervisorUrl });
    const srvListening = await server.waitFor('server listening', (l) => l.msg === 'server listening', 30_000);
    const serverUrl = String(srvListening.url);
    await server
      .waitFor('connected to the supervisor event stream', (l) => l.msg === 'connected to the supervisor event stream', 10_000)
      .catch((err: unknown) => process.stderr.write(`jobs bench: warning: ${(err as Error).message.split('\n')[0]}\n`));
    const serverStartMs = now() - t0;

    const api = new Api(serverUrl);
    api.token = (await api.call<{ token: string }>('POST', '/api/auth/login', { username: 'admin', password })).token;
    watcher = new JobWatcher(api);
    watcher.start();
    await Promise.race([watcher.hello, sleep(10_000).then(() => Promise.reject(new Error('no hello on /api/events within 10 s')))]);

    process.stdout.write(
      `jobvisor jobs bench: ${opts.jobs} jobs per size, concurrency ${opts.concurrency}, ` +
        `${opts.slots.parallel} parallel / ${opts.slots.sequential} sequential slots, node ${process.version}, ${os.cpus().length} cpus\n` +
        `supervisor ${supervisorUrl} (pid ${supervisor.pid}), server ${serverUrl} (pid ${server.pid}), data ${dataDir}\n`,
    );

    const results: ModeResult[] = [];
    for (const mode of opts.modes) {
      const slots = opts.slots[mode];
      process.stdout.write(`[${mode}] warm-up: ${opts.warmup} jobs (starts the agent)...\n`);
      // The first job alone, so its latency is the cold one (agent start-up included).
      const cold = await jobvisorPhase(api, watcher, mode, 'cold', 1, 1, opts.timeoutMs, problems);
      const coldSample = cold.samples[0];
      if (opts.warmup > 1) await jobvisorPhase(api, watcher, mode, 'warm', opts.warmup - 1, opts.concurrency, opts.timeoutMs, problems);
      await floorPhase(floorDir, `${mode}-warm`, opts.warmup, opts.concurrency, slots, problems);

      process.stdout.write(`[${mode}] floor: ${opts.jobs} direct spawns...\n`);
      const floor = await floorPhase(floorDir, mode, opts.jobs, opts.concurrency, slots, problems);
      let floorUncapped: Figures | undefined;
      if (opts.concurrency > slots) {
        const u = await floorPhase(floorDir, `${mode}-uncapped`, opts.jobs, opts.concurrency, opts.concurrency, problems);
        floorUncapped = summarize(`floor, no slot cap (${mode})`, u.samples, u.wallMs, opts.concurrency, opts.concurrency);
      }
      process.stdout.write(`[${mode}] jobvisor: ${opts.jobs} jobs through the API...\n`);
      const jv = await jobvisorPhase(api, watcher, mode, 'run', opts.jobs, opts.concurrency, opts.timeoutMs, problems);

      const jvFig = summarize(`jobvisor ${mode}`, jv.samples, jv.wallMs, opts.concurrency, slots);
      const floorFig = summarize(`floor ${mode}`, floor.samples, floor.wallMs, opts.concurrency, slots);
      results.push({
        mode,
        jobvisor: jvFig,
        floor: floorFig,
        ...(floorUncapped ? { floorUncapped } : {}),
        ratio: { throughput: jvFig.throughput / floorFig.throughput, p50: jvFig.p50Ms / floorFig.p50Ms, p99: jvFig.p99Ms / floorFig.p99Ms },
        firstJobColdMs: coldSample?.ok ? coldSample.latencyMs : null,
        warmupJobs: opts.warmup,
        supervisorPeakRssKiBAfter: peakRssKiB(supervisor.pid),
      });
    }

    agentPids = childPids(supervisor.pid as number, 'agent');
    const memory = {
      supervisorPeakRssKiB: peakRssKiB(supervisor.pid),
      serverPeakRssKiB: peakRssKiB(server.pid),
      agentsPeakRssKiB: agentPids.map((pid) => ({ pid, peakRssKiB: peakRssKiB(pid) })),
    };
    const startups = agentStartups(supervisor);
    const submitted = results.length * (opts.jobs + opts.warmup);
    const warnings = supervisor.lines.filter((l) => (l.level ?? 0) >= 40).concat(server.lines.filter((l) => (l.level ?? 0) >= 40));

    // ---- report ----
    const rows: string[][] = [['run', 'done', 'conc', 'slots', 'wall s', 'jobs/s', 'p50 ms', 'p99 ms', 'max ms']];
    for (const r of results) {
      rows.push(figuresRow(r.jobvisor), figuresRow(r.floor));
      if (r.floorUncapped) rows.push(figuresRow(r.floorUncapped));
      rows.push([`ratio jobvisor/floor (${r.mode})`, '', '', '', '', `${f2(r.ratio.throughput)}x`, `${f2(r.ratio.p50)}x`, `${f2(r.ratio.p99)}x`, '']);
    }
    const lines = [
      '',
      table(rows),
      '',
      `job: sleep template {seconds: 0, lines: 1} = ${path.basename(process.execPath)} ${path.relative(ROOT, SLEEP_SCRIPT)} --seconds=0 --lines=1`,
      'latency: submit (POST /api/jobs) to the `completed` event on /api/events; throughput: jobs / (last completion - first submission)',
      `floor: child_process.spawn of the same argv, same concurrency, at most <slots> at once, env as a local agent gives cmds ` +
        `(${AGENT_KEPT_ENV.join(', ')}, JOBVISOR_LOG_LEVEL; NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'is set here and was dropped' : 'not set'})`,
      '',
      ...startups.map((s) => `agent start-up (${s.size}): ${s.startupMs} ms from "starting agent" to "agent connected" (supervisor log)`),
      ...results.map((r) => `first job (${r.mode}, agent start included): ${r.firstJobColdMs === null ? 'failed' : `${f1(r.firstJobColdMs)} ms`}`),
      `start-up: supervisor listening after ${f1(supervisorStartMs)} ms, server ready after ${f1(serverStartMs)} ms`,
      `peak RSS (VmHWM): supervisor ${f1((memory.supervisorPeakRssKiB ?? NaN) / 1024)} MiB, server ${f1((memory.serverPeakRssKiB ?? NaN) / 1024)} MiB` +
        memory.agentsPeakRssKiB.map((a) => `, agent ${a.pid} ${f1((a.peakRssKiB ?? NaN) / 1024)} MiB`).join(''),
      `job events received on /api/events: ${watcher.events} for ${submitted} jobs (${f1(watcher.events / submitted)} per job; by status ${JSON.stringify(watcher.byStatus)})` +
        (watcher.streamError ? `; stream problem: ${watcher.streamError}` : ''),
      ...results
        .filter((r) => r.jobvisor.completedVia && !(Object.keys(r.jobvisor.completedVia).length === 1 && r.jobvisor.completedVia.event))
        .map((r) => `note (${r.mode}): completions seen via ${JSON.stringify(r.jobvisor.completedVia)} (poll = no event within ${POLL_AFTER_MS} ms)`),
    ];
    if (warnings.length > 0) lines.push(`supervisor/server warnings and errors (${warnings.length}):`, ...warnings.slice(0, 30).map((w) => `  ${JSON.stringify(w)}`));
    process.stdout.write(lines.join('\n') + '\n');

    const report = {
      date: new Date().toISOString(),
      command: process.argv.slice(1).join(' '),
      host: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, availableParallelism: os.availableParallelism() },
      options: { jobs: opts.jobs, concurrency: opts.concurrency, warmup: opts.warmup, modes: opts.modes, slots: opts.slots, timeoutMs: opts.timeoutMs },
      job: { template: 'sleep', parameters: JOB_PARAMETERS },
      floorEnvironment: { kept: AGENT_KEPT_ENV, added: ['JOBVISOR_LOG_LEVEL'], nodeExtraCaCertsDropped: Boolean(process.env.NODE_EXTRA_CA_CERTS) },
      results,
      agentStartups: startups,
      startup: { supervisorListeningMs: supervisorStartMs, serverReadyMs: serverStartMs },
      memory,
      jobEvents: { total: watcher.events, perJob: watcher.events / submitted, byStatus: watcher.byStatus },
      problems,
      warnings,
    };
    const resultsDir = path.join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `jobs-${report.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`figures written to ${path.relative(process.cwd(), file) || file}\n`);

    if (problems.length > 0) {
      reportProblems(problems, supervisor);
      return 1;
    }
    return 0;
  } catch (err) {
    process.stderr.write(`jobs bench: ${(err as Error).stack ?? String(err)}\n`);
    if (problems.length > 0 && supervisor) reportProblems(problems, supervisor);
    if (supervisor) process.stderr.write(`supervisor's last output:\n${supervisor.tail(20)}\n`);
    if (server) process.stderr.write(`server's last output:\n${server.tail(10)}\n`);
    return 1;
  } finally {
    await cleanup();
    process.stdout.write(`cleanup: ${cleanupNotes.join('; ')}; removed ${dataDir}\n`);
  }
}

function reportProblems(problems: Problem[], supervisor: Proc): void {
  process.stderr.write(`\n${problems.length} job(s) did not complete:\n`);
  for (const p of problems.slice(0, 50)) process.stderr.write(`  ${p.phase} ${p.jobKey} ${p.jobId ?? '-'}: ${p.status}${p.reason ? ` (${p.reason})` : ''}\n`);
  const ids = new Set(problems.map((p) => p.jobId).filter((id): id is string => id !== null));
  const related = supervisor.rawLines.filter((l) => [...ids].some((id) => l.includes(id)));
  if (related.length > 0) process.stderr.write(`supervisor log lines about them:\n${related.slice(-60).map((l) => `  | ${l}`).join('\n')}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`jobs bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
