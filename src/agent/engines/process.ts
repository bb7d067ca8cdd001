/**
 * The process engine: each run is a job cmd started as a subprocess of the agent, in its run
 * directory, in its own process group (recorded, so that it can be ended if the agent dies). Log
 * lines and progress are gathered and sent in batches, at most one batch per run every `flushMs`:
 * the first line after a quiet spell goes at once (on the next timer tick of the event loop, so
 * the lines of one read go together), the ones that follow it closely wait for the end of that
 * interval; a batch that grows big goes at once. The run's end follows its last lines.
 */
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentRun, Update } from '../../shared/protocol.js';
import { RunningSteps } from '../../cmds/runSteps.js';
import { smallFolderBytes } from '../../cmds/files.js';
import { prepareRunDir } from '../../cmds/runDir.js';
import { Spawner } from '../../cmds/spawner.js';
import type { CmdGroups } from '../cmdGroups.js';
import { runKey, type Push, type RunEngine, type RunOp } from './engine.js';

/** A run's gathered lines are sent at once when they reach this many, or this many characters. */
const MAX_BATCH_LINES = 2000;
const MAX_BATCH_CHARS = 512 * 1024;

interface Run {
  jobId: string;
  serial: number;
  cmd: RunningSteps | null;
  /** Sequence number of the run's exit update, once sent. */
  exitSeq: number | null;
  lines: string[];
  /** Characters in `lines`. */
  chars: number;
  progress: { value: number; message?: string } | null;
  /** Phases said before the run's `started` update was sent, sent right after it; null once it was. */
  earlyPhases: Update[] | null;
  /** When the run's last batch was sent (performance.now()), and the timer of its next one. */
  flushedAt: number;
  flushTimer: NodeJS.Timeout | null;
}

export interface ProcessEngineOptions {
  push: Push;
  /** The environment of cmds: the agent's, without its own settings. */
  env: NodeJS.ProcessEnv;
  /** Where the process groups of running cmds are recorded. */
  groups: CmdGroups;
  log: Logger;
  /** The least time between two batches of one run's lines and progress (default 100 ms). */
  flushMs?: number;
}

export class ProcessEngine implements RunEngine {
  private readonly active = new Map<string, Run>();
  /** Starts the cmds: a small process of its own, cheaper to fork from than the agent (see spawner.ts). */
  readonly spawner: Spawner;

  constructor(private readonly o: ProcessEngineOptions) {
    this.spawner = new Spawner({
      groupsDir: o.groups.dir,
      onDied: (why, lost) => o.log.error({ why, lostCmds: lost }, 'the spawner process died; its cmds were ended, a new one starts with the next cmd'),
      onGroupProblem: (pgid, problem) => o.log.warn({ pgid, err: problem }, 'the process group of a cmd could not be recorded'),
    });
  }

  has(jobId: string, serial: number): boolean {
    return this.active.has(runKey(jobId, serial));
  }

  runs(): AgentRun[] {
    return [...this.active.values()].map((r) => ({ jobId: r.jobId, serial: r.serial, pid: r.cmd?.pid ?? 0, running: r.cmd?.running ?? false }));
  }

  get busy(): boolean {
    return [...this.active.values()].some((r) => r.cmd?.running);
  }

