/**
 * The process engine: each run is a job cmd started as a subprocess of the agent, in its run
 * directory. Log lines and progress are gathered and sent in batches (the agent flushes them on
 * a timer, and at once when a batch grows big); the run's end follows its last lines.
 */
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentRun, Update } from '../../shared/protocol.js';
import { RunningCmd } from '../../cmds/runCommand.js';
import { prepareRunDir } from '../../cmds/runDir.js';
import { runKey, type Push, type RunEngine, type RunOp } from './engine.js';

const MAX_BATCH_LINES = 2000;

interface Run {
  jobId: string;
  serial: number;
  cmd: RunningCmd | null;
  /** Sequence number of the run's exit update, once sent. */
  exitSeq: number | null;
  lines: string[];
  progress: { value: number; message?: string } | null;
}

export interface ProcessEngineOptions {
  push: Push;
  /** The environment of cmds: the agent's, without its own settings. */
  env: NodeJS.ProcessEnv;
  /** Fills `{node}` in argv. */
  fillNode(argv: string[]): string[];
  log: Logger;
}

export class ProcessEngine implements RunEngine {
  private readonly active = new Map<string, Run>();

  constructor(private readonly o: ProcessEngineOptions) {}

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
    const run: Run = { jobId: op.jobId, serial: op.serial, cmd: null, exitSeq: null, lines: [], progress: null };
    this.active.set(key, run);
    try {
      await prepareRunDir(op.runDir, op.parameters);
      run.cmd = await RunningCmd.start(
        { argv: this.o.fillNode(op.argv), runDir: op.runDir, env: this.o.env, progress: op.progress, timeLimitSeconds: op.timeLimitSeconds },
        {
          onLine: (line) => {
            run.lines.push(line);
            if (run.lines.length >= MAX_BATCH_LINES) this.flushRun(run);
          },
          onProgress: (value, message) => {
            run.progress = { value, ...(message === undefined ? {} : { message: message.slice(0, 500) }) };
          },
          onExit: (end) => {
            this.flushRun(run);
            run.exitSeq = this.push(run, { kind: 'exit', ...end, ...(end.reason ? { reason: end.reason.slice(-4000) } : {}) });
          },
        },
      );
    } catch (err) {
      this.active.delete(key);
      throw new JobvisorError('RUN_START_FAILED', `the run could not start: ${(err as Error).message}`);
    }
    this.o.log.info({ jobId: op.jobId, serial: op.serial, pid: run.cmd.pid }, 'run started');
    this.push(run, { kind: 'started', pid: run.cmd.pid });
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
    this.flush();
  }

  private push(run: Run, update: Update): number {
    return this.o.push(run.jobId, run.serial, update);
  }

  /** Sends a run's gathered log lines and latest progress as updates. */
  private flushRun(run: Run): void {
    if (run.lines.length > 0) {
      const lines = run.lines.splice(0, run.lines.length).map((l) => (l.length > 65536 ? l.slice(0, 65536) : l));
      this.push(run, { kind: 'log', lines });
    }
    if (run.progress) {
      this.push(run, { kind: 'progress', ...run.progress });
      run.progress = null;
    }
  }
}
