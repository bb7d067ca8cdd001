/**
 * The batch-scheduler engine, the same for every scheduler: writes each run's batch script into
 * a fresh run directory and submits it; follows every run with ONE queue query per interval for
 * all of them (a job that left the queue is looked up in the scheduler's records before it is
 * called ended); tails each run's log file from a byte offset; cancels, confirmed by the
 * scheduler. A run whose script recorded its command's exit code (batchExit.ts) ends with it at
 * the first query that answers once the file is there (the engine looks for it every
 * pollSoonMs, and asks the scheduler soon when it appears): the scheduler's records are asked
 * only for jobs that left the queue without one. Unknown is not done: while the scheduler cannot be asked (its commands fail or time
 * out: a maintenance, a daemon restart), runs keep their state, marked unconfirmed, for as long
 * as that lasts, and their log files are still followed; only a scheduler that answers, and
 * knows a job neither in its queue nor in its records for a grace period, ends it (as error).
 * Likewise a submission the scheduler could not take because it could not be contacted waits
 * and is tried again (batchSubmit.ts): the run stays pending, said unconfirmed, cancelable.
 * What differs between schedulers is one module (shared/scheduler.ts).
 */
import { open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentRun, RunCause, RunEnd, Update } from '../../shared/protocol.js';
import type { EndedJob, QueueEntry, Scheduler } from '../../shared/scheduler.js';
import type { ProgressSpec } from '../../shared/template.js';
import { prepareRunDir, RUN_LOG } from '../../cmds/runDir.js';
import { stepFailure, type StepName } from '../../cmds/runSteps.js';
import { ProgressFileReader } from '../../cmds/progressFile.js';
import { cutLine, groupLines } from '../outbox.js';
import { readPhaseFile, signalName, STEP_BANNER, stepOf } from './batchPhases.js';
import { readExitStatus } from './batchExit.js';
import { submitErrorText, submitUntilTaken } from './batchSubmit.js';
import { runKey, type AttachOp, type Push, type RunEngine, type RunOp } from './engine.js';
import { nextPollDelay, pollPolicy, type PollPolicy } from './pollSchedule.js';

interface BatchRun {
  jobId: string;
  serial: number;
  runDir: string;
  externalId: string;
  logOffset: number;
  progress: RegExp | null;
  /** A template with file progress: its progress file, read at every poll and before the run's end. */
  progressFile: ProgressFileReader | null;
  /** The last state reported, as `state|reason|start`. */
  seen: string;
  /** The reason the scheduler gave for the last state, when it gives reasons apart (pendingReasons). */
  reason: string;
  reasonAskedAt: number;
  started: boolean;
  /** When the engine first saw it started, and its time limit (unknown for a run attached again): its expected end. */
  startedAt: number | null;
  timeLimitMs: number | null;
  /** Its log file exists: the job started (the scheduler's output file is made at its start). */
  logSeen: boolean;
  /** Since when its state is unconfirmed (the scheduler could not be asked, or did not know the job). */
  unconfirmedSince: number | null;
  /** Since when the scheduler, answering, knows the job neither in its queue nor in its records. */
  unknownSince: number | null;
  cancelReason: string | null;
  exitSeq: number | null;
  tail: string[];
  /** The run's template has steps: its script records its phases in PHASE_FILE (without, the run goes straight to `running`). */
  steps: boolean;
  /** Its exit file was seen (by the looks between queries): the next query ends it. */
  exitSeen: boolean;
  /** Lines of PHASE_FILE already read, and the step that failed as it says. */
  phaseLines: number;
  failed: { step: StepName; code: number } | null;
  /** Whether the log lines read now are the command's (progress is read from the command only). */
  inCommand: boolean;
  /** The step the script last said it started, if known. */
  step: StepName | null;
}

/** A run being submitted: the scheduler has not taken it yet (it may be waiting for the scheduler to answer). */
interface Submission {
  jobId: string;
  serial: number;
  abort: AbortController;
  result: Promise<{ pid: number; externalId: string }>;
}

