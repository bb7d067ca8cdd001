/**
 * Target 3 of issue 13: `GET /api/jobs/:jobId` through the server, 50 connections, against the
 * supervisor answering the same request directly, in the same run.
 *
 * Starts its own jobvisor (bench/parts/get/stack.ts), makes a user and one completed job of
 * theirs (the `sleep` template, 0 s), then per repeat runs autocannon (in this process; the
 * server and the supervisor are their own processes) for `duration` seconds each on:
 *   1. the supervisor directly: `GET /jobs/<id>` with the shared secret and the caller headers,
 *      as the server sends it (the peer);
 *   2. the server: `GET /api/jobs/<id>` with the user's login token (jobvisor);
 *   3. the server alone on a local route, `GET /api/auth/me` (for information).
 * The figures are the medians over the repeats of each run's req/s, p50 and p99; the CPU time
 * each process spent per request is read from /proc. Every answer must be a 2xx, and the
 * server's body must be the supervisor's, checked once before measuring.
 */
import autocannon from 'autocannon';
import { CALLER_ROLE_HEADER, CALLER_USER_HEADER } from '../../src/shared/api.js';
import { median, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { cpuMs, Stack } from './get/stack.js';

const CONNECTIONS = 50;
const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 15;
const USER = 'bench-get';
const USER_PASSWORD = 'bench-get-password';

interface Load {
  url: string;
  headers: Record<string, string>;
}

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  /** CPU ms per request of the server and of the supervisor during the run. */
  serverCpu: number;
  supervisorCpu: number;
  bad: number;
}

export const getPart: BenchPart = {
  name: 'get',
  run: async (ctx) => {
    const stack = new Stack({ serverNodeArgs: nodeArgs('BENCH_GET_SERVER_NODE_ARGS'), supervisorNodeArgs: nodeArgs('BENCH_GET_SUPERVISOR_NODE_ARGS') });
    try {
      await stack.start();
      return [await measure(ctx, stack)];
    } catch (err) {
      ctx.log(`logs:\n${stack.logs().split('\n').slice(-30).join('\n')}`);
      throw err;
    } finally {
      await stack.stop();
    }
  },
};

