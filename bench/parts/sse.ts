/**
 * Bench part `sse` (issue 13, target 5): 1,000 event-stream clients (10 users, 100 streams each,
 * `GET /api/events`) while 100 runs (10 per user) print a progress line 10 times a second. Every
 * line says when it was printed; the clients (a process of their own, sse/clients.ts) measure
 * printed -> seen for every line at every client and count that each client saw every line of
 * its user's runs exactly once. The server's CPU (from /proc/<pid>/stat over the window, % of one
 * core) and peak RSS are reported, and the supervisor's for information.
 *
 * The floor, in the same run: a bare `node:http` fan-out (sse/floor.ts) that starts the same
 * printers and relays each line to the same 1,000 clients at the end of the turn it was read in.
 *
 * A second row runs jobvisor once more with one more stream that never reads, an admin's (who
 * sees every user's events, so it falls behind fastest): the server must cut it (past
 * eventsMaxBufferedBytes) while the others keep their delay and lose nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { SoakJobvisor, sleep } from '../soak/jobvisor.js';
import { processesUnder } from '../../test/helpers/jobvisor.js';
import { ClientsGroup, cpuSeconds, peakRssMiB, startNode, type ClientsReport } from './sse/processes.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FLOOR = path.join(HERE, 'sse', 'floor.js');
const USERS = 10;
const STREAMS_PER_USER = 100;
const RUNS_PER_USER = 10;
const HZ = 10;
const PASSWORD = 'sse-bench-admin-password';
/**
 * The server cuts a stream whose unsent data passes this (the slow stream's row). The slow stream
 * is an admin's (it sees every user's events: ~0.5 MB/s) with a 4 KiB receive buffer (see SLOW in
 * sse/clients.ts), so its backlog is in the server's buffers within a second. A user's stream
 * gets ~50 KB/s, so it would be cut only when ~5 s behind.
 */
const MAX_BUFFERED = 256 * 1024;
/**
 * Lines a run prints in the slow stream's row, --quick or not. The kernel here gives a loopback
 * socket a send buffer of up to 4 MB (`tb` in `ss -tm`; tcp_wmem's maximum), which the server
 * cannot see into: only past it does the server's own backlog grow. The admin's stream gets
 * ~0.5 MB/s, so the row needs about 10 s of lines before the server can tell that it is stuck.
 */
const SLOW_LINES = 120;
const P99_TARGET_MS = 50;
/** The clients run in this many processes (see ClientsGroup). */
const CLIENT_PROCESSES = 2;
const RUNS = USERS * RUNS_PER_USER;
/** Run k prints at k / (RUNS * HZ) s into every period of 1 / HZ s (see PRINTER). */
const phase = (k: number) => k / (RUNS * HZ);

/**
 * Prints `lines` lines at `hz` per second, each with the time it was printed (epoch ms) and its
 * number. It first waits for a file `go` beside itself (polled every 20 ms): the bench creates it
 * once every printer has started, so that no line is printed while the floor is still spawning
 * the others (100 spawns block the floor's event loop for about 1.5 s on a busy 2-core machine,
 * and the first printers' lines waited that long: the floor's p99 was that stall) and jobvisor's
 * lines all come while its 100 runs are up, as the floor's do. Its lines then fall on a clock
 * grid: `phase` seconds into each period of 1 / hz of the wall clock. The bench gives the 100 runs
 * phases spread over the period, so that their 1,000 lines a second come one every millisecond,
 * as 100 unrelated runs' would, and the same in the floor and in jobvisor.
 */
const PRINTER = `use strict; use warnings; use Time::HiRes qw(time sleep); use File::Basename qw(dirname);
$| = 1;
my ($lines, $hz, $phase) = @ARGV;
$phase //= 0;
my $go = dirname($0) . '/go';
sleep(0.02) until -e $go;
my $start = (int(time * $hz) + 1) / $hz + $phase;
for my $i (1 .. $lines) {
  my $wait = $start + ($i - 1) / $hz - time;
  sleep($wait) if $wait > 0;
  printf("PROGRESS %.6f t=%.3f i=%d\\n", $i / $lines, time * 1000, $i);
}
`;

