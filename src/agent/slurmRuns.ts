/**
 * The agent's Slurm runs: submits batch scripts, follows every run with ONE `squeue` per
 * interval for all of them (a job that left the queue is looked up with `scontrol`/`sacct`
 * before it is called ended), tails each run's log file from a byte offset, and cancels with
 * `scancel`, confirmed by Slurm. If Slurm cannot be asked, runs keep their state, marked
 * unconfirmed, until a grace period passes.
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Op, RunEnd, Update } from '../shared/protocol.js';
import type { ProgressSpec } from '../shared/template.js';
import { prepareRunDir, RUN_LOG } from '../cmds/runDir.js';
import { cancel as scancel, lookUp, phaseOf, queue, submit, SlurmCommandError, type QueueEntry } from '../cmds/slurm.js';

type Push = (jobId: string, serial: number, update: Update) => number;

interface SlurmRun {
  jobId: string;
  serial: number;
  runDir: string;
  slurmJobId: string;
  logOffset: number;
  progress: RegExp | null;
  seen: string;
  started: boolean;
  unconfirmedSince: number | null;
  cancelReason: string | null;
  exitSeq: number | null;
  tail: string[];
}

export interface SlurmRunsOptions {
  pollIntervalMs: number;
  unconfirmedGraceMs: number;
  log: Logger;
}

/** The run's Slurm job id, kept on the cluster side too (in the run directory). */
export const SLURM_JOB_ID_FILE = 'slurm-job-id';
const MAX_LOG_READ = 1024 * 1024;
/** How long a cancel waits for Slurm to confirm the job ended (the poll goes on after). */
const CANCEL_CONFIRM_MS = 60_000;

export class SlurmRuns {
  private readonly runs = new Map<string, SlurmRun>();
  private readonly timer: NodeJS.Timeout;
  private polling: Promise<void> | null = null;
  private readonly endWaiters = new Map<string, () => void>();

  constructor(
    private readonly push: Push,
    private readonly opts: SlurmRunsOptions,
  ) {
    this.timer = setInterval(() => void this.poll(), opts.pollIntervalMs);
  }

  has(jobId: string, serial: number): boolean {
    return this.runs.has(`${jobId}/${serial}`);
  }

  list() {
    return [...this.runs.values()].map((r) => ({ jobId: r.jobId, serial: r.serial, pid: 0, running: r.exitSeq === null, slurmJobId: r.slurmJobId }));
  }

  /** Writes the batch script into a fresh run directory and submits it; sbatch's error text reaches the user verbatim. */
  async submit(op: Extract<Op, { kind: 'run' }>): Promise<{ pid: number; slurmJobId: string }> {
    const existing = this.runs.get(`${op.jobId}/${op.serial}`);
    if (existing) return { pid: 0, slurmJobId: existing.slurmJobId };
    await prepareRunDir(op.runDir, op.parameters);
    const script = path.join(op.runDir, 'job.sbatch');
    await writeFile(script, op.sbatch?.script ?? '', { mode: 0o700 });
    let slurmJobId: string;
    try {
      slurmJobId = await submit(script, op.runDir);
    } catch (err) {
      const text = err instanceof SlurmCommandError ? err.stderr || err.message : (err as Error).message;
      throw new JobvisorError('RUN_START_FAILED', text);
    }
    await writeFile(path.join(op.runDir, SLURM_JOB_ID_FILE), slurmJobId + '\n');
    this.add(op.jobId, op.serial, op.runDir, slurmJobId, 0, op.progress);
    this.opts.log.info({ jobId: op.jobId, serial: op.serial, slurmJobId }, 'submitted to Slurm');
    this.push(op.jobId, op.serial, { kind: 'slurm', slurmJobId, state: 'PENDING' });
    return { pid: 0, slurmJobId };
  }

  attach(op: Extract<Op, { kind: 'attach' }>): { known: boolean } {
    if (!this.has(op.jobId, op.serial)) this.add(op.jobId, op.serial, op.runDir, op.slurmJobId, op.logOffset, op.progress);
    this.opts.log.info({ jobId: op.jobId, slurmJobId: op.slurmJobId }, 're-attached Slurm job');
    void this.poll();
    return { known: true };
  }