export interface BatchEngineOptions {
  push: Push;
  /** The longest time between two queue queries. */
  pollIntervalMs: number;
  /** The first query after a change (a submission, a state change, a job that started), then x pollBackoff while nothing changes (pollSchedule.ts). */
  pollSoonMs?: number;
  pollBackoff?: number;
  /** How long a job the scheduler answers for, but does not know, stays unconfirmed before it ends as error. */
  unconfirmedGraceMs: number;
  log: Logger;
}

/** The run's scheduler job id, kept on the cluster side too (in the run directory). */
export const EXTERNAL_ID_FILE = 'external-id';
const MAX_LOG_READ = 1024 * 1024;
/** How long a cancel waits for the scheduler to confirm the job ended (the poll goes on after). */
const CANCEL_CONFIRM_MS = 60_000;
/** How many runs not yet started the engine looks for log files of (the most recently submitted), and how many others for exit files, in turn, at each look. */
const LOG_WATCH_MAX = 20;
/**
 * How long after its start a run's exit file is looked for every pollSoonMs (short runs end
 * within a query or two of it); after that, each queue query looks (the file system is NFS on
 * most clusters: 100 long runs do not cost 100 reads a second).
 */
const EXIT_WATCH_MS = 60_000;
/** Pending reasons are asked again at most this often, unless the state changed. */
const REASON_REFRESH_MS = 60_000;

