/**
 * The jobvisor a soak runs: the supervisor and the server as separate processes of the built
 * code (dist/), each restartable on its own port, their output appended to files in the soak's
 * folder; and an HTTP client that logs in again when a restarted server forgot its token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function findPackageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    const pkg = path.join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'jobvisor') return d;
    if (path.dirname(d) === d) throw new Error(`no jobvisor package.json above ${dir}`);
  }
}

export const ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

/** One supervisor or server process. */
class Proc {
  readonly exited: Promise<void>;
  readonly url: Promise<string>;

  constructor(readonly child: ChildProcess, out: WriteStream, listeningMsg: string) {
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.url = new Promise<string>((resolve, reject) => {
      const onLine = (line: string) => {
        out.write(line + '\n');
        if (!line.includes(listeningMsg)) return;
        try {
          resolve((JSON.parse(line) as { url: string }).url);
        } catch {
          /* not the line */
        }
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      void this.exited.then(() => reject(new Error(`${listeningMsg.split(' ')[0]} exited before listening`)));
    });
    this.url.catch(() => undefined);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export interface JobvisorOptions {
  dataDir: string;
  outDir: string;
  password: string;
  env: Record<string, string>;
}

export class SoakJobvisor {
  supervisor?: Proc;
  server?: Proc;
  supervisorPort = 0;
  serverPort = 0;
  private readonly supervisorLog: WriteStream;
  private readonly serverLog: WriteStream;

  constructor(private readonly o: JobvisorOptions) {
    this.supervisorLog = createWriteStream(path.join(o.outDir, 'supervisor.log'), { flags: 'a' });
    this.serverLog = createWriteStream(path.join(o.outDir, 'server.log'), { flags: 'a' });
  }

  get serverUrl(): string {
    return `http://127.0.0.1:${this.serverPort}`;
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JOBVISOR_')));
    return {
      ...inherited,
      JOBVISOR_DATA_DIR: this.o.dataDir,
      JOBVISOR_TEMPLATES_DIR: path.join(ROOT, 'templates'),
      JOBVISOR_ADMIN_PASSWORD: this.o.password,
      JOBVISOR_LOG_LEVEL: 'info',
      JOBVISOR_SUPERVISOR_HOST: '127.0.0.1',
      JOBVISOR_SERVER_HOST: '127.0.0.1',
      ...this.o.env,
      ...extra,
    };
  }

  /** Starts the supervisor; a restart keeps its port, which the server and the agents' proxy know. */
  async startSupervisor(): Promise<void> {
    this.supervisorLog.write(`---- soak: starting the supervisor ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, [CLI, 'supervisor'], { cwd: ROOT, env: this.env({ JOBVISOR_SUPERVISOR_PORT: String(this.supervisorPort) }), stdio: ['ignore', 'pipe', 'pipe'] });
    this.supervisor = new Proc(child, this.supervisorLog, 'supervisor listening');
    this.supervisorPort = Number(new URL(await withTimeout(this.supervisor.url, 60_000, 'supervisor listening')).port);
  }

  async startServer(): Promise<void> {
    this.serverLog.write(`---- soak: starting the server ${new Date().toISOString()}\n`);
    const env = this.env({ JOBVISOR_SERVER_PORT: String(this.serverPort), JOBVISOR_SUPERVISOR_URL: `http://127.0.0.1:${this.supervisorPort}` });
    const child = spawn(process.execPath, [CLI, 'server'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.server = new Proc(child, this.serverLog, 'server listening');
    this.serverPort = Number(new URL(await withTimeout(this.server.url, 60_000, 'server listening')).port);
  }

  /** Starts a process again after a crash, retrying while its port is not free yet. */
  async restart(which: 'supervisor' | 'server'): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await (which === 'supervisor' ? this.startSupervisor() : this.startServer());
      } catch (err) {
        if (attempt >= 10) throw err;
        await sleep(1000);
      }
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop(10_000);
    await this.supervisor?.stop(20_000);
    this.supervisorLog.end();
    this.serverLog.end();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no "${what}" within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** Status 0: no answer at all (connection refused or reset, timeout). */
export class Api {
  token = '';
  private relogin?: Promise<void>;

  constructor(
    private readonly base: () => string,
    private readonly password: string,
  ) {}

  async login(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.raw<{ token: string }>('POST', '/api/auth/login', { username: 'admin', password: this.password }, false);
      if (r.status === 200) {
        this.token = r.body.token;
        return;
      }
      if (attempt >= 60) throw new Error(`admin login: ${r.status} ${JSON.stringify(r.body)}`);
      await sleep(1000);
    }
  }

  /** One request; a 401 (a restarted server forgot its tokens) logs in again and retries once. */
  async call<T = unknown>(method: string, p: string, body?: unknown): Promise<Answer<T>> {
    const r = await this.raw<T>(method, p, body, true);
    if (r.status !== 401) return r;
    await (this.relogin ??= this.login().finally(() => (this.relogin = undefined)));
    return this.raw<T>(method, p, body, true);
  }

  private async raw<T>(method: string, p: string, body: unknown, auth: boolean): Promise<Answer<T>> {
    try {
      const res = await fetch(this.base() + p, {
        method,
        headers: { ...(auth && this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as T };
    } catch (err) {
      return { status: 0, body: { error: { code: 'NO_ANSWER', message: (err as Error).message } } as T };
    }
  }
}

/** The error code of an answer, if it has one. */
export function errorCode(a: Answer): string | undefined {
  return (a.body as { error?: { code?: string } } | null)?.error?.code;
}