const TEMPLATE = {
  name: 'ssebench',
  title: 'Progress printer (sse bench)',
  description: 'Prints `lines` PROGRESS lines at `hz` per second, each with the time it was printed.',
  parameters: {
    lines: { type: 'integer', label: 'Lines', default: 10, min: 1, max: 100000 },
    hz: { type: 'number', label: 'Lines per second', default: 10, min: 0.1, max: 1000 },
    phase: { type: 'number', label: 'Phase (s into each period)', default: 0, min: 0, max: 10 },
  },
  command: ['perl', '{templateDir}/print.pl', '{lines}', '{hz}', '{phase}'],
  sizes: ['parallel'],
  resources: { cores: 1 },
  timeLimitSeconds: 600,
  progress: { kind: 'stdout' },
  results: [],
};

interface Measured {
  report: ClientsReport;
  /** % of one core over the window. */
  cpu: number;
  rssMiB: number;
  supervisorCpu?: number;
  supervisorRssMiB?: number;
  /** The agents' CPU (all of them, % of one core), and the clients processes' (together). */
  agentsCpu?: number;
  clientsCpu: number;
  seconds: number;
}

// ---- processes ----------------------------------------------------------------------------

/** CPU seconds of the agents under `root` (their runs excluded). */
function agentsCpuSeconds(root: string): number {
  let sum = 0;
  for (const pid of processesUnder(root)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent')) sum += cpuSeconds(pid);
    } catch {
      /* gone */
    }
  }
  return sum;
}


// ---- jobvisor -----------------------------------------------------------------------------

/** `--cpu-prof` is not allowed in NODE_OPTIONS: a preloaded script profiles the process with the inspector instead. */
const PROFILE_HOOK = `const { Session } = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
const session = new Session();
session.connect();
session.post('Profiler.enable', () => session.post('Profiler.start'));
let done = false;
process.on('exit', () => {
  if (done) return;
  done = true;
  session.post('Profiler.stop', (err, r) => {
    if (!err) fs.writeFileSync(path.join(__dirname, process.argv.slice(2).join('-').replace(/[^a-z0-9-]+/gi, '_') + '-' + process.pid + '.cpuprofile'), JSON.stringify(r.profile));
  });
});
`;

function profilingEnv(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'hook.cjs'), PROFILE_HOOK);
  return { NODE_OPTIONS: `--require ${path.join(dir, 'hook.cjs')}` };
}

async function call<T>(base: string, token: string | undefined, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(base + p, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function login(base: string, username: string, password: string): Promise<string> {
  const r = await call<{ token: string }>(base, undefined, 'POST', '/api/auth/login', { username, password });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

const TERMINAL = new Set(['completed', 'error', 'canceled', 'missing', 'purged']);

async function runJob(base: string, token: string, jobKey: string, lines: number, phaseS = 0): Promise<string> {
  const body = { template: 'ssebench', jobKey, size: 'parallel', parameters: { lines, hz: HZ, phase: phaseS } };
  for (let attempt = 1; ; attempt++) {
    const r = await call<{ job: { jobId: string } }>(base, token, 'POST', '/api/jobs', body);
    if (r.status === 200) return r.body.job.jobId;
    // On a loaded machine the hop to the supervisor may fail now and then: the same job key again is the same job.
    if (r.status !== 502 || attempt >= 3) throw new Error(`run ${jobKey}: ${r.status} ${JSON.stringify(r.body)}`);
    await sleep(200);
  }
}

/** Runs `tasks` with at most `limit` at once; their results in order. */
async function limited<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tasks.length; i = next++) out[i] = await tasks[i]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/**
 * Waits until every job's status is `want`, asking for one job at a time (so the polling adds
 * little load); throws if one ends otherwise first. `running`: its printer started and waits for
 * `go`; `completed`: it printed every line.
 */
async function awaitStatus(base: string, jobs: { token: string; jobId: string }[], want: 'running' | 'completed', deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (const j of jobs) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`run ${j.jobId} was not ${want} in time`);
      const r = await call<{ job: { status: string } }>(base, j.token, 'GET', `/api/jobs/${j.jobId}`);
      const status = r.body.job.status;
      if (status === want) break;
      if (TERMINAL.has(status)) throw new Error(`run ${j.jobId} ended ${status} before it was ${want}: ${JSON.stringify(r.body.job)}`);
      await sleep(want === 'running' ? 100 : 200);
    }
  }
}