/** Node arguments for one of the processes from the environment, to profile it: BENCH_GET_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
function nodeArgs(variable: string): string[] {
  return (process.env[variable] ?? '').split(/\s+/).filter(Boolean);
}

async function measure(ctx: BenchContext, stack: Stack): Promise<BenchRow> {
  const token = await userToken(stack);
  const jobId = await completedJob(stack, token);
  const direct: Load = {
    url: `${stack.supervisorUrl}/jobs/${jobId}`,
    headers: { authorization: `Bearer ${stack.secret}`, accept: 'application/json', [CALLER_USER_HEADER]: USER, [CALLER_ROLE_HEADER]: 'user' },
  };
  const proxied: Load = { url: `${stack.serverUrl}/api/jobs/${jobId}`, headers: { authorization: `Bearer ${token}` } };
  const local: Load = { url: `${stack.serverUrl}/api/auth/me`, headers: { authorization: `Bearer ${token}` } };
  await sameAnswer(direct, proxied);

  const seconds = ctx.quick ? 2 : 5;
  for (const load of [direct, proxied, local]) await run(stack, load, 1); // warm-up
  const runs = { direct: [] as Figures[], proxied: [] as Figures[], local: [] as Figures[] };
  for (let i = 0; i < ctx.repeats; i++) {
    runs.direct.push(await run(stack, direct, seconds));
    runs.proxied.push(await run(stack, proxied, seconds));
    runs.local.push(await run(stack, local, seconds));
    const last = (k: keyof typeof runs) => show(runs[k][i]!);
    ctx.log(`repeat ${i + 1}/${ctx.repeats}: supervisor ${last('direct')}; server ${last('proxied')}; /api/auth/me ${last('local')}`);
  }
  const d = summary(runs.direct);
  const p = summary(runs.proxied);
  const l = summary(runs.local);
  const ratio = p.rate / d.rate;
  const bad = [...runs.direct, ...runs.proxied, ...runs.local].reduce((n, f) => n + f.bad, 0);
  return {
    measure: `3. GET /api/jobs/:jobId, ${CONNECTIONS} connections`,
    peer: `supervisor direct ${rate(d.rate)}, p50 ${ms(d.p50)}, p99 ${ms(d.p99)}`,
    jobvisor: `server ${rate(p.rate)}, p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`,
    ratio: `${ratio.toFixed(2)} x; p99 ${ms(p.p99)}`,
    target: `>= ${TARGET_RATIO.toFixed(2)} x supervisor, p99 <= ${TARGET_P99_MS} ms`,
    pass: bad === 0 && ratio >= TARGET_RATIO && p.p99 <= TARGET_P99_MS,
    note:
      `medians of ${ctx.repeats} x ${seconds} s (autocannon in the bench process). ` +
      `Server alone (/api/auth/me): ${rate(l.rate)}, p50 ${ms(l.p50)}, p99 ${ms(l.p99)}. ` +
      `CPU per request: proxied GET server ${p.serverCpu.toFixed(3)} ms + supervisor ${p.supervisorCpu.toFixed(3)} ms; ` +
      `direct supervisor ${d.supervisorCpu.toFixed(3)} ms; /api/auth/me server ${l.serverCpu.toFixed(3)} ms` +
      (bad > 0 ? `. ${bad} answers were errors or not 2xx` : ''),
  };
}

async function run(stack: Stack, load: Load, seconds: number): Promise<Figures> {
  const before = { server: cpuMs(stack.serverPid), supervisor: cpuMs(stack.supervisorPid) };
  const result = await autocannon({ url: load.url, headers: load.headers, connections: CONNECTIONS, duration: seconds });
  const requests = result.requests.total;
  return {
    rate: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpu: (cpuMs(stack.serverPid) - before.server) / requests,
    supervisorCpu: (cpuMs(stack.supervisorPid) - before.supervisor) / requests,
    bad: result.errors + result.non2xx,
  };
}

function summary(runs: Figures[]): Figures {
  const m = (k: keyof Figures) => median(runs.map((f) => f[k]));
  return { rate: m('rate'), p50: m('p50'), p99: m('p99'), serverCpu: m('serverCpu'), supervisorCpu: m('supervisorCpu'), bad: 0 };
}

export async function userToken(stack: Stack): Promise<string> {
  const admin = await login(stack, 'admin', stack.adminPassword);
  await json(stack.serverUrl + '/api/users', 201, { method: 'POST', token: admin, body: { username: USER, password: USER_PASSWORD, role: 'user' } });
  return login(stack, USER, USER_PASSWORD);
}

async function login(stack: Stack, username: string, password: string): Promise<string> {
  const body = (await json(stack.serverUrl + '/api/auth/login', 200, { method: 'POST', body: { username, password } })) as { token: string };
  return body.token;
}

/** Runs one `sleep` job of 0 s and waits until it completed; its jobId. */
export async function completedJob(stack: Stack, token: string): Promise<string> {
  const run = (await json(stack.serverUrl + '/api/jobs', 200, { method: 'POST', token, body: { template: 'sleep', parameters: { seconds: 0, lines: 1 }, jobKey: 'bench-get' } })) as {
    job: { jobId: string };
  };
  const jobId = run.job.jobId;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { job } = (await json(`${stack.serverUrl}/api/jobs/${jobId}`, 200, { token })) as { job: { status: string } };
    if (job.status === 'completed') return jobId;
    if (!['pending', 'running'].includes(job.status)) throw new Error(`the bench job ended ${job.status}`);
    if (Date.now() > deadline) throw new Error('the bench job did not complete within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The server must answer what the supervisor answers: same status, same JSON. */
async function sameAnswer(direct: Load, proxied: Load): Promise<void> {
  const [a, b] = await Promise.all([direct, proxied].map(async (l) => (await fetch(l.url, { headers: l.headers })).text()));
  if (a !== b || a === undefined) throw new Error(`the server's answer differs from the supervisor's:\n${a}\n${b}`);
}

async function json(url: string, expected: number, init: { method?: string; token?: string; body?: unknown } = {}): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await res.text();
  if (res.status !== expected) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

const rate = (r: number) => (r >= 1000 ? `${(r / 1000).toFixed(1)} k req/s` : `${r.toFixed(0)} req/s`);
const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
const show = (f: Figures) => `${rate(f.rate)} p99 ${ms(f.p99)}`;
