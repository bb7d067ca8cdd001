/**
 * jobvisor as the throughput part runs it: the supervisor and the server (dist/src/cli.js) in a
 * fresh temporary folder with a templates folder of one template, `true` (its command is
 * `/bin/true`), 2 CPU slots on the local target, logs at info; an admin client (keep-alive
 * undici Pool) and one follower of /api/events that hands each job's `completed` to its waiter.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { JobEvent } from '../../../src/shared/api.js';
import { SseParser } from '../../../src/shared/sse.js';
import { stopChild, waitForLine } from './procs.js';
import { processesUnder } from '../../../test/helpers/jobvisor.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const PASSWORD = 'bench-admin-password';
const TERMINAL = new Set(['completed', 'error', 'canceled', 'missing', 'purged']);

/** The bench's one template: a run of `/bin/true`, no parameters, no progress, no results. */
export const TRUE_TEMPLATE = {
  name: 'true',
  title: 'Do nothing (/bin/true)',
  description: 'Runs /bin/true, which exits at once with code 0: the cheapest run there is, to measure what jobvisor itself costs per run.',
  parameters: {},
  command: ['/bin/true'],
  sizes: ['sequential', 'parallel'],
  resources: { cores: 1 },
  timeLimitSeconds: 60,
  progress: { kind: 'none' },
  results: [],
};


export interface Jv {
  submit(jobKey: string): Promise<string>;
  /** POST /api/jobs/batch of `n` runs; resolves with their job ids. */
  submitBatch(prefix: string, n: number): Promise<string[]>;
  /** Resolves with the job's terminal status when its event comes (or came). */
  completion(jobId: string): Promise<string>;
  /** Job events seen on /api/events per job id. */
  eventsOf(jobId: string): number;
  /** Hears every job event with the time it came (performance.now()): for looking into a run's steps. */
  trace(fn: (e: Extract<JobEvent, { type: 'job' }>, at: number) => void): void;
  supervisorPid: number;
  serverPid: number;
  stop(): Promise<void>;
}

export async function startJobvisor(env: Record<string, string> = {}): Promise<Jv> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-throughput-'));
  const templates = path.join(root, 'templates');
  mkdirSync(path.join(templates, 'true'), { recursive: true });
  writeFileSync(path.join(templates, 'true', 'template.json'), JSON.stringify(TRUE_TEMPLATE, null, 2));
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    JOBVISOR_DATA_DIR: path.join(root, 'data'),
    JOBVISOR_TEMPLATES_DIR: templates,
    JOBVISOR_ADMIN_PASSWORD: PASSWORD,
    JOBVISOR_LOG_LEVEL: 'info',
    JOBVISOR_SERVER_HOST: '127.0.0.1',
    JOBVISOR_SERVER_PORT: '0',
    JOBVISOR_SUPERVISOR_HOST: '127.0.0.1',
    JOBVISOR_SUPERVISOR_PORT: '0',
    JOBVISOR_SLOTS_PARALLEL: '2',
    JOBVISOR_SLOTS_SEQUENTIAL: '2',
    // The agents' node options (for profiling them), through the local driver's JOBVISOR_AGENT_NODE_ARGS.
    ...(process.env.BENCH_AGENT_NODE_ARGS ? { JOBVISOR_AGENT_NODE_ARGS: process.env.BENCH_AGENT_NODE_ARGS } : {}),
    ...env,
  };
  // Node options for profiling (`--cpu-prof --cpu-prof-dir=DIR`; not allowed in NODE_OPTIONS).
  const nodeArgs = (name: string) => (process.env[name] ?? '').split(' ').filter(Boolean);
  const supervisor = spawn(process.execPath, [...nodeArgs('BENCH_SUPERVISOR_NODE_ARGS'), CLI, 'supervisor'], { cwd: root, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let server: ReturnType<typeof spawn> | undefined;
  let pool: Pool | undefined;
  const abort = new AbortController();
  const stop = async () => {
    abort.abort();
    await pool?.close().catch(() => undefined);
    if (server) await stopChild(server, 8000);
    await stopChild(supervisor, 10_000);
    for (let i = 0; i < 50 && processesUnder(root).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (const pid of processesUnder(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const supLine = await waitForLine(supervisor, (l) => l.includes('"supervisor listening"'), 30_000, 'supervisor listening');
    const supervisorUrl = (JSON.parse(supLine) as { url: string }).url;
    const srvEnv = { ...baseEnv, JOBVISOR_SUPERVISOR_URL: supervisorUrl };
    server = spawn(process.execPath, [...nodeArgs('BENCH_SERVER_NODE_ARGS'), CLI, 'server'], { cwd: root, env: srvEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const srvLine = await waitForLine(server, (l) => l.includes('"server listening"'), 30_000, 'server listening');
    const serverUrl = (JSON.parse(srvLine) as { url: string }).url;
    pool = new Pool(serverUrl, { connections: 16, pipelining: 1 });
    const p = pool;
    const call = async <T>(method: 'GET' | 'POST', route: string, body?: unknown, token?: string): Promise<T> => {
      const res = await p.request({
        method,
        path: route,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`${method} ${route} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    };
    const { token } = await call<{ token: string }>('POST', '/api/auth/login', { username: 'admin', password: PASSWORD });

    let tracer: ((e: Extract<JobEvent, { type: 'job' }>, at: number) => void) | undefined;
    const waiting = new Map<string, (status: string) => void>();
    const ended = new Map<string, string>();
    const counts = new Map<string, number>();
    let hello!: () => void;
    const helloSeen = new Promise<void>((r) => (hello = r));
    const res = await fetch(serverUrl + '/api/events', { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`GET /api/events answered ${res.status}`);
    const parser = new SseParser((m) => {
      if (m.event === 'hello') hello();
      if (m.event !== 'job') return;
      const e = JSON.parse(m.data) as JobEvent;
      if (e.type !== 'job') return;
      const id = e.job.jobId;
      tracer?.(e, performance.now());
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (!TERMINAL.has(e.job.status)) return;
      const w = waiting.get(id);
      if (w) {
        waiting.delete(id);
        w(e.job.status);
      } else ended.set(id, e.job.status);
    });
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
      } catch {
        /* aborted at stop */
      }
    })();
    await Promise.race([helloSeen, new Promise((_, reject) => setTimeout(() => reject(new Error('no hello on /api/events within 10 s')), 10_000))]);

    return {
      trace: (fn) => (tracer = fn),
      submit: async (jobKey) => (await call<{ job: { jobId: string } }>('POST', '/api/jobs', { template: 'true', size: 'parallel', jobKey }, token)).job.jobId,
      submitBatch: async (prefix, n) => {
        const runs = Array.from({ length: n }, (_, i) => ({ template: 'true', size: 'parallel', jobKey: `${prefix}-${i}` }));
        return (await call<{ jobs: { jobId: string }[] }>('POST', '/api/jobs/batch', { runs }, token)).jobs.map((j) => j.jobId);
      },
      completion: (jobId) => {
        const done = ended.get(jobId);
        if (done !== undefined) {
          ended.delete(jobId);
          return Promise.resolve(done);
        }
        return new Promise((resolve) => waiting.set(jobId, resolve));
      },
      eventsOf: (jobId) => counts.get(jobId) ?? 0,
      supervisorPid: supervisor.pid as number,
      serverPid: server.pid as number,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