async function measureJobvisor(ctx: BenchContext, lines: number, slow: boolean): Promise<Measured> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-sse-'));
  const templates = path.join(root, 'templates');
  mkdirSync(path.join(templates, 'ssebench'), { recursive: true });
  writeFileSync(path.join(templates, 'ssebench', 'template.json'), JSON.stringify(TEMPLATE, null, 2));
  writeFileSync(path.join(templates, 'ssebench', 'print.pl'), PRINTER);
  const go = path.join(templates, 'ssebench', 'go');
  const jv = new SoakJobvisor({
    dataDir: path.join(root, 'data'),
    outDir: root,
    password: PASSWORD,
    env: {
      JOBVISOR_TEMPLATES_DIR: templates,
      JOBVISOR_TEMPLATES_WATCH: 'false',
      JOBVISOR_SLOTS_PARALLEL: String(USERS * RUNS_PER_USER),
      JOBVISOR_QUOTAS: JSON.stringify({ user: { eventStreams: STREAMS_PER_USER + 1, activeRuns: RUNS_PER_USER * 2 } }),
      JOBVISOR_EVENTS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
      // For profiling: JOBVISOR_BENCH_CPU_PROF=<folder> writes .cpuprofile files of the server and the supervisor there (at their exit).
      ...(process.env.JOBVISOR_BENCH_CPU_PROF ? profilingEnv(process.env.JOBVISOR_BENCH_CPU_PROF) : {}),
    },
  });
  let clients: ClientsGroup | undefined;
  try {
    await jv.startSupervisor();
    await jv.startServer();
    const base = jv.serverUrl;
    const admin = await login(base, 'admin', PASSWORD);
    const users: { user: string; token: string }[] = [];
    for (let u = 0; u < USERS; u++) {
      const username = `u${u}`;
      const r = await call(base, admin, 'POST', '/api/users', { username, password: `${username}-password` , role: 'user' });
      if (r.status !== 201) throw new Error(`create user ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      users.push({ user: username, token: await login(base, username, `${username}-password`) });
    }
    // A warm-up run per user starts its agent (and warms both processes) before the window; its printer needs no wait.
    writeFileSync(go, '');
    const warm = await Promise.all(users.map(async (u) => ({ token: u.token, jobId: await runJob(base, u.token, 'warm', 2) })));
    await awaitStatus(base, warm, 'completed', 60_000);
    unlinkSync(go);

    clients = new ClientsGroup(CLIENT_PROCESSES, root);
    const streams = users.flatMap((u) => Array.from({ length: STREAMS_PER_USER }, () => u));
    await clients.open(`${base}/api/events`, streams, slow ? { token: admin } : undefined);
    const jobs = await limited(
      USERS,
      users.flatMap((u, n) => Array.from({ length: RUNS_PER_USER }, (_, k) => async () => ({ user: u.user, token: u.token, jobId: await runJob(base, u.token, `r${k}`, lines, phase(n * RUNS_PER_USER + k)) }))),
    );
    // The window: from `go` (every run is up, its printer waiting) to the end of the last run.
    await awaitStatus(base, jobs, 'running', 120_000);
    await sleep(200);
    const serverPid = jv.server!.child.pid!;
    const supervisorPid = jv.supervisor!.child.pid!;
    const cpu0 = cpuSeconds(serverPid);
    const scpu0 = cpuSeconds(supervisorPid);
    const acpu0 = agentsCpuSeconds(root);
    const ccpu0 = clients.cpuSeconds();
    const t0 = performance.now();
    writeFileSync(go, '');
    await sleep((lines / HZ) * 1000);
    await awaitStatus(base, jobs, 'completed', 120_000);
    await sleep(500);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(serverPid) - cpu0) / seconds) * 100;
    const supervisorCpu = ((cpuSeconds(supervisorPid) - scpu0) / seconds) * 100;
    const agentsCpu = ((agentsCpuSeconds(root) - acpu0) / seconds) * 100;
    const clientsCpu = ((clients.cpuSeconds() - ccpu0) / seconds) * 100;
    const expect: Record<string, string[]> = {};
    for (const j of jobs) (expect[j.user] ??= []).push(j.jobId);
    const report = await clients.report(expect, lines);
    ctx.log(`jobvisor${slow ? ' (slow stream)' : ''}: ${JSON.stringify(report)} server CPU ${cpu.toFixed(1)} % supervisor ${supervisorCpu.toFixed(1)} % agents ${agentsCpu.toFixed(1)} % clients ${clientsCpu.toFixed(1)} % (of one core over ${seconds.toFixed(1)} s)`);
    return { report, cpu, rssMiB: peakRssMiB(serverPid), supervisorCpu, supervisorRssMiB: peakRssMiB(supervisorPid), agentsCpu, clientsCpu, seconds };
  } finally {
    await clients?.stop();
    await jv.stop();
    for (const pid of processesUnder(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- the floor ----------------------------------------------------------------------------

async function measureFloor(ctx: BenchContext, lines: number): Promise<Measured> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-sse-floor-'));
  const printer = path.join(root, 'print.pl');
  writeFileSync(printer, PRINTER);
  const floor = startNode(FLOOR);
  let clients: ClientsGroup | undefined;
  try {
    const port = Number((await floor.next('floor listening', 30_000)).split(' ')[1]);
    const users = Array.from({ length: USERS }, (_, u) => `u${u}`);
    clients = new ClientsGroup(CLIENT_PROCESSES, root);
    const streams = users.flatMap((user) => Array.from({ length: STREAMS_PER_USER }, () => ({ user, token: user })));
    await clients.open(`http://127.0.0.1:${port}/events`, streams);
    const runs = users.flatMap((user, n) => Array.from({ length: RUNS_PER_USER }, (_, k) => ({ user, jobId: `${user}-r${k}`, phase: phase(n * RUNS_PER_USER + k) })));
    floor.send(JSON.stringify({ runs, argv: ['perl', printer, String(lines), String(HZ)] }));
    // The window: from `go` (every printer spawned and waiting) to the end of the last one, as in jobvisor's.
    await floor.next('printers started', 60_000);
    await sleep(200);
    const pid = floor.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const ccpu0 = clients.cpuSeconds();
    const t0 = performance.now();
    writeFileSync(path.join(root, 'go'), '');
    await floor.next('printers done', (lines / HZ) * 1000 + 60_000);
    await sleep(500);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(pid) - cpu0) / seconds) * 100;
    const clientsCpu = ((clients.cpuSeconds() - ccpu0) / seconds) * 100;
    const expect: Record<string, string[]> = {};
    for (const r of runs) (expect[r.user] ??= []).push(r.jobId);
    const report = await clients.report(expect, lines);
    ctx.log(`floor: ${JSON.stringify(report)} CPU ${cpu.toFixed(1)} % clients ${clientsCpu.toFixed(1)} % (of one core over ${seconds.toFixed(1)} s)`);
    return { report, cpu, rssMiB: peakRssMiB(pid), clientsCpu, seconds };
  } finally {
    await clients?.stop();
    await floor.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- rows ---------------------------------------------------------------------------------

const ms = (v: number) => `${v.toFixed(1)} ms`;

function summary(runs: Measured[]) {
  const m = (f: (r: Measured) => number) => median(runs.map(f));
  return {
    p50: m((r) => r.report.p50),
    p99: m((r) => r.report.p99),
    cpu: m((r) => r.cpu),
    rss: m((r) => r.rssMiB),
    supervisorCpu: m((r) => r.supervisorCpu ?? NaN),
    supervisorRss: m((r) => r.supervisorRssMiB ?? NaN),
    agentsCpu: m((r) => r.agentsCpu ?? NaN),
    clientsCpu: m((r) => r.clientsCpu),
    mbPerStream: m((r) => r.report.bytes / r.report.streams / 1e6),
    lost: Math.max(...runs.map((r) => r.report.lost)),
    repeated: Math.max(...runs.map((r) => r.report.repeated)),
    expected: runs[0]?.report.expected ?? 0,
    ended: Math.max(...runs.map((r) => r.report.ended)),
  };
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const lines = ctx.quick ? 20 : 100;
  const jobvisor: Measured[] = [];
  const floor: Measured[] = [];
  for (let i = 0; i < ctx.repeats; i++) {
    ctx.log(`repeat ${i + 1} of ${ctx.repeats}: floor, then jobvisor (${USERS * STREAMS_PER_USER} streams, ${USERS * RUNS_PER_USER} runs x ${lines} lines at ${HZ} Hz)`);
    floor.push(await measureFloor(ctx, lines));
    jobvisor.push(await measureJobvisor(ctx, lines, false));
  }
  const f = summary(floor);
  const j = summary(jobvisor);
  const pass = j.lost === 0 && j.repeated === 0 && j.ended === 0 && j.p99 < P99_TARGET_MS;
  const rows: BenchRow[] = [
    {
      measure: `5. ${USERS * STREAMS_PER_USER} SSE clients (${USERS} users), ${USERS * RUNS_PER_USER} runs x ${HZ} Hz: printed -> seen`,
      peer: `bare node:http: p50 ${ms(f.p50)}, p99 ${ms(f.p99)}; CPU ${f.cpu.toFixed(0)} %, ${f.rss.toFixed(0)} MiB`,
      jobvisor: `p50 ${ms(j.p50)}, p99 ${ms(j.p99)}; server CPU ${j.cpu.toFixed(0)} %, ${j.rss.toFixed(0)} MiB`,
      ratio: `p99 ${ms(j.p99)}; lost ${j.lost} of ${j.expected}; CPU ${(j.cpu / f.cpu).toFixed(1)} x floor`,
      target: `none lost, p99 < ${P99_TARGET_MS} ms`,
      pass,
      note: `medians of ${ctx.repeats}; ${j.expected} line deliveries per run (${USERS * RUNS_PER_USER} runs x ${lines} lines x ${STREAMS_PER_USER} streams of the run's user), every one timed; repeated ${j.repeated}, streams ended early ${j.ended}; floor lost ${f.lost}; supervisor CPU ${j.supervisorCpu.toFixed(0)} %, ${j.supervisorRss.toFixed(0)} MiB; agents CPU ${j.agentsCpu.toFixed(0)} %; the clients processes: CPU ${j.clientsCpu.toFixed(0)} % (floor's ${f.clientsCpu.toFixed(0)} %), ${j.mbPerStream.toFixed(2)} MB per stream (floor's ${f.mbPerStream.toFixed(2)}); CPU is % of one core over the ${jobvisor[0]?.seconds.toFixed(0)} s window`,
    },
  ];
  const slowLines = Math.max(lines, SLOW_LINES);
  ctx.log(`slow stream: jobvisor once more, with one stream that never reads (${slowLines} lines a run)`);
  const s = await measureJobvisor(ctx, slowLines, true);
  const cut = s.report.slow?.cut === true;
  rows.push({
    measure: `5. same, plus one admin stream that never reads`,
    peer: `without it: p99 ${ms(j.p99)}`,
    jobvisor: `others p99 ${ms(s.report.p99)}, lost ${s.report.lost}; slow stream ${cut ? 'cut' : 'NOT cut'}`,
    ratio: `p99 ${ms(s.report.p99)}`,
    target: `slow stream cut, others none lost, p99 < ${P99_TARGET_MS} ms`,
    pass: cut && s.report.lost === 0 && s.report.repeated === 0 && s.report.ended === 0 && s.report.p99 < P99_TARGET_MS,
    note: `${slowLines} lines a run; the server cuts a stream past eventsMaxBufferedBytes = ${MAX_BUFFERED} (set for the bench) of its own backlog, which begins once the kernel's send buffer (up to 4 MB) is full; the slow stream (4 KiB receive buffer, never read until the end) got ${s.report.slow?.bytes ?? 0} bytes when it finally read; server CPU ${s.cpu.toFixed(0)} %`,
  });
  return rows;
}

export const ssePart: BenchPart = { name: 'sse', run };
