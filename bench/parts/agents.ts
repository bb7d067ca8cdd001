/**
 * Part `agents` (issue 13, target 6): 1,000 connected idle agents against a real supervisor.
 *
 * A second process (agents/clients.ts) opens 1,000 websockets at once as enrolled workers of a
 * `workers` target, through the real agent's connection code, with an enrollment token made by
 * the admin API; then they idle as real workers do: the supervisor pings each one every
 * heartbeat (10 s, the default), the agent's websocket answers with a pong, and each worker
 * sends its free resources every status interval (10 s, the default). Over steady windows
 * after all are connected, it reads the supervisor's CPU time (utime + stime, /proc/<pid>/stat)
 * and memory (VmRSS, VmHWM). The floor: the same 1,000 clients against a bare `ws` server that
 * pings them and parses their messages (agents/bareServer.ts). It also times the connect storm
 * (all 1,000 at once: every one must be accepted, none retried) and `GET /api/admin/workers`
 * with the 1,000 workers, checking that the admin API counts 1,000 connected.
 *
 * BENCH_AGENTS_CPU_PROF=<dir> profiles the supervisor (node --cpu-prof) while it runs;
 * BENCH_AGENTS_LIST_N=<n> asks for the workers list n times instead of 10 (to profile it).
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, percentile, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { cpuSeconds, memoryMb, startNode, type NodeProc } from './agents/proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIST = path.join(ROOT, 'dist');
const CLI = path.join(DIST, 'src', 'cli.js');
const CLIENTS = path.join(DIST, 'bench', 'parts', 'agents', 'clients.js');
const BARE = path.join(DIST, 'bench', 'parts', 'agents', 'bareServer.js');
const ADMIN_PASSWORD = 'bench-admin-password';
/** The real intervals: the supervisor's heartbeat (heartbeatMs) and a worker's status interval (--status-ms). */
const HEARTBEAT_MS = 10_000;
const STATUS_MS = 10_000;

interface Plan {
  count: number;
  windowMs: number;
  windows: number;
  settleMs: number;
}

/** What one side (the floor or jobvisor) measured. */
interface Side {
  stormMs: number;
  stormCpuSeconds: number;
  /** Connections opened in all (more than `count`: some were retried) and closed during the run. */
  opened: number;
  closed: number;
  refused: number;
  cpuPercent: number[];
  rss: number;
  peak: number;
}