  async start(op: RunOp): Promise<{ pid: number }> {
    const key = runKey(op.jobId, op.serial);
    const existing = this.active.get(key);
    if (existing) {
      if (!existing.cmd) throw new JobvisorError('INTERNAL', 'the run is still being started');
      return { pid: existing.cmd.pid };
    }
    for (const other of this.active.values()) {
      if (other.jobId === op.jobId && other.cmd?.running) await other.cmd.kill('replaced by a newer run');
    }
    const run: Run = { jobId: op.jobId, serial: op.serial, cmd: null, exitSeq: null, lines: [], chars: 0, progress: null, earlyPhases: [], flushedAt: -Infinity, flushTimer: null };
    this.active.set(key, run);
    try {
      await prepareRunDir(op.runDir, op.parameters, op.inputs);
      run.cmd = await RunningSteps.start(
        { preprocess: op.preprocess, argv: op.argv, postprocess: op.postprocess, runDir: op.runDir, env: this.o.env, progress: op.progress, timeLimitSeconds: op.timeLimitSeconds, spawn: this.spawner.spawn },
        {
          // The spawner recorded the group (in o.groups.dir) before saying the cmd started.
          onStepEnd: (pid) => this.o.groups.remove(pid),
          onPhase: (phase, at) => {
            const update: Update = { kind: 'phase', phase, at };
            if (run.earlyPhases) return void run.earlyPhases.push(update);
            // The lines of the step before go first.
            this.flushRun(run);
            this.push(run, update);
          },
          onLine: (line) => {
            run.lines.push(line);
            run.chars += line.length;
            if (run.lines.length >= MAX_BATCH_LINES || run.chars >= MAX_BATCH_CHARS) this.flushRun(run);
            else this.flushSoon(run);
          },
          onProgress: (value, message) => {
            run.progress = { value, ...(message === undefined ? {} : { message: message.slice(0, 500) }) };
            this.flushSoon(run);
          },
          onLogProblem: (what) => {
            if (what) this.o.log.warn({ jobId: op.jobId, serial: op.serial, problem: what }, 'the run log cannot be written; its lines are kept');
            else this.o.log.info({ jobId: op.jobId, serial: op.serial }, 'the run log is written again');
          },
          onExit: (end) => {
            this.flushRun(run);
            // The run log holds every line by now (RunningSteps waits for it): the size is whole.
            const bytes = smallFolderBytes(op.runDir);
            run.exitSeq = this.push(run, { kind: 'exit', ...end, ...(end.reason ? { reason: end.reason.slice(-4000) } : {}), ...(bytes === null ? {} : { bytes }) });
          },
        },
      );
    } catch (err) {
      this.active.delete(key);
      throw new JobvisorError('RUN_START_FAILED', `the run could not start: ${(err as Error).message}`);
    }
    this.o.log.info({ jobId: op.jobId, serial: op.serial, pid: run.cmd.pid }, 'run started');
    this.push(run, { kind: 'started', pid: run.cmd.pid });
    for (const update of run.earlyPhases ?? []) this.push(run, update);
    run.earlyPhases = null;
    return { pid: run.cmd.pid };
  }

  async cancel(jobId: string, serial: number, reason: string): Promise<{ known: boolean }> {
    const run = this.active.get(runKey(jobId, serial));
    if (!run?.cmd) return { known: false };
    await run.cmd.kill(reason);
    this.flushRun(run);
    return { known: true };
  }

  acked(seq: number): void {
    for (const [key, run] of this.active) if (run.exitSeq !== null && run.exitSeq <= seq) this.active.delete(key);
  }

  flush(): void {
    for (const run of this.active.values()) this.flushRun(run);
  }

  async stop(why: string): Promise<void> {
    await Promise.all([...this.active.values()].map((r) => r.cmd?.kill(`agent stopped: ${why}`)));
    this.spawner.stop();
    this.flush();
  }

  private push(run: Run, update: Update): number {
    return this.o.push(run.jobId, run.serial, update);
  }

  /** Sends the run's batch when its interval allows: at once if the last one went `flushMs` ago, else when it has. */
  private flushSoon(run: Run): void {
    if (run.flushTimer) return;
    const wait = Math.max(0, run.flushedAt + (this.o.flushMs ?? 100) - performance.now());
    run.flushTimer = setTimeout(() => this.flushRun(run), wait);
    run.flushTimer.unref();
  }

  /** Sends a run's gathered log lines (the outbox cuts and splits them) and latest progress as updates. */
  private flushRun(run: Run): void {
    if (run.flushTimer) clearTimeout(run.flushTimer);
    run.flushTimer = null;
    if (run.lines.length > 0 || run.progress) run.flushedAt = performance.now();
    if (run.lines.length > 0) {
      const lines = run.lines.splice(0, run.lines.length);
      run.chars = 0;
      this.push(run, { kind: 'log', lines });
    }
    if (run.progress) {
      this.push(run, { kind: 'progress', ...run.progress });
      run.progress = null;
    }
  }
}
