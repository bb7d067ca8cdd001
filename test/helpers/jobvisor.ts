/**
 * Starts a real jobvisor for a test: the supervisor and the server as separate processes
 * (built code in dist/), on ephemeral ports, with a fresh data folder; and talks to it over
 * real HTTP. `stop()` ends everything it started, agents and cmds included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JobView } from '../../src/shared/api.js';
import { openApiProblem } from './openapiCheck.js';
import { waitFor } from './wait.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.baseUrl + path, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    // Every answer of a route of the API is checked against the OpenAPI document (helpers/openapiCheck.ts).
    const problem = openApiProblem(method, path, res.status, res.headers.get('content-type'), text, parsed);
    if (problem) throw new Error(problem);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }

  async job(jobId: string): Promise<JobView> {
    const r = await this.get<{ job: JobView }>(`/api/jobs/${jobId}`);
    if (r.status !== 200) throw new Error(`GET job ${jobId}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.job;
  }

  async run(body: Record<string, unknown>): Promise<JobView> {
    const r = await this.post<{ job: JobView }>('/api/jobs', body);
    if (r.status !== 200) throw new Error(`run: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.job;
  }

  /** Polls the job until `pred` holds; returns the job then. */
  async waitJob(jobId: string, pred: (j: JobView) => boolean, timeoutMs = 30_000, what = 'job condition'): Promise<JobView> {
    let last: JobView | undefined;
    await waitFor(async () => pred((last = await this.job(jobId))), { timeoutMs, what: () => `${what} (last: ${JSON.stringify(last)})` });
    return last as JobView;
  }
}

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  output: string[];
}

function startProcess(command: 'server' | 'supervisor', env: NodeJS.ProcessEnv, listeningMsg: string): Proc {
  const child = spawn(process.execPath, [CLI, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const url = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (output.length > 2000) output.shift();
      if (line.includes(listeningMsg)) {
        try {
          resolve((JSON.parse(line) as { url: string }).url);
        } catch {
          /* not the line */
        }
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening:\n${output.join('\n')}`)));
  });
  url.catch(() => undefined);
  return { child, url, output };
}

async function stopProcess(p: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(t);
}

/** Every process whose working folder is inside `dir` (agents and their cmds). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + '/')) out.push(Number(entry));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Extra templates (folders with template.json) copied next to the examples. */
  extraTemplates?: string;
}

export class Jobvisor {
  supervisor?: Proc;
  server?: Proc;
  supervisorUrl = '';
  serverUrl = '';
  readonly dataDir: string;
  readonly templatesDir: string;
  private readonly root: string;

  constructor(private readonly opts: StartOptions = {}) {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-test-'));
    this.dataDir = path.join(this.root, 'data');
    this.templatesDir = path.join(this.root, 'templates');
    cpSync(path.join(ROOT, 'templates'), this.templatesDir, { recursive: true });
    if (opts.extraTemplates) cpSync(opts.extraTemplates, this.templatesDir, { recursive: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JOBVISOR_DATA_DIR: this.dataDir,
      JOBVISOR_TEMPLATES_DIR: this.templatesDir,
      JOBVISOR_ADMIN_PASSWORD: ADMIN_PASSWORD,
      JOBVISOR_LOG_LEVEL: 'debug',
      JOBVISOR_SERVER_PORT: '0',
      JOBVISOR_SUPERVISOR_PORT: '0',
      // Two test files at once on 2 cores, with clusters and containers: a cluster agent was
      // seen to take longer than the 20 s default to connect. Tests of the timeout set their own.
      JOBVISOR_AGENT_START_TIMEOUT_MS: '60000',
      ...this.opts.env,
      ...extra,
    };
  }

  async start(): Promise<this> {
    await this.startSupervisor();
    await this.startServer();
    return this;
  }

  /** Starts the server; a restart keeps the port its clients know. */
  async startServer(): Promise<void> {
    const port = this.serverUrl ? new URL(this.serverUrl).port : '0';
    this.server = startProcess('server', this.env({ JOBVISOR_SUPERVISOR_URL: this.supervisorUrl, JOBVISOR_SERVER_PORT: port }), 'server listening');
    this.serverUrl = await this.server.url;
  }

  async stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopProcess(this.server, signal);
  }

  /** Starts the supervisor (`extra`: settings changed for this start, e.g. a changed configuration); a restart keeps the port the server knows. */
  async startSupervisor(extra: Record<string, string> = {}): Promise<void> {
    const port = this.supervisorUrl ? new URL(this.supervisorUrl).port : '0';
    this.supervisor = startProcess('supervisor', this.env({ ...extra, JOBVISOR_SUPERVISOR_PORT: port }), 'supervisor listening');
    this.supervisorUrl = await this.supervisor.url;
  }

  /** Stops the supervisor: SIGTERM (then SIGKILL after 8 s), or at once with SIGKILL. */
  async stopSupervisor(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopProcess(this.supervisor, signal);
  }

  logs(): string {
    return [...(this.supervisor?.output ?? []), ...(this.server?.output ?? [])].join('\n');
  }

  async login(username = 'admin', password = ADMIN_PASSWORD): Promise<Client> {
    const r = await new Client(this.serverUrl).post<{ token: string }>('/api/auth/login', { username, password });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    return new Client(this.serverUrl, r.body.token);
  }

  async addUser(admin: Client, username: string, password = `${username}-password`): Promise<Client> {
    const r = await admin.post('/api/users', { username, password, role: 'user' });
    if (r.status !== 201) throw new Error(`create user: ${r.status} ${JSON.stringify(r.body)}`);
    return this.login(username, password);
  }

  async stop(): Promise<void> {
    await stopProcess(this.server);
    await stopProcess(this.supervisor);
    for (const pid of processesUnder(this.root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor(() => processesUnder(this.root).length === 0, { timeoutMs: 5000, what: 'test processes to end' }).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}

export async function startJobvisor(opts: StartOptions = {}): Promise<Jobvisor> {
  const jv = new Jobvisor(opts);
  try {
    return await jv.start();
  } catch (err) {
    await jv.stop();
    throw err;
  }
}
