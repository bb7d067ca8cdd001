/**
 * Starting cmds from a small long-lived helper process instead of from the agent itself.
 *
 * Why: Node starts a child with fork() + exec(), and fork() copies the page tables of the whole
 * process, synchronously, on the event loop. From the agent (~90 MB resident) that was half of
 * the agent's CPU per trivial run (issue 13: 51 % of 8.4–9.1 ms in ChildProcess.spawn); from a
 * fresh Node that loaded nothing (the spawner, spawnerProcess.ts) it costs what the bench's
 * spawn floor costs. The agent keeps everything else: process groups, kills, time limits, logs.
 *
 * A `SpawnedCmd` looks like the ChildProcess RunningCmd used before (pid, stdout, stderr, the
 * events `spawn`, `error`, `exit`): the spawner forwards the cmd's output as it reads it. If the
 * spawner dies, every cmd it had started is ended (SIGKILL to its process group: nobody can see
 * its exit any more) and ends with `lost` set, which RunningCmd reports as the run's error; the
 * next cmd starts a new spawner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { spawnerMain, type SpawnerReply, type SpawnerRequest } from './spawnerProcess.js';

/** What RunningCmd needs of a started cmd: a ChildProcess, or a SpawnedCmd. */
export interface CmdProcess {
  readonly pid?: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  /** Why the cmd's end could not be seen (its spawner died), if that is how it ended. */
  readonly lost?: string | null;
  once(event: 'spawn', fn: () => void): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'exit', fn: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

/** Starts `cmd args` in `cwd` with `env`, as the leader of its own process group, stdout and stderr piped. */
export type SpawnCmd = (cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) => CmdProcess;

/** The default: a child of this process (what every cmd but the process engine's uses). */
export const spawnHere: SpawnCmd = (cmd, args, { cwd, env }) => spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });

export class SpawnedCmd extends EventEmitter {
  pid: number | undefined;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  lost: string | null = null;
  /** Set once its `exit` was said. */
  exited = false;
}

export interface SpawnerOptions {
  /** Where the spawner records each cmd's process group (see agent/cmdGroups.ts), before the cmd's `spawn` is said. */
  groupsDir?: string;
  /** A spawner process ended while in use, with this many cmds (for the agent's log). */
  onDied?(why: string, lostCmds: number): void;
  /** A cmd's group could not be recorded (for the agent's log). */
  onGroupProblem?(pid: number, problem: string): void;
}

export class Spawner {
  private proc: ChildProcess | null = null;
  private readonly cmds = new Map<number, SpawnedCmd>();
  private nextId = 1;
  /** The environment last sent: it goes once, not with every cmd (it is the same for all of a process engine's). */
  private sentEnv: NodeJS.ProcessEnv | null = null;
  private stopped = false;
  private readonly dead = new WeakSet<ChildProcess>();

  constructor(private readonly o: SpawnerOptions = {}) {}

  /** The spawner's pid, if one runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  readonly spawn: SpawnCmd = (cmd, args, { cwd, env }) => {
    const spawned = new SpawnedCmd();
    const proc = this.process();
    if (!proc) {
      process.nextTick(() => spawned.emit('error', new Error('the spawner is stopped')));
      return spawned;
    }
    const id = this.nextId++;
    this.cmds.set(id, spawned);
    if (env !== this.sentEnv) {
      this.request({ t: 'env', env });
      this.sentEnv = env;
    }
    this.request({ t: 'spawn', id, cmd, args, cwd, ...(this.o.groupsDir === undefined ? {} : { groupsDir: this.o.groupsDir }) });
    return spawned;
  };

  /** Ends the spawner process (its cmds go on; see spawnerProcess.ts). */
  stop(): void {
    this.stopped = true;
    this.proc?.disconnect();
    this.proc = null;
  }

  private request(m: SpawnerRequest): void {
    // A send to a spawner that just died fails here, quietly: its `exit` follows and ends its cmds.
    this.proc?.send(m, (err) => void err);
  }

  private process(): ChildProcess | null {
    if (this.stopped) return null;
    if (this.proc) return this.proc;
    const proc = spawn(process.execPath, ['-e', `(${spawnerMain.toString()})(require)`], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
      env: process.env,
      // Not in the agent's folder: whoever looks for the agent's processes there finds the agent alone.
      cwd: '/',
    });
    // Neither the process nor its channel keeps this one alive: the agent lives by its connection.
    proc.unref();
    proc.channel?.unref();
    // The spawner sends its replies of one turn together, in order (see spawnerProcess.ts).
    proc.on('message', (batch: SpawnerReply[]) => {
      for (const m of batch) this.reply(m);
    });
    proc.once('exit', (code, signal) => this.died(proc, `the agent's spawner process ended (${signal ? `killed by ${signal}` : `exit code ${code}`})`));
    proc.on('error', (err) => this.died(proc, `the agent's spawner process failed: ${err.message}`));
    this.proc = proc;
    this.sentEnv = null;
    return proc;
  }

  private reply(m: SpawnerReply): void {
    const cmd = this.cmds.get(m.id);
    if (!cmd) return;
    switch (m.t) {
      case 'spawned':
        cmd.pid = m.pid;
        if (m.groupProblem !== undefined) this.o.onGroupProblem?.(m.pid, m.groupProblem);
        cmd.emit('spawn');
        return;
      case 'error':
        this.cmds.delete(m.id);
        cmd.emit('error', new Error(m.message));
        return;
      case 'out':
        (m.fd === 1 ? cmd.stdout : cmd.stderr).write(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
        return;
      case 'end':
        (m.fd === 1 ? cmd.stdout : cmd.stderr).end();
        return this.forgetIfDone(m.id, cmd);
      case 'exit':
        cmd.exited = true;
        cmd.emit('exit', m.code, m.signal);
        return this.forgetIfDone(m.id, cmd);
      default: {
        const never: never = m;
        throw new Error(`unknown spawner message ${JSON.stringify(never)}`);
      }
    }
  }

  private forgetIfDone(id: number, cmd: SpawnedCmd): void {
    if (cmd.exited && cmd.stdout.writableEnded && cmd.stderr.writableEnded) this.cmds.delete(id);
  }

  /** The spawner ended: its cmds cannot be watched any more; they are ended and said lost. */
  private died(proc: ChildProcess, why: string): void {
    // Said once per process (a process that cannot start says `error`, and may then say `exit`).
    if (this.dead.has(proc)) return;
    this.dead.add(proc);
    if (this.proc === proc) this.proc = null;
    const lost = [...this.cmds.values()];
    this.cmds.clear();
    if (this.stopped) return;
    this.o.onDied?.(why, lost.length);
    for (const cmd of lost) {
      if (cmd.pid === undefined) {
        cmd.emit('error', new Error(why));
        continue;
      }
      cmd.lost = why;
      try {
        process.kill(-cmd.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      cmd.stdout.end();
      cmd.stderr.end();
      if (!cmd.exited) {
        cmd.exited = true;
        cmd.emit('exit', null, 'SIGKILL');
      }
    }
  }
}