  /** `scancel`, then waits until Slurm says the job has ended. */
  async cancel(jobId: string, serial: number, reason: string): Promise<{ known: boolean }> {
    const run = this.runs.get(`${jobId}/${serial}`);
    if (!run) return { known: false };
    if (run.exitSeq !== null) return { known: true };
    run.cancelReason ??= reason;
    await scancel(run.slurmJobId);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CANCEL_CONFIRM_MS);
      this.endWaiters.set(`${jobId}/${serial}`, () => {
        clearTimeout(timer);
        resolve();
      });
      void this.poll();
    });
    return { known: true };
  }

  /** The supervisor has everything up to `seq`: runs whose end it has are forgotten. */
  acked(seq: number): void {
    for (const [key, run] of this.runs) if (run.exitSeq !== null && run.exitSeq <= seq) this.runs.delete(key);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private add(jobId: string, serial: number, runDir: string, slurmJobId: string, logOffset: number, progress: ProgressSpec): void {
    const re = progress.kind === 'stdout' ? new RegExp(progress.pattern) : null;
    this.runs.set(`${jobId}/${serial}`, { jobId, serial, runDir, slurmJobId, logOffset, progress: re, seen: '', started: false, unconfirmedSince: null, cancelReason: null, exitSeq: null, tail: [] });
  }

  /** One round: a single `squeue` for every run this agent follows. Rounds never overlap. */
  private poll(): Promise<void> {
    this.polling ??= this.round().finally(() => (this.polling = null));
    return this.polling;
  }

  private async round(): Promise<void> {
    const live = [...this.runs.values()].filter((r) => r.exitSeq === null);
    if (live.length === 0) return;
    let q: Map<string, QueueEntry>;
    try {
      q = await queue();
    } catch (err) {
      for (const run of live) this.unconfirmed(run, (err as Error).message);
      return;
    }
    for (const run of live) {
      try {
        await this.follow(run, q.get(run.slurmJobId));
      } catch (err) {
        this.unconfirmed(run, (err as Error).message);
      }
    }
  }

  private async follow(run: SlurmRun, entry: QueueEntry | undefined): Promise<void> {
    if (entry) {
      run.unconfirmedSince = null;
      const phase = phaseOf(entry.state);
      this.report(run, entry.state, entry.reason, entry.startTime);
      if (phase.phase === 'running') this.markStarted(run);
      await this.tailLog(run);
      if (phase.phase !== 'ended') return;
    }
    const done = entry ? { state: entry.state, reason: entry.reason, exitCode: '' } : await lookUp(run.slurmJobId);
    if (!done) {
      this.unconfirmed(run, `Slurm no longer knows job ${run.slurmJobId}`);
      return;
    }
    const phase = phaseOf(done.state, done.reason, done.exitCode);
    if (phase.phase !== 'ended') return;
    this.report(run, done.state, done.reason, '');
    // A job may have run entirely between two polls: it did start if it completed or failed.
    if (phase.status !== 'canceled' || run.logOffset > 0) this.markStarted(run);
    await this.tailLog(run);
    const reason = phase.status === 'canceled' && run.cancelReason ? run.cancelReason : phase.status === 'error' && run.tail.length ? `${run.tail.join('\n')}\n(${phase.reason})` : phase.reason;
    const code = /^(\d+):/.exec(done.exitCode)?.[1];
    this.end(run, phase.status, reason, phase.status === 'completed' ? 0 : code !== undefined ? Number(code) : null);
  }

  private markStarted(run: SlurmRun): void {
    if (run.started) return;
    run.started = true;
    this.push(run.jobId, run.serial, { kind: 'started', pid: 0 });
  }

  private end(run: SlurmRun, status: RunEnd, reason: string | undefined, exitCode: number | null = null): void {
    run.exitSeq = this.push(run.jobId, run.serial, { kind: 'exit', status, exitCode, signal: null, ...(reason ? { reason: reason.slice(-4000) } : {}) });
    const key = `${run.jobId}/${run.serial}`;
    this.endWaiters.get(key)?.();
    this.endWaiters.delete(key);
  }

  private report(run: SlurmRun, state: string, reason: string, startTime: string): void {
    const seen = `${state}|${reason}|${startTime}`;
    if (seen === run.seen) return;
    run.seen = seen;
    const start = startTime && startTime !== 'N/A' ? { startTime } : {};
    this.push(run.jobId, run.serial, { kind: 'slurm', slurmJobId: run.slurmJobId, state, ...(reason && reason !== 'None' ? { reason } : {}), ...start });
  }

  private unconfirmed(run: SlurmRun, why: string): void {
    const now = Date.now();
    if (run.unconfirmedSince === null) {
      run.unconfirmedSince = now;
      this.opts.log.warn({ slurmJobId: run.slurmJobId, why }, 'Slurm state unconfirmed');
      this.push(run.jobId, run.serial, { kind: 'slurm', slurmJobId: run.slurmJobId, state: run.seen.split('|')[0] || 'UNKNOWN', reason: why.slice(0, 500), unconfirmed: true });
      run.seen = '';
    } else if (now - run.unconfirmedSince > this.opts.unconfirmedGraceMs) {
      this.end(run, 'error', `the state of Slurm job ${run.slurmJobId} could not be confirmed for ${Math.round((now - run.unconfirmedSince) / 1000)} s: ${why}`);
    }
  }

  /** Sends the log lines written since the last offset, and the progress they report. */
  private async tailLog(run: SlurmRun): Promise<void> {
    let fh;
    try {
      fh = await open(path.join(run.runDir, RUN_LOG), 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(MAX_LOG_READ);
      const { bytesRead } = await fh.read(buf, 0, buf.length, run.logOffset);
      const end = buf.subarray(0, bytesRead).lastIndexOf(10);
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('utf8').split('\n');
      run.logOffset += end + 1;
      this.push(run.jobId, run.serial, { kind: 'log', lines: lines.map((l) => l.slice(0, 65536)), offset: run.logOffset });
      this.progressFrom(run, lines);
    } finally {
      await fh.close();
    }
  }

  private progressFrom(run: SlurmRun, lines: string[]): void {
    let last: Update | undefined;
    for (const line of lines) {
      const m = run.progress?.exec(line);
      if (line.trim() && !m) run.tail = [...run.tail, line].slice(-3);
      const value = m ? Number(m[1]) : NaN;
      if (m && Number.isFinite(value)) last = { kind: 'progress', value: Math.min(1, Math.max(0, value)), ...(line.slice(m[0].length).trim() ? { message: line.slice(m[0].length).trim().slice(0, 500) } : {}) };
    }
    if (last) this.push(run.jobId, run.serial, last);
  }
}
