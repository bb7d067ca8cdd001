/**
 * Starts a real jobvisor for the lists bench from the built code (dist/src/cli.js): the
 * supervisor and the server as their own processes, on ephemeral ports, with a fresh data
 * folder under the system's temp folder; `stop()` ends them and removes the folder.
 * (test/helpers/jobvisor.ts does the same for tests but finds its files from test/, not dist/.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository: this file is dist/bench/parts/lists/launch.js once built. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
export const ADMIN_PASSWORD = 'admin-password-for-bench';

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  /** Resolves when a line of the process's log contains `text` (or at once if one did). */
  line(text: string, timeoutMs: number): Promise<void>;
}

function startProcess(command: 'server' | 'supervisor', env: NodeJS.ProcessEnv, listening: string, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, CLI, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const waiters = new Set<{ text: string; resolve: () => void }>();
  const seen = new Set<string>();
  const url = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 50) tail.shift();
      for (const w of waiters) {
        if (!line.includes(w.text)) continue;
        seen.add(w.text);
        waiters.delete(w);
        w.resolve();
      }
      if (!line.includes(listening)) return;
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        /* not the line */
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening:\n${tail.join('\n')}`)));
  });
  url.catch(() => undefined);
  const line = (text: string, timeoutMs: number) =>
    seen.has(text)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${command}: no "${text}" in its log after ${timeoutMs} ms`)), timeoutMs);
          waiters.add({ text, resolve: () => (clearTimeout(t), resolve()) });
        });
  return { child, url, line };
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
  supervisor?: Proc;
  server?: Proc;
  supervisorUrl = '';
  serverUrl = '';
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-lists-'));
  readonly dataDir = path.join(this.root, 'data');

  /** `settings`: environment variables of both processes (JOBVISOR_TARGETS, ...). */
  constructor(private readonly settings: Record<string, string> = {}) {}

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JOBVISOR_DATA_DIR: this.dataDir,
      JOBVISOR_TEMPLATES_DIR: path.join(ROOT, 'templates'),
      JOBVISOR_TEMPLATES_WATCH: 'false',
      JOBVISOR_ADMIN_PASSWORD: ADMIN_PASSWORD,
      JOBVISOR_LOG_LEVEL: 'info',
      JOBVISOR_SERVER_PORT: '0',
      JOBVISOR_SUPERVISOR_PORT: '0',
      ...this.settings,
      ...extra,
    };
  }

  /** Starts the supervisor (`nodeArgs`: e.g. --cpu-prof for a profile); a restart keeps the port the server knows. */
  async startSupervisor(nodeArgs: string[] = []): Promise<void> {
    const port = this.supervisorUrl ? new URL(this.supervisorUrl).port : '0';
    this.supervisor = startProcess('supervisor', this.env({ JOBVISOR_SUPERVISOR_PORT: port }), 'supervisor listening', nodeArgs);
    this.supervisorUrl = await this.supervisor.url;
  }

  async stopSupervisor(): Promise<void> {
    await stopProcess(this.supervisor);
  }

  async startServer(): Promise<void> {
    this.server = startProcess('server', this.env({ JOBVISOR_SUPERVISOR_URL: this.supervisorUrl }), 'server listening');
    this.serverUrl = await this.server.url;
  }

  /** A JSON request to the server. */
  async call<T>(method: string, route: string, token?: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.serverUrl + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  async login(username: string, password: string): Promise<string> {
    return (await this.call<{ token: string }>('POST', '/api/auth/login', undefined, { username, password })).token;
  }

  /** Makes a user account (as the admin) and logs it in: its token. */
  async addUser(adminToken: string, username: string): Promise<string> {
    const password = `${username}-password`;
    await this.call('POST', '/api/users', adminToken, { username, password, role: 'user' });
    return this.login(username, password);
  }

  async stop(): Promise<void> {
    await stopProcess(this.server);
    await stopProcess(this.supervisor);
    rmSync(this.root, { recursive: true, force: true });
  }
}
