/**
 * Runs a job's command: a subprocess in the run directory, in its own process group, with its
 * stdout and stderr appended to the run log and reported line by line, progress read from
 * stdout or a status file, a time limit, and a kill that ends the whole group.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ProgressSpec } from '../shared/template.js';
import type { RunEnd } from '../shared/protocol.js';
import { RUN_LOG } from './runDir.js';
import { MemoryCgroup } from './memoryCgroup.js';
import { RunLog } from './runLog.js';
import { ProgressFileReader } from './progressFile.js';
import { spawnHere, type CmdProcess, type SpawnCmd } from './spawner.js';

export interface CmdEvents {
  /** The command runs, as the leader of its own process group `pid`. */
  onSpawn?(pid: number): void;
  onLine(line: string): void;
  onProgress(value: number, message: string | undefined): void;
  onExit(end: { status: RunEnd; exitCode: number | null; signal: string | null; reason?: string }): void;
  /** The run log cannot be written (disk full): its lines are kept and written later. null once it can again. */
  onLogProblem?(what: string | null): void;
}

export interface CmdSpec {
  argv: string[];
  runDir: string;
  env: NodeJS.ProcessEnv;
  progress: ProgressSpec;
  timeLimitSeconds: number;
  /** Milliseconds between SIGTERM and SIGKILL of the process group. */
  killGraceMs?: number;
  /** The run log to append to, owned by the caller (who ends it); without it, the cmd opens and ends its own. */
  log?: RunLog;
  /** How the command is started (default: as a child of this process; the process engine uses its Spawner). */
  spawn?: SpawnCmd;
}

const STDERR_TAIL = 20;
const PROGRESS_FILE_POLL_MS = 1000;

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export class RunningCmd {
  readonly pid: number;
  readonly exited: Promise<void>;
  private readonly child: CmdProcess;
  private readonly log: RunLog;
  private readonly stderrTail: string[] = [];
  private killReason: string | null = null;
  private done = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The cmd's memory cgroup, and its out-of-memory kills when the cmd started: a SIGKILL while they went up is out of memory. */
  private readonly memory: MemoryCgroup | undefined;
  private readonly oomKillsAtStart: number | undefined;

  /** Starts the command; throws if it cannot be spawned (e.g. no such program). */
  static async start(spec: CmdSpec, events: CmdEvents): Promise<RunningCmd> {
    const log = spec.log ?? (await RunLog.open(path.join(spec.runDir, RUN_LOG), (what) => events.onLogProblem?.(what)));
    const [cmd, ...args] = spec.argv as [string, ...string[]];
    const child = (spec.spawn ?? spawnHere)(cmd, args, { cwd: spec.runDir, env: spec.env });
    // Heard from the start: a spawner's cmd may say its exit right after its spawn, in one read.
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => {
        if (!spec.log) log.end();
        reject(new Error(`cannot start ${cmd}: ${err.message}`));
      });
    });
    events.onSpawn?.(child.pid as number);
    return new RunningCmd(child, exit, log, spec, events);
  }

  private constructor(child: CmdProcess, exit: Promise<[number | null, NodeJS.Signals | null]>, log: RunLog, private readonly spec: CmdSpec, private readonly events: CmdEvents) {
    this.child = child;
    this.log = log;
    this.pid = child.pid as number;
    this.memory = MemoryCgroup.of(this.pid);
    this.oomKillsAtStart = this.memory?.oomKills();
    const progressRe = spec.progress.kind === 'stdout' ? new RegExp(spec.progress.pattern) : null;
    const stdoutDone = this.readLines(child.stdout, (line) => {
      const m = progressRe?.exec(line);
      if (m) this.progress(Number(m[1]), line.slice(m[0].length).trim() || undefined);
    });
    const stderrDone = this.readLines(child.stderr, (line) => {
      if (line.trim()) this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
    });
    if (spec.progress.kind === 'file') this.pollProgressFile(spec.progress.path);
    const progressFile = this.progressFile;
    const limit = setTimeout(() => void this.kill(`time limit of ${spec.timeLimitSeconds} s exceeded`), spec.timeLimitSeconds * 1000);
    this.timers.push(limit);
    this.exited = exit.then(async ([code, signal]) => {
      // Output pipes may be held open by what the cmd left behind in its group: end it soon.
      const straggler = setTimeout(() => killGroup(this.pid, 'SIGKILL'), 2000);
      await Promise.all([stdoutDone, stderrDone]);
      clearTimeout(straggler);
      // What the command wrote last, before it exited, is reported before its end.
      await this.readProgressFile(progressFile);
      this.finish(code, signal);
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** Ends the whole process group: SIGTERM, then SIGKILL after a grace period. Resolves once the cmd has exited. */
  async kill(reason: string): Promise<void> {
    if (this.done) return;
    this.killReason ??= reason;
    killGroup(this.pid, 'SIGTERM');
    const force = setTimeout(() => killGroup(this.pid, 'SIGKILL'), this.spec.killGraceMs ?? 3000);
    this.timers.push(force);
    await this.exited;
  }

  private readLines(stream: NodeJS.ReadableStream | null, extra: (line: string) => void): Promise<void> {
    if (!stream) return Promise.resolve();
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      this.log.write(line + '\n');
      this.events.onLine(line);
      extra(line);
    });
    return new Promise((resolve) => rl.once('close', resolve));
  }

  private progress(value: number, message: string | undefined): void {
    if (Number.isFinite(value)) this.events.onProgress(Math.min(1, Math.max(0, value)), message);
  }

  private progressFile: ProgressFileReader | null = null;

  private pollProgressFile(rel: string): void {
    this.progressFile = new ProgressFileReader(path.join(this.spec.runDir, rel));
    const timer = setInterval(() => void this.readProgressFile(this.progressFile), PROGRESS_FILE_POLL_MS);
    this.timers.push(timer);
  }

  /** One read of the progress file (reads never overlap: a poll waits for the one under way). */
  private reading: Promise<void> = Promise.resolve();

  private readProgressFile(reader: ProgressFileReader | null): Promise<void> {
    if (!reader) return Promise.resolve();
    this.reading = this.reading.then(async () => {
      const p = await reader.read();
      if (p && !this.done) this.progress(p.value, p.message);
    });
    return this.reading;
  }

  /** ": out of memory (...)" if the kernel's out-of-memory killer ended a process of the cmd's cgroup while it ran. */
  private outOfMemory(): string {
    const now = this.memory?.oomKills();
    if (this.memory === undefined || now === undefined || this.oomKillsAtStart === undefined || now <= this.oomKillsAtStart) return '';
    return `: ${this.memory.describe()}`;
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    killGroup(this.pid, 'SIGKILL'); // whatever the cmd left behind in its group
    if (!this.spec.log) this.log.end();
    const signalName = signal ?? null;
    if (this.child.lost) {
      this.events.onExit({ status: 'error', exitCode: null, signal: null, reason: `${this.child.lost}; the command's process group was ended` });
    } else if (this.killReason !== null) {
      this.events.onExit({ status: 'canceled', exitCode: code, signal: signalName, reason: this.killReason });
    } else if (code === 0) {
      this.events.onExit({ status: 'completed', exitCode: 0, signal: null });
    } else {
      const how = signal ? `killed by ${signal}${signal === 'SIGKILL' ? this.outOfMemory() : ''}` : `exited with code ${code}`;
      const tail = this.stderrTail.slice(-5).join('\n');
      this.events.onExit({ status: 'error', exitCode: code, signal: signalName, reason: tail ? `${tail}\n(${how})` : `the command ${signal ? 'was ' : ''}${how}` });
    }
  }
}