export class BatchEngine implements RunEngine {
  private readonly active = new Map<string, BatchRun>();
  private readonly submitting = new Map<string, Submission>();
  private polling: Promise<void> | null = null;
  private readonly endWaiters = new Map<string, () => void>();
  private readonly policy: PollPolicy;
  /** The next queue query: its timer, when it is due, the delay it was given (null: none since the engine was idle). */
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private delay: number | null = null;
  /** Something happened since the last query that calls for the next one soon. */
  private changed = false;
  private lastQueryAt = 0;
  /** Looks every pollSoonMs for the log files of runs not yet seen started (a file, not a scheduler query). */
  private logWatch: NodeJS.Timeout | null = null;
  private watching = false;
  /** Where the next look for exit files starts among the runs under way (they are looked at in turn, LOG_WATCH_MAX at a time). */
  private exitTurn = 0;
  private stopped = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly o: BatchEngineOptions,
  ) {
    this.policy = pollPolicy(o.pollIntervalMs, o.pollSoonMs, o.pollBackoff);
  }

  has(jobId: string, serial: number): boolean {
    return this.active.has(runKey(jobId, serial));
  }

  /** Runs being submitted are listed without a job id and not running (a supervisor that restarts keeps them pending). */
  runs(): AgentRun[] {
    const submitting = [...this.submitting.values()].map((s) => ({ jobId: s.jobId, serial: s.serial, pid: 0, running: false }));
    return [...submitting, ...[...this.active.values()].map((r) => ({ jobId: r.jobId, serial: r.serial, pid: 0, running: r.exitSeq === null, externalId: r.externalId }))];
  }

  get busy(): boolean {
    return this.submitting.size > 0 || [...this.active.values()].some((r) => r.exitSeq === null);
  }

  /**
   * Writes the batch script into a fresh run directory and submits it, resolving once the
   * scheduler took it: while the scheduler cannot be contacted, that is when it answers again.
   * A refusal rejects with the scheduler's error text verbatim. Asked again meanwhile (the
   * supervisor resends the op after a reconnect), it answers with the same submission.
   */
  start(op: RunOp): Promise<{ pid: number; externalId: string }> {
    const key = runKey(op.jobId, op.serial);
    const existing = this.active.get(key);
    if (existing) return Promise.resolve({ pid: 0, externalId: existing.externalId });
    const under = this.submitting.get(key);
    if (under) return under.result;
    const abort = new AbortController();
    const result = this.submit(op, abort.signal).finally(() => this.submitting.delete(key));
    this.submitting.set(key, { jobId: op.jobId, serial: op.serial, abort, result });
    return result;
  }

  private async submit(op: RunOp, signal: AbortSignal): Promise<{ pid: number; externalId: string }> {
    await prepareRunDir(op.runDir, op.parameters, op.inputs);
    const script = path.join(op.runDir, this.scheduler.scriptName);
    await writeFile(script, op.batch?.script ?? '', { mode: 0o700 });
    const waiting = (why: string, nextInMs: number) => {
      const reason = `${this.scheduler.title} does not answer: ${why.replace(/\s+/g, ' ')}`.slice(0, 470) + `; trying again in ${Math.round(nextInMs / 1000)} s`;
      this.o.push(op.jobId, op.serial, { kind: 'scheduler', state: 'submitting', reason, unconfirmed: true });
    };
    const externalId = await submitUntilTaken(script, op.runDir, { scheduler: this.scheduler, log: this.o.log.child({ jobId: op.jobId, serial: op.serial }), waiting }, signal);
    if (externalId === null) throw new JobvisorError('RUN_START_FAILED', `${String(signal.reason)} before ${this.scheduler.title} took the job`);
    await writeFile(path.join(op.runDir, EXTERNAL_ID_FILE), externalId + '\n');
    this.add(op.jobId, op.serial, op.runDir, externalId, 0, op.progress, Boolean(op.preprocess || op.postprocess), op.timeLimitSeconds * 1000);
    this.pollSoon(Date.now() + this.policy.soonMs);
    this.o.log.info({ jobId: op.jobId, serial: op.serial, externalId, scheduler: this.scheduler.name }, 'submitted');
    this.o.push(op.jobId, op.serial, { kind: 'scheduler', externalId, state: 'submitted' });
    return { pid: 0, externalId };
  }

  async attach(op: AttachOp): Promise<{ known: boolean }> {
    if (!this.has(op.jobId, op.serial)) this.add(op.jobId, op.serial, op.runDir, op.externalId, op.logOffset, op.progress, op.steps ?? false);
    this.o.log.info({ jobId: op.jobId, externalId: op.externalId }, 're-attached scheduler job');
    void this.poll();
    return { known: true };
  }

  /** Cancels in the scheduler, then waits until the scheduler says the job has ended. */
  async cancel(jobId: string, serial: number, reason: string): Promise<{ known: boolean }> {
    if (!(await this.cancelSubmission(jobId, serial, reason))) return { known: true };
    const run = this.active.get(runKey(jobId, serial));
    if (!run) return { known: false };
    if (run.exitSeq !== null) return { known: true };
    run.cancelReason ??= reason;
    await this.scheduler.cancel(run.externalId);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CANCEL_CONFIRM_MS);
      this.endWaiters.set(runKey(jobId, serial), () => {
        clearTimeout(timer);
        resolve();
      });
      void this.poll();
    });
    return { known: true };
  }

  /**
   * A run being submitted: its submission stops (a command under way is let finish); unless
   * the scheduler took the job meanwhile, the run ends as canceled here and this returns false.
   * True: the caller goes on with the run's job (none was being submitted, or it was just taken).
   */
  private async cancelSubmission(jobId: string, serial: number, reason: string): Promise<boolean> {
    const key = runKey(jobId, serial);
    const sub = this.submitting.get(key);
    if (!sub) return true;
    sub.abort.abort('canceled');
    await sub.result.catch((err: unknown) => this.o.log.info({ jobId, serial, err: submitErrorText(err) }, 'submission ended by a cancel'));
    const run = this.active.get(key);
    if (run) {
      run.cancelReason ??= reason;
      return true;
    }
    this.o.push(jobId, serial, { kind: 'exit', status: 'canceled', exitCode: null, signal: null, reason: reason.slice(-4000) });
    return false;
  }

  acked(seq: number): void {
    for (const [key, run] of this.active) if (run.exitSeq !== null && run.exitSeq <= seq) this.active.delete(key);
  }

  flush(): void {
    /* log lines are sent as each poll reads them */
  }

  async stop(why: string): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.logWatch) clearInterval(this.logWatch);
    for (const s of this.submitting.values()) s.abort.abort(`the agent stopped (${why})`);
  }

  private add(jobId: string, serial: number, runDir: string, externalId: string, logOffset: number, progress: ProgressSpec, steps: boolean, timeLimitMs: number | null = null): void {
    const re = progress.kind === 'stdout' ? new RegExp(progress.pattern) : null;
    const progressFile = progress.kind === 'file' ? new ProgressFileReader(path.join(runDir, progress.path)) : null;
    this.active.set(runKey(jobId, serial), {
      jobId, serial, runDir, externalId, logOffset, progress: re, progressFile, seen: '', reason: '', reasonAskedAt: 0, started: false, startedAt: null, timeLimitMs, logSeen: false, unconfirmedSince: null, unknownSince: null, cancelReason: null, exitSeq: null, tail: [],
      // A run followed again from the middle of its log is most likely in its command.
      steps, exitSeen: false, phaseLines: 0, failed: null, inCommand: !steps || logOffset > 0, step: null,
    });
    this.logWatch ??= setInterval(() => void this.watchLogs(), this.policy.soonMs);
  }

  /** One round: a single queue query for every run this engine follows. Rounds never overlap; each schedules the next. */
  private poll(): Promise<void> {
    this.polling ??= this.round()
      .then(
        (changed) => this.scheduleNext(changed),
        // A round that broke must not end the polling: the next one comes as if nothing changed.
        (err: unknown) => {
          this.o.log.warn({ err: (err as Error).message }, 'scheduler poll failed');
          this.scheduleNext(false);
        },
      )
      .finally(() => (this.polling = null));
    return this.polling;
  }

  /** The next query at `at`, unless one is due sooner (or under way: it schedules the next itself, soon if `change`). */
  private pollSoon(at: number, change = true): void {
    if (change) this.changed = true;
    if (this.stopped || this.polling || at >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => void this.poll(), Math.max(0, at - Date.now()));
  }

  private scheduleNext(changed: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
    const live = [...this.active.values()].filter((r) => r.exitSeq === null);
    if (this.stopped || (live.length === 0 && this.submitting.size === 0)) {
      this.delay = null;
      return;
    }
    const now = Date.now();
    // Poll around the earliest expected end still ahead (a run past its time limit is no reason to poll more).
    const dues = live.flatMap((r) => (r.startedAt !== null && r.timeLimitMs !== null && r.startedAt + r.timeLimitMs > now ? [r.startedAt + r.timeLimitMs - now] : []));
    this.delay = nextPollDelay(this.delay, changed || this.changed, this.policy, dues.length > 0 ? Math.min(...dues) : undefined);
    this.o.log.debug({ delayMs: this.delay, changed: changed || this.changed, runs: live.length }, 'next scheduler query');
    this.changed = false;
    this.dueAt = now + this.delay;
    this.timer = setTimeout(() => void this.poll(), this.delay);
  }

  /** A run not yet seen started whose log file appeared has started: the scheduler is asked now (not sooner than pollSoonMs after its last query). */
  private async watchLogs(): Promise<void> {
    if (this.watching) return; // a slow file system: the previous look is not over
    this.watching = true;
    try {
      await this.lookForLogs();
    } finally {
      this.watching = false;
    }
  }

  private async lookForLogs(): Promise<void> {
    const now = Date.now();
    const live = [...this.active.values()].filter((r) => r.exitSeq === null);
    // The most recent runs only: a long queue's older runs wait for the scheduler anyway, and each look is a file system call (NFS on most clusters).
    const waiting = live.filter((r) => !r.started && !r.logSeen).slice(-LOG_WATCH_MAX);
    const lately = (r: BatchRun) => (r.started || r.logSeen) && (r.startedAt === null || now - r.startedAt < EXIT_WATCH_MS);
    if (waiting.length === 0 && !live.some(lately)) {
      // Nothing to look for until a run is added (add() starts the looks again).
      if (this.logWatch) clearInterval(this.logWatch);
      this.logWatch = null;
      return;
    }
    let appeared = false;
    for (const run of waiting) {
      if (await stat(path.join(run.runDir, RUN_LOG)).then(() => true, () => false)) appeared = run.logSeen = true;
    }
    const exited = await this.lookForExits(live.filter(lately));
    // A job that started may change again soon (the delays start afresh); one whose command ended only needs the next query, which ends it.
    if (appeared || exited) this.pollSoon(Math.max(Date.now(), this.lastQueryAt + this.policy.soonMs), appeared);
  }

  /**
   * Runs that started lately (LOG_WATCH_MAX of them, in turn): true when one's script recorded
   * its command's exit. The run ends at the next query (follow), not here: only a scheduler that
   * answers ends runs, so a run whose command ended during an outage stays unconfirmed until then.
   */
  private async lookForExits(lately: BatchRun[]): Promise<boolean> {
    const running = lately.filter((r) => !r.exitSeen);
    if (!this.scheduler.exited || running.length === 0) return false;
    const start = this.exitTurn % running.length;
    const look = Array.from({ length: Math.min(LOG_WATCH_MAX, running.length) }, (_, i) => running[(start + i) % running.length] as BatchRun);
    this.exitTurn = start + look.length;
    let seen = false;
    for (const run of look) {
      if ((await readExitStatus(run.runDir)) !== null) seen = run.exitSeen = true;
    }
    return seen;
  }

  /** The run's script recorded its command's exit code: the run ends with it (true), else false. */
  private async endedByScript(run: BatchRun): Promise<boolean> {
    if (!this.scheduler.exited) return false;
    const code = await readExitStatus(run.runDir);
    if (code === null) return false;
    run.exitSeen = true;
    await this.finish(run, this.scheduler.exited(code));
    return true;
  }

  /** One queue query and what follows from it; true when a run changed state (or ended). */
  private async round(): Promise<boolean> {
    const live = [...this.active.values()].filter((r) => r.exitSeq === null);
    if (live.length === 0) return false;
    this.lastQueryAt = Date.now();
    const before = live.map((r) => r.seen.split('|')[0]);
    await this.query(live);
    // A run that ended from its exit file is no reason to ask again soon (nothing more is to come from it).
    return live.some((r, i) => (r.exitSeq !== null && !r.exitSeen) || (r.exitSeq === null && r.seen.split('|')[0] !== before[i]));
  }

  private async query(live: BatchRun[]): Promise<void> {
    let q: Map<string, QueueEntry>;
    try {
      q = await this.scheduler.queue();
    } catch (err) {
      // The scheduler cannot be asked: nothing is known of its jobs, so nothing ends (not even a run whose exit file is there). Their logs are files, read all the same.
      for (const run of live) {
        this.unconfirmed(run, (err as Error).message);
        await this.tailLog(run).catch((e: unknown) => this.o.log.warn({ externalId: run.externalId, err: (e as Error).message }, 'run log could not be read'));
        await this.readProgressFile(run);
        // Only a job that runs writes its log.
        if (run.logOffset > 0) this.markStarted(run);
        await this.readPhases(run);
      }
      return;
    }
    await this.askReasons(live, q);
    for (const run of live) {
      try {
        await this.follow(run, q.get(run.externalId));
      } catch (err) {
        this.unconfirmed(run, (err as Error).message);
      }
    }
  }

  /** For schedulers that give reasons apart: one command for the queued runs whose state changed or whose reason is old. */
  private async askReasons(live: BatchRun[], q: Map<string, QueueEntry>): Promise<void> {
    if (!this.scheduler.pendingReasons) return;
    const now = Date.now();
    const ask = live.filter((r) => {
      const e = q.get(r.externalId);
      if (!e || this.scheduler.phaseOf(e.state, '', null).phase === 'running') return false;
      return !r.seen.startsWith(`${e.state}|`) || now - r.reasonAskedAt > REASON_REFRESH_MS;
    });
    if (ask.length === 0) return;
    const reasons = await this.scheduler.pendingReasons(ask.map((r) => r.externalId)).catch(() => new Map<string, string>());
    for (const r of ask) {
      r.reason = reasons.get(r.externalId) ?? r.reason;
      r.reasonAskedAt = now;
    }
  }

  private async follow(run: BatchRun, entry: QueueEntry | undefined): Promise<void> {
    // Its command ended by itself (a job still listed is only finishing): no need to ask the scheduler's records.
    if (await this.endedByScript(run)) return;
    if (entry) {
      run.unconfirmedSince = null;
      run.unknownSince = null;
      const reason = entry.reason || run.reason;
      const phase = this.scheduler.phaseOf(entry.state, reason, null);
      this.report(run, entry.state, reason, entry.estimatedStart);
      if (phase.phase === 'running') this.markStarted(run);
      await this.tailLog(run);
      await this.readProgressFile(run);
      await this.readPhases(run);
      if (phase.phase !== 'ended') return;
      // Ended while still listed (e.g. a job in an error state): take it out of the queue.
      await this.scheduler.cancel(run.externalId).catch(() => undefined);
      return this.finish(run, { state: entry.state, reason, exitCode: null });
    }
    const done = await this.scheduler.lookUp(run.externalId);
    if (!done) {
      this.unknown(run);
      return;
    }
    await this.finish(run, done);
  }

  private async finish(run: BatchRun, done: EndedJob): Promise<void> {
    const phase = this.scheduler.phaseOf(done.state, done.reason, done.exitCode);
    if (phase.phase !== 'ended') return;
    this.report(run, done.state, done.reason, '');
    // A job may have run entirely between two polls: it did start if it completed or failed.
    if (phase.status !== 'canceled' || run.logOffset > 0) this.markStarted(run);
    await this.tailLog(run);
    // The last progress the command wrote goes before the run's end.
    await this.readProgressFile(run);
    await this.readPhases(run);
    if (phase.status === 'error' && run.failed && run.failed.step !== 'command') return this.stepFailed(run, run.failed);
    const reason = phase.status === 'canceled' && run.cancelReason ? run.cancelReason : phase.status === 'error' && run.tail.length ? `${run.tail.join('\n')}\n(${phase.reason})` : phase.reason;
    this.end(run, phase.status, reason, phase.status === 'completed' ? 0 : done.exitCode, null, phase.cause);
  }

  private markStarted(run: BatchRun): void {
    if (run.started) return;
    run.started = true;
    run.startedAt = Date.now();
    this.o.push(run.jobId, run.serial, { kind: 'started', pid: 0 });
    if (!run.steps) this.o.push(run.jobId, run.serial, { kind: 'phase', phase: 'running' });
  }

  /**
   * A run with steps: the phases its script recorded since the last poll (PHASE_FILE), sent with
   * the time the script wrote, and the step that failed, if one did. Only a job that runs writes it.
   */
  private async readPhases(run: BatchRun): Promise<void> {
    if (!run.steps) return;
    const read = await readPhaseFile(run.runDir, run.phaseLines);
    if (read.lines <= run.phaseLines) return;
    this.markStarted(run);
    for (const u of read.updates) {
      run.step = stepOf(u.phase);
      this.o.push(run.jobId, run.serial, u);
    }
    run.failed = read.failed ?? run.failed;
    run.phaseLines = read.lines;
  }

  /** The script said a step other than the command failed: the reason names the step, its output's tail and how it ended. */
  private stepFailed(run: BatchRun, failed: NonNullable<BatchRun['failed']>): void {
    const signal = failed.code > 128 ? signalName(failed.code - 128) : null;
    const how = signal ? `killed by ${signal}` : `exited with code ${failed.code}`;
    this.end(run, 'error', stepFailure(failed.step, run.tail.length ? `${run.tail.join('\n')}\n(${how})` : `the command ${how}`), failed.code, signal);
  }

  private end(run: BatchRun, status: RunEnd, reason: string | undefined, exitCode: number | null, signal: string | null = null, cause?: RunCause): void {
    const step = run.steps ? (run.failed?.step ?? run.step) : null;
    const exit = { kind: 'exit' as const, status, exitCode, signal, ...(reason ? { reason: reason.slice(-4000) } : {}), ...(step ? { step } : {}), ...(cause ? { cause } : {}) };
    run.exitSeq = this.o.push(run.jobId, run.serial, exit);
    const key = runKey(run.jobId, run.serial);
    this.endWaiters.get(key)?.();
    this.endWaiters.delete(key);
  }

  private report(run: BatchRun, state: string, reason: string, estimatedStart: string): void {
    const seen = `${state}|${reason}|${estimatedStart}`;
    if (seen === run.seen) return;
    run.seen = seen;
    this.o.push(run.jobId, run.serial, {
      kind: 'scheduler',
      externalId: run.externalId,
      state: state.slice(0, 40),
      ...(reason ? { reason: reason.slice(0, 500) } : {}),
      ...(estimatedStart ? { estimatedStart: estimatedStart.slice(0, 40) } : {}),
    });
  }

  /** The run keeps its state, marked unconfirmed (said once, until the scheduler lists the job again). Never ends it. */
  private unconfirmed(run: BatchRun, why: string): void {
    if (run.unconfirmedSince !== null) return;
    run.unconfirmedSince = Date.now();
    this.o.log.warn({ externalId: run.externalId, why }, 'scheduler state unconfirmed');
    const state = run.seen.split('|')[0] || 'UNKNOWN';
    this.o.push(run.jobId, run.serial, { kind: 'scheduler', externalId: run.externalId, state, reason: why.slice(0, 500), unconfirmed: true });
    run.seen = '';
  }

  /** The scheduler answered and knows the job neither in its queue nor in its records: unconfirmed, then, past the grace, ended as error. */
  private unknown(run: BatchRun): void {
    const now = Date.now();
    const why = `${this.scheduler.title} no longer knows job ${run.externalId}`;
    this.unconfirmed(run, why);
    run.unknownSince ??= now;
    if (now - run.unknownSince <= this.o.unconfirmedGraceMs) return;
    this.end(run, 'error', `${why}: neither in its queue nor in its records for ${Math.round((now - run.unknownSince) / 1000)} s`, null);
  }

  /**
   * Sends the log lines written since the last offset, and the progress they report: in as many
   * updates as they need (each within the outbox's limits), each with the offset after its lines.
   */
  private async tailLog(run: BatchRun): Promise<void> {
    let fh;
    try {
      fh = await open(path.join(run.runDir, RUN_LOG), 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(MAX_LOG_READ);
      const { bytesRead } = await fh.read(buf, 0, buf.length, run.logOffset);
      const data = buf.subarray(0, bytesRead);
      const lines: string[] = [];
      const ends: number[] = [];
      for (let start = 0, nl = data.indexOf(10); nl >= 0; start = nl + 1, nl = data.indexOf(10, start)) {
        lines.push(data.subarray(start, nl).toString('utf8'));
        ends.push(nl + 1);
      }
      if (lines.length === 0) return;
      const base = run.logOffset;
      let sent = 0;
      for (const group of groupLines(lines.map(cutLine))) {
        sent += group.length;
        run.logOffset = base + (ends[sent - 1] as number);
        this.o.push(run.jobId, run.serial, { kind: 'log', lines: group, offset: run.logOffset });
      }
      this.progressFrom(run, lines);
    } finally {
      await fh.close();
    }
  }

  private async readProgressFile(run: BatchRun): Promise<void> {
    const p = await run.progressFile?.read();
    if (p) this.o.push(run.jobId, run.serial, { kind: 'progress', ...p });
  }

  private progressFrom(run: BatchRun, lines: string[]): void {
    let last: Update | undefined;
    for (const line of lines) {
      const step = run.steps ? STEP_BANNER.exec(line)?.[1] : undefined;
      if (step) {
        // The next step speaks: its tail starts afresh, and only the command's lines are progress.
        run.inCommand = step === 'command';
        run.tail = [];
        continue;
      }
      const m = run.inCommand ? run.progress?.exec(line) : null;
      if (line.trim() && !m) run.tail = [...run.tail, line].slice(-3);
      const value = m ? Number(m[1]) : NaN;
      if (m && Number.isFinite(value)) last = { kind: 'progress', value: Math.min(1, Math.max(0, value)), ...(line.slice(m[0].length).trim() ? { message: line.slice(m[0].length).trim().slice(0, 500) } : {}) };
    }
    if (last) this.o.push(run.jobId, run.serial, last);
  }
}
