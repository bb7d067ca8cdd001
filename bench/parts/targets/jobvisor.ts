/**
 * A real jobvisor for the bench parts of targets (docker.ts, cluster.ts): the supervisor and the
 * server as separate processes from dist/, on ephemeral ports, with a fresh data folder and
 * templates, logging at `info`; and a small HTTP client. `stop()` ends both, every process left
 * under its folder (agents, cmds), and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JobView } from '../../../src/shared/api.js';
import { processesUnder } from '../../../test/helpers/jobvisor.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const ADMIN_PASSWORD = 'admin-password-for-the-bench';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  async request<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T };
  }

  async run(body: Record<string, unknown>): Promise<JobView> {
    const r = await this.request<{ job: JobView }>('POST', '/api/jobs', body);
    if (r.status !== 200) throw new Error(`run: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.job;
  }

  async job(jobId: string): Promise<JobView> {
    const r = await this.request<{ job: JobView }>('GET', `/api/jobs/${jobId}`);
    if (r.status !== 200) throw new Error(`GET job ${jobId}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.job;
  }

  /** Asks for the job every `everyMs` until `pred` holds (as a client polling would see it). */
  async waitJob(jobId: string, pred: (j: JobView) => boolean, timeoutMs: number, everyMs = 20): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await this.job(jobId);
      if (pred(j)) return j;
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${j.status} after ${timeoutMs} ms: ${j.waitingFor ?? ''}`);
      await sleep(everyMs);
    }
  }
}

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  output: string[];
}

function startProcess(command: 'server' | 'supervisor', env: NodeJS.ProcessEnv, listening: string): Proc {
  const child = spawn(process.execPath, [CLI, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const url = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (output.length > 500) output.shift();
      if (line.includes(listening)) {
        try {
          resolve((JSON.parse(line) as { url: string }).url);
        } catch {
          /* not that line */
        }
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening:\n${output.slice(-30).join('\n')}`)));
  });
  url.catch(() => undefined);
  return { child, url, output };
}

async function stopProcess(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(t);
}


export class BenchJobvisor {
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-'));
  supervisor?: Proc;
  server?: Proc;
  serverUrl = '';

  constructor(private readonly extraEnv: Record<string, string>) {
    cpSync(path.join(ROOT, 'templates'), path.join(this.root, 'templates'), { recursive: true });
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JOBVISOR_DATA_DIR: path.join(this.root, 'data'),
      JOBVISOR_TEMPLATES_DIR: path.join(this.root, 'templates'),
      JOBVISOR_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // BENCH_LOG_LEVEL=debug for a look at what the supervisor and its agents did.
      JOBVISOR_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      JOBVISOR_SERVER_PORT: '0',
      JOBVISOR_SUPERVISOR_PORT: '0',
      JOBVISOR_AGENT_START_TIMEOUT_MS: '60000',
      ...this.extraEnv,
      ...extra,
    };
  }

  async start(): Promise<this> {
    this.supervisor = startProcess('supervisor', this.env({}), 'supervisor listening');
    const supervisorUrl = await this.supervisor.url;
    this.server = startProcess('server', this.env({ JOBVISOR_SUPERVISOR_URL: supervisorUrl }), 'server listening');
    this.serverUrl = await this.server.url;
    return this;
  }

  /** Logs in as the admin, creates `username` and logs in as them. */
  async user(username: string): Promise<Client> {
    const login = async (name: string, password: string) => {
      const r = await new Client(this.serverUrl).request<{ token: string }>('POST', '/api/auth/login', { username: name, password });
      if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return new Client(this.serverUrl, r.body.token);
    };
    const admin = await login('admin', ADMIN_PASSWORD);
    const made = await admin.request('POST', '/api/users', { username, password: `${username}-password`, role: 'user' });
    if (made.status !== 201) throw new Error(`create user ${username}: ${made.status} ${JSON.stringify(made.body)}`);
    return login(username, `${username}-password`);
  }

  logs(): string {
    return [...(this.supervisor?.output ?? []), ...(this.server?.output ?? [])].join('\n');
  }

  async stop(): Promise<void> {
    await stopProcess(this.server);
    await stopProcess(this.supervisor);
    for (let i = 0; i < 50 && processesUnder(this.root).length > 0; i++) {
      for (const pid of processesUnder(this.root)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(100);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
