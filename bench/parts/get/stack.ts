/**
 * A real jobvisor for the `get` bench part: the supervisor and the server as their own processes
 * (dist/src/cli.js), ports 0 on 127.0.0.1, a fresh data folder and a known shared secret, log
 * level info. `stop()` ends both (SIGTERM, SIGKILL after a grace period), then any process left
 * whose working folder is inside the temporary folder (agents, cmds), then removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processesUnder } from '../../../test/helpers/jobvisor.js';

function findPackageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

export const ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const STOP_GRACE_MS = 8000;

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  output: string[];
}

function startProcess(command: 'server' | 'supervisor', env: NodeJS.ProcessEnv, nodeArgs: string[]): Proc {
  const child = spawn(process.execPath, [...nodeArgs, CLI, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const listening = `${command} listening`;
  const url = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (output.length > 500) output.shift();
      if (!line.includes(listening)) return;
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        /* not the line */
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening:\n${output.join('\n')}`)));
  });
  url.catch(() => undefined);
  return { child, url, output };
}

async function stopProcess(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(t);
}


/** User + system CPU time a process used so far, in ms (from /proc/<pid>/stat). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

export interface StackOptions {
  /** Settings for both processes (JOBVISOR_* variables). */
  env?: Record<string, string>;
  /** Node's own arguments for each process, e.g. `--cpu-prof --cpu-prof-dir=...` to profile it (not allowed in NODE_OPTIONS). */
  serverNodeArgs?: string[];
  supervisorNodeArgs?: string[];
}

export class Stack {
  readonly root: string;
  readonly secret = randomBytes(24).toString('base64url');
  readonly adminPassword = randomBytes(12).toString('base64url');
  supervisorUrl = '';
  serverUrl = '';
  private supervisor?: Proc;
  private server?: Proc;

  constructor(private readonly options: StackOptions = {}) {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-bench-get-'));
    cpSync(path.join(ROOT, 'templates'), path.join(this.root, 'templates'), { recursive: true });
  }

  get serverPid(): number | undefined {
    return this.server?.child.pid;
  }

  get supervisorPid(): number | undefined {
    return this.supervisor?.child.pid;
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JOBVISOR_DATA_DIR: path.join(this.root, 'data'),
      JOBVISOR_TEMPLATES_DIR: path.join(this.root, 'templates'),
      JOBVISOR_ADMIN_PASSWORD: this.adminPassword,
      JOBVISOR_SECRET: this.secret,
      JOBVISOR_LOG_LEVEL: 'info',
      JOBVISOR_SERVER_PORT: '0',
      JOBVISOR_SUPERVISOR_PORT: '0',
      ...this.options.env,
      ...extra,
    };
  }

  async start(): Promise<this> {
    this.supervisor = startProcess('supervisor', this.env(), this.options.supervisorNodeArgs ?? []);
    this.supervisorUrl = await this.supervisor.url;
    const supervisorUrl = this.options.env?.JOBVISOR_SUPERVISOR_URL ?? this.supervisorUrl;
    this.server = startProcess('server', this.env({ JOBVISOR_SUPERVISOR_URL: supervisorUrl }), this.options.serverNodeArgs ?? []);
    this.serverUrl = await this.server.url;
    return this;
  }

  logs(): string {
    return [...(this.supervisor?.output ?? []), ...(this.server?.output ?? [])].join('\n');
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
    const deadline = Date.now() + 5000;
    while (processesUnder(this.root).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    rmSync(this.root, { recursive: true, force: true });
  }
}