interface Status {
  event: string;
  open: number;
  opened: number;
  closed: number;
  refused: number;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const agentsPart: BenchPart = {
  name: 'agents',
  run: async (ctx) => {
    const plan: Plan = ctx.quick ? { count: 200, windowMs: 10_000, windows: 1, settleMs: 3000 } : { count: 1000, windowMs: 30_000, windows: ctx.repeats, settleMs: 12_000 };
    const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-agents-'));
    try {
      ctx.log(`bare ws server, ${plan.count} clients`);
      const bare = await measureBare(root, plan, ctx);
      ctx.log(`jobvisor, ${plan.count} enrolled workers`);
      const jv = await measureJobvisor(root, plan, ctx);
      return rows(plan, bare, jv.side, jv.list);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};

/** The clients against a server at `url`, through the connect storm and the steady windows; `pid` is the server measured. */
async function measureSide(root: string, url: string, token: string, pid: number, plan: Plan, ctx: BenchContext, whileConnected?: () => Promise<void>): Promise<Side> {
  const tokenFile = path.join(root, `token-${pid}`);
  writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  const cpu0 = cpuSeconds(pid);
  const clients = startNode([CLIENTS, '--url', url, '--token-file', tokenFile, '--count', String(plan.count), '--status-ms', String(STATUS_MS)], { PATH: process.env.PATH }, 'bench clients');
  let last: Status | undefined;
  const track = (l: Record<string, unknown>) => {
    if (l.event === 'status') last = l as unknown as Status;
    return false;
  };
  void clients.waitLine(track, 24 * 3600_000, 'end').catch(() => undefined);
  try {
    const allOpen = await clients.waitLine((l) => l.event === 'all-open', 120_000, `all ${plan.count} connections open`);
    const stormCpuSeconds = cpuSeconds(pid) - cpu0;
    await whileConnected?.();
    await sleep(plan.settleMs);
    const cpuPercent: number[] = [];
    for (let i = 0; i < plan.windows; i++) {
      const c0 = cpuSeconds(pid);
      const t0 = performance.now();
      await sleep(plan.windowMs);
      cpuPercent.push(((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100);
      ctx.log(`  window ${i + 1}: ${cpuPercent.at(-1)!.toFixed(2)} % of one core`);
    }
    const mem = memoryMb(pid);
    await sleep(1100);
    const s = last ?? { open: 0, opened: 0, closed: 0, refused: 0 };
    if (s.open !== plan.count) throw new Error(`only ${s.open} of ${plan.count} connections are open at the end (${s.closed} closed)`);
    return { stormMs: Number(allOpen.ms), stormCpuSeconds, opened: s.opened, closed: s.closed, refused: s.refused, cpuPercent, rss: mem.rss, peak: mem.peak };
  } finally {
    await clients.stop();
  }
}

async function measureBare(root: string, plan: Plan, ctx: BenchContext): Promise<Side> {
  const server = startNode([BARE, '--heartbeat-ms', String(HEARTBEAT_MS)], { PATH: process.env.PATH }, 'bare server');
  try {
    const url = String((await server.waitLine((l) => l.msg === 'bare server listening', 30_000, 'listening')).url);
    return await measureSide(root, url, 'bare-token', server.pid, plan, ctx);
  } finally {
    await server.stop();
  }
}

interface ListFigures {
  listed: number;
  connected: number;
  stale: number;
  enrolledConnected: number;
  p50: number;
  max: number;
  /** The same request asked of the supervisor directly. */
  directP50: number;
  bytes: number;
}

async function measureJobvisor(root: string, plan: Plan, ctx: BenchContext): Promise<{ side: Side; list: ListFigures }> {
  const dataDir = path.join(root, 'data');
  const templatesDir = path.join(root, 'templates');
  mkdirSync(dataDir);
  // The shared secret, so that the bench also asks the supervisor directly (the floor of the list row).
  const secret = randomBytes(24).toString('hex');
  cpSync(path.join(ROOT, 'templates'), templatesDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    JOBVISOR_DATA_DIR: dataDir,
    JOBVISOR_TEMPLATES_DIR: templatesDir,
    JOBVISOR_ADMIN_PASSWORD: ADMIN_PASSWORD,
    JOBVISOR_SECRET: secret,
    JOBVISOR_LOG_LEVEL: 'info',
    JOBVISOR_SUPERVISOR_PORT: '0',
    JOBVISOR_SERVER_PORT: '0',
    JOBVISOR_HEARTBEAT_MS: String(HEARTBEAT_MS),
    JOBVISOR_TARGETS: JSON.stringify([{ name: 'local', driver: 'local' }, { name: 'lab', driver: 'workers', title: 'Bench workers' }]),
  };
  const prof = process.env.BENCH_AGENTS_CPU_PROF;
  // (Node 20 refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.)
  const supervisor = startNode([...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), CLI, 'supervisor'], env, 'supervisor');
  let server: NodeProc | undefined;
  try {
    const supervisorUrl = String((await supervisor.waitLine((l) => l.msg === 'supervisor listening', 60_000, 'supervisor listening')).url);
    server = startNode([CLI, 'server'], { ...env, JOBVISOR_SUPERVISOR_URL: supervisorUrl }, 'server');
    const serverUrl = String((await server.waitLine((l) => l.msg === 'server listening', 60_000, 'server listening')).url);
    const api = await adminApi(serverUrl);
    const made = await api('POST', '/api/admin/enrollments', { name: 'bench', labels: { os: '*' } });
    if (made.status !== 201) throw new Error(`enrollment: ${made.status} ${made.text}`);
    const { token, enrollment } = made.json as { token: string; enrollment: { id: string } };
    let list: ListFigures | undefined;
    const side = await measureSide(root, supervisorUrl.replace(/^http/, 'ws'), token, supervisor.pid, plan, ctx, async () => {
      list = await measureList(api, enrollment.id, plan.count, ctx, direct(supervisorUrl, secret));
    });
    return { side, list: list! };
  } finally {
    await server?.stop();
    await supervisor.stop();
  }
}

/** GET of the supervisor's own route, as the server forwards it (the shared secret, an admin caller). */
function direct(supervisorUrl: string, secret: string): (route: string) => Promise<number> {
  return async (route) => {
    const t0 = performance.now();
    const res = await fetch(supervisorUrl + route, { headers: { authorization: `Bearer ${secret}`, 'x-jobvisor-user': 'admin', 'x-jobvisor-role': 'admin' } });
    await res.text();
    if (res.status !== 200) throw new Error(`supervisor GET ${route}: ${res.status}`);
    return performance.now() - t0;
  };
}

type Api = (method: string, route: string, body?: unknown) => Promise<{ status: number; text: string; json: unknown; ms: number }>;

async function adminApi(serverUrl: string): Promise<Api> {
  const call = async (method: string, route: string, body: unknown, token?: string) => {
    const t0 = performance.now();
    const res = await fetch(serverUrl + route, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, ms };
  };
  const login = await call('POST', '/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  const token = (login.json as { token: string }).token;
  return (method, route, body) => call(method, route, body, token);
}

/** Waits until the admin API counts every worker connected, then times GET /api/admin/workers. */
async function measureList(api: Api, enrollmentId: string, count: number, ctx: BenchContext, supervisor: (route: string) => Promise<number>): Promise<ListFigures> {
  const deadline = Date.now() + 60_000;
  let enrolledConnected = 0;
  for (;;) {
    const r = await api('GET', '/api/admin/enrollments');
    const e = (r.json as { enrollments: { id: string; connectedWorkers: number }[] }).enrollments.find((x) => x.id === enrollmentId);
    enrolledConnected = e?.connectedWorkers ?? 0;
    if (enrolledConnected === count || Date.now() > deadline) break;
    await sleep(250);
  }
  const times: number[] = [];
  const directTimes: number[] = [];
  let last: { workers: { connected: boolean; stale: boolean }[] } = { workers: [] };
  let bytes = 0;
  for (let i = 0; i < Number(process.env.BENCH_AGENTS_LIST_N ?? 10); i++) {
    const r = await api('GET', '/api/admin/workers');
    if (r.status !== 200) throw new Error(`GET /api/admin/workers: ${r.status} ${r.text.slice(0, 200)}`);
    times.push(r.ms);
    last = r.json as typeof last;
    bytes = Buffer.byteLength(r.text);
    directTimes.push(await supervisor('/admin/workers'));
  }
  ctx.log(`  admin API: ${enrolledConnected} connected; GET /api/admin/workers p50 ${median(times).toFixed(1)} ms`);
  return {
    listed: last.workers.length,
    connected: last.workers.filter((w) => w.connected).length,
    stale: last.workers.filter((w) => w.stale).length,
    enrolledConnected,
    p50: median(times),
    max: percentile(times, 100),
    directP50: median(directTimes),
    bytes,
  };
}

const pct = (n: number) => `${n.toFixed(2)} %`;
const mb = (n: number) => `${n.toFixed(0)} MB`;

function rows(plan: Plan, bare: Side, jv: Side, list: ListFigures): BenchRow[] {
  const n = plan.count.toLocaleString('en');
  const cpu = median(jv.cpuPercent);
  const bareCpu = median(bare.cpuPercent);
  const windows = `median of ${plan.windows} window${plan.windows > 1 ? 's' : ''} of ${plan.windowMs / 1000} s (${jv.cpuPercent.map((c) => c.toFixed(2)).join(', ')} %; bare ${bare.cpuPercent.map((c) => c.toFixed(2)).join(', ')} %)`;
  const retried = (s: Side) => s.opened - plan.count;
  const stormOk = jv.opened === plan.count && jv.refused === 0 && jv.closed === 0;
  const listOk = list.listed === plan.count && list.connected === plan.count && list.enrolledConnected === plan.count && list.stale === 0;
  return [
    {
      measure: `6. ${n} idle agents: supervisor CPU`,
      peer: `bare ws ${pct(bareCpu)}`,
      jobvisor: `${pct(cpu)} of one core`,
      ratio: `${pct(cpu)} (${(cpu / bareCpu).toFixed(1)} x bare)`,
      target: '< 5 % of one core',
      pass: cpu < 5,
      note: `${windows}; heartbeat ${HEARTBEAT_MS / 1000} s, resources every ${STATUS_MS / 1000} s per worker`,
    },
    {
      measure: `6. ${n} idle agents: supervisor memory`,
      peer: `bare ws RSS ${mb(bare.rss)}, peak ${mb(bare.peak)}`,
      jobvisor: `RSS ${mb(jv.rss)}, peak ${mb(jv.peak)}`,
      ratio: mb(Math.max(jv.rss, jv.peak)),
      target: '< 300 MB',
      pass: Math.max(jv.rss, jv.peak) < 300,
      note: 'peak = VmHWM, the connect storm included',
    },
    {
      measure: `6. connect storm: ${n} agents at once`,
      peer: `bare ws: all open in ${(bare.stormMs / 1000).toFixed(2)} s, ${bare.stormCpuSeconds.toFixed(2)} s CPU`,
      jobvisor: `all open in ${(jv.stormMs / 1000).toFixed(2)} s, ${jv.stormCpuSeconds.toFixed(2)} s CPU`,
      ratio: `${retried(jv)} retried, ${jv.refused} refused, ${jv.closed} dropped`,
      target: 'every one accepted at once',
      pass: stormOk,
      note: `storm time = from the client process start to all ${n} open; bare: ${retried(bare)} retried`,
    },
    {
      measure: `6. GET /api/admin/workers, ${n} workers`,
      peer: `supervisor directly: p50 ${list.directP50.toFixed(1)} ms`,
      jobvisor: `p50 ${list.p50.toFixed(1)} ms, max ${list.max.toFixed(1)} ms, ${(list.bytes / 1024).toFixed(0)} KB`,
      ratio: `${list.connected}/${list.listed} connected (enrollment: ${list.enrolledConnected})`,
      target: `${n} listed and connected, p50 < 150 ms`,
      pass: listOk && list.p50 < 150,
      note: `10 requests through the server, each followed by the same asked of the supervisor; ${list.stale} shown stale`,
    },
  ];
}
