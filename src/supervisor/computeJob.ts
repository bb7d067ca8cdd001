/**
 * ComputeJob: owns one job's state machine and its run and cancel ops. Every transition is
 * one function that asserts its allowed source states, persists the row, logs, and emits a
 * typed event — in that order.
 */
import type { JobEvent, JobView } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { RunResult, type Op, type RunCause, type RunEnd, type Update } from '../shared/protocol.js';
import { isActive, type Status } from '../shared/types.js';
import type { Template } from '../shared/template.js';
import type { JobRow, JobStore } from './store.js';
import type { ManagedAgent } from './agents.js';
import { OpAbandoned, isRetryable, sendOp, sendToAgent, type OpContext } from './opLoop.js';
import { Slots, type Release } from './slots.js';
import { buildRunOp } from './runOp.js';
import { applyUpdate } from './updates.js';
import { storageError } from '../shared/storageErrors.js';
import { causeOfExit, defaultCause } from './notify/cause.js';

/** How long a run op that could not store its state waits before it starts again. */
const STORAGE_RETRY_MS = 2000;

export interface JobContext extends OpContext {
  store: JobStore;
  log: Logger;
  /** `quiet`: a step that is no event of its own (see eventCoalescer.ts). */
  emit(event: JobEvent, quiet?: boolean): void;
  cpuSlots(row: JobRow, pool: string): Slots;
  runDir(row: JobRow): string;
  templatesDir(row: JobRow): string;
  maxTimeSeconds(row: JobRow): number;
  /** Lets a run's driver complete its run op (a cluster run: the batch script). */
  prepareRunOp(row: JobRow, template: Template, op: Extract<Op, { kind: 'run' }>): Extract<Op, { kind: 'run' }>;
  /** How users read the run's target, and its scheduler's name (null when it has none). */
  describeTarget(row: JobRow): { title: string; scheduler: string | null };
  /** Copies the run's input files into its run directory through this agent (runs with inputs only). */
  stageInputs?(row: JobRow, agent: ManagedAgent, runDir: string, signal: AbortSignal): Promise<void>;
  /** How long a cancel waits for the agent that runs the cmd. */
  agentWaitMs: number;
  now(): number;
  /** Hears every run's end, once the ended row is stored (notifications, callbacks). */
  onRunEnd?(row: JobRow): void;
  /** Hears every run that starts running, once its row is stored (metrics). */
  onRunning?(row: JobRow): void;
  /** Sends the run's template to the worker it was placed on (workers without their own copy of the templates). */
  syncTemplate?(agent: ManagedAgent, template: Template, signal: AbortSignal): Promise<void>;
  /** Where on its target a run's requirements let it go now: anywhere, some pools only (a docker target's engines), or nowhere (why). */
  fit?(row: JobRow, template: Template): { pools?: string[]; noun?: string } | { why: string };
  /** Targets whose runs are placed by labels on one of many agents (enrolled workers): the agent chosen, its slots taken. */
  placement?: {
    handles(row: JobRow): boolean;
    place(row: JobRow, template: Template, signal: AbortSignal, onWaiting: (why: string) => void): Promise<{ agent: ManagedAgent; worker: string; release: Release }>;
  };
}

/** What the current run holds until it ends: slots and the agent lease. */
interface Held {
  releases: Release[];
  leasedAgent: string | null;
}

const NEXT_REQUEST_MS: Record<Status, number | null> = {
  pending: 1000,
  running: 2000,
  completed: null,
  error: null,
  canceled: null,
  missing: null,
  purged: null,
};

/** The fields of a run that has just been queued. */
export function freshRun(now: number) {
  return {
    status: 'pending' as const,
    progress: null,
    progressMessage: null,
    reason: null,
    queuedAt: now,
    startedAt: null,
    endedAt: null,
    updatedAt: now,
    logLines: 0,
    agentId: null,
    pid: null,
    sent: false,
    externalId: null,
    logOffset: 0,
    scheduler: null,
    phase: null,
    phaseTimes: {},
    cause: null,
    stale: null,
    files: 'kept' as const,
    bytes: null,
  };
}

export class ComputeJob {
  waitingFor: string | null = null;
  queuePosition: number | null = null;
  private readonly runDirSlot = new Slots('run-dir', 1);
  private runAbort: AbortController | null = null;
  private held: Held = { releases: [], leasedAgent: null };
  private readonly endWaiters = new Set<() => void>();
  /** The run op stopped because the user must log in to the cluster; a login resumes it. */
  awaitingLogin = false;
  /** The reason of a cancel under way for the current run, if any. */
  private canceling: string | null = null;

  constructor(
    public row: JobRow,
    private readonly ctx: JobContext,
  ) {}

  get id(): string {
    return this.row.id;
  }

  view(withHistory = true): JobView {
    const r = this.row;
    return {
      jobId: r.id,
      user: r.user,
      jobKey: r.jobKey,
      template: r.template,
      target: r.target,
      size: r.size,
      driver: r.driver,
      options: r.options,
      serial: r.serial,
      status: r.status,
      parameters: r.parameters,
      progress: r.progress,
      progressMessage: r.progressMessage,
      waitingFor: isActive(r.status) ? this.waitingFor : null,
      loginRequired: isActive(r.status) && (this.awaitingLogin || (r.sent && r.agentId === null && r.externalId !== null)),
      queuePosition: isActive(r.status) ? this.queuePosition : null,
      reason: r.reason,
      queuedAt: r.queuedAt,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      phase: r.status === 'running' ? r.phase : null,
      phaseTimes: r.phaseTimes,
      updatedAt: r.updatedAt,
      logLines: r.logLines,
      externalId: r.externalId,
      scheduler: r.scheduler && { name: this.ctx.describeTarget(r).scheduler ?? r.driver, ...r.scheduler },
      nextRequestMs: NEXT_REQUEST_MS[r.status],
      cause: r.cause,
      stale: isActive(r.status) ? r.stale : null,
      history: withHistory ? this.ctx.store.history(r.id) : [],
      inputs: r.inputs.map((i) => ({ name: i.name, fileName: i.fileName, size: i.size, sha256: i.sha256 })),
      files: r.files ?? 'kept',
      bytes: r.bytes,
      scheduleId: r.scheduleId ?? null,
      scheduleName: r.scheduleName ?? null,
    };
  }

  // ---- transitions -------------------------------------------------------------------

  /** Starts a new run (serial + 1, or the first one). The previous run, if any, goes into the history. */
  startRun(next: Pick<JobRow, 'template' | 'target' | 'driver' | 'size' | 'parameters' | 'options' | 'notify' | 'callbackUrl' | 'runDir' | 'ownerRole'> & Partial<Pick<JobRow, 'inputs'>>, template: Template, isFirst: boolean): void {
    if (!isFirst) this.assertFrom('pending', ['completed', 'error', 'canceled', 'missing', 'purged']);
    const previous = this.row;
    const now = this.ctx.now();
    const row = { ...previous, inputs: [], ...next, ...freshRun(now), serial: isFirst ? previous.serial : previous.serial + 1 };
    this.commit(row, isFirst ? undefined : (r) => this.ctx.store.archiveAndSave(previous, r));
    this.waitingFor = 'queued';
    this.queuePosition = null;
    this.canceling = null;
    this.announce('run queued', {}, 'debug');
    this.launch(template);
  }

  /**
   * Holds a run a batch stored as queued (in one transaction with the batch's others, see
   * batch.ts): the row is in the database already. `launchQueued` then starts its op.
   */
  holdQueued(row: JobRow): void {
    if (this.row !== row) {
      if (row.serial !== this.row.serial) this.assertFrom('pending', ['completed', 'error', 'canceled', 'missing', 'purged']);
      this.row = row;
    }
    this.waitingFor = 'queued';
    this.queuePosition = null;
    this.canceling = null;
  }

  /** Starts the op of a run holdQueued holds, unless it ended (canceled) or was replaced meanwhile. */
  launchQueued(serial: number, template: Template): void {
    if (this.row.serial !== serial || this.row.status !== 'pending' || this.runAbort !== null) return;
    this.announce('run queued', {}, 'debug');
    this.launch(template);
  }

  private toRunning(pid: number): void {
    if (this.row.status === 'running') return;
    this.assertFrom('running', ['pending']);
    const now = this.ctx.now();
    this.commit({ ...this.row, status: 'running', pid, startedAt: now, updatedAt: now, stale: null });
    this.waitingFor = null;
    this.queuePosition = null;
    this.announce('run started', {}, 'debug');
    this.ctx.onRunning?.(this.row);
  }

  /** A run handed to a scheduler: it stays pending, now known by the scheduler's job id. */
  private submitted(externalId: string): void {
    if (this.row.externalId !== externalId) {
      this.commit({ ...this.row, externalId, updatedAt: this.ctx.now() });
    }
    this.setWaiting(`${this.schedulerJob(externalId)}: submitted`);
  }

  /** "<scheduler> job 123", as users read it. */
  private schedulerJob(externalId: string | null): string {
    return `${this.ctx.describeTarget(this.row).scheduler ?? 'scheduler'} job ${externalId ?? '?'}`;
  }

  /**
   * Ends the current run. `cause` says whose fault it is (default: a cancel is the user's, an
   * error the system's: the supervisor's own end paths are never the user's command failing).
   * `save` lets an update's sequence number be saved in the same transaction.
   */
  end(status: RunEnd, reason: string | null, save: (row: JobRow) => void = (r) => this.ctx.store.saveJob(r), cause: RunCause | null = defaultCause(status), bytes?: number): void {
    this.assertFrom(status, ['pending', 'running']);
    const now = this.ctx.now();
    // `bytes`: the run folder's size, when the agent measured it at the end (else retention asks).
    this.commit({ ...this.row, status, reason, cause, endedAt: now, updatedAt: now, progress: status === 'completed' ? 1 : this.row.progress, ...(bytes === undefined ? {} : { bytes }) }, save);
    this.waitingFor = null;
    this.queuePosition = null;
    this.releaseHeld();
    this.runAbort?.abort(new OpAbandoned(`run ended: ${status}`));
    this.runAbort = null;
    this.announce('run ended', { reason }, status === 'completed' ? 'debug' : 'info');
    for (const w of this.endWaiters) w();
    this.endWaiters.clear();
    try {
      this.ctx.onRunEnd?.(this.row);
    } catch (err) {
      this.ctx.log.error({ jobId: this.row.id, err }, 'a run-end hook failed');
    }
  }

  /** Flags (or clears, with null) the run as over its expected time in its state; stored, then emitted. */
  setStale(stale: JobRow['stale']): void {
    if (!isActive(this.row.status) || JSON.stringify(stale) === JSON.stringify(this.row.stale)) return;
    this.commit({ ...this.row, stale });
    this.announce(stale ? 'run is stale' : 'run no longer stale', { stale });
  }

  /** Persists a new row, then holds it: a row that cannot be saved (disk full, database locked) leaves the job as it was. */
  private commit(next: JobRow, save: (row: JobRow) => void = (r) => this.ctx.store.saveJob(r)): void {
    save(next);
    this.row = next;
  }

  private assertFrom(to: Status, allowed: Status[]): void {
    if (!allowed.includes(this.row.status)) {
      throw new JobvisorError('INTERNAL', `job ${this.row.id}: transition ${this.row.status} → ${to} is not allowed`);
    }
  }

  /**
   * Logs a transition and emits it. A run's queuing, start and end as `completed` are logged at
   * debug (every run makes them, and a log line written at once costs about as much as the rest
   * of the transition; the job's events and metrics tell them); any other end, and everything
   * else, at info.
   */
  private announce(msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'debug' = 'info'): void {
    const r = this.row;
    this.ctx.log[level]({ jobId: r.id, serial: r.serial, status: r.status, target: r.target, agentId: r.agentId, ...fields }, msg);
    this.emitView();
  }

  /** Events carry the job without its history (a client that wants it asks for the job). */
  private emitView(quiet = false): void {
    this.ctx.emit({ type: 'job', user: this.row.user, job: this.view(false) }, quiet);
  }

  /**
   * What the run waits for now, and its place in the queue of a CPU slot. Events tell the job
   * how it waits (a new `what`, with its place then); moving up in the same queue is no event
   * (every start would tell every waiter, O(n²) events for a queue of n): the job view (GET
   * /api/jobs/:jobId) always has the exact place. `tell: false` keeps a step out of the events
   * (a step as short as the round trip to the agent, whose answer is the next event anyway):
   * it only updates an event of this turn not sent yet (eventCoalescer.ts).
   */
  private setWaiting(what: string | null, position: number | null = null, tell = true): void {
    if (this.waitingFor === what && this.queuePosition === position) return;
    const moved = what === this.waitingFor;
    this.waitingFor = what;
    this.queuePosition = position;
    if (moved) return;
    this.emitView(!tell);
  }

  // ---- the run op ----------------------------------------------------------------------

  private launch(template: Template): void {
    const abort = new AbortController();
    this.runAbort = abort;
    void this.runLoop(this.row.serial, template, abort.signal);
  }

  /** Resumes the run op after a supervisor restart (the op is idempotent on the agent); what the run held is taken again in turn. */
  resume(template: Template): void {
    this.awaitingLogin = false;
    if (this.row.status !== 'pending') return;
    this.releaseHeld();
    this.launch(template);
  }

  private recheck(serial: number, signal: AbortSignal): void {
    if (signal.aborted) throw signal.reason ?? new OpAbandoned('aborted');
    if (this.row.serial !== serial || this.row.status !== 'pending') throw new OpAbandoned('the run is no longer pending');
  }

  private async runLoop(serial: number, template: Template, signal: AbortSignal): Promise<void> {
    const recheck = () => this.recheck(serial, signal);
    try {
      if (this.ctx.placement?.handles(this.row)) return await this.runPlaced(template, signal, recheck);
      const fit = this.ctx.fit?.(this.row, template) ?? {};
      // Queued before the target's configuration changed (a restart): it waits for one that fits.
      if ('why' in fit) return this.setWaiting(`${fit.why}; it waits for the target's configuration to have it`);
      const target = { target: this.row.target, user: this.row.user, size: this.row.size, ...(fit.pools ? { pools: fit.pools } : {}) };
      const where = fit.pools ? ` on ${fit.noun ?? 'pool'} ${fit.pools.join(' or ')}` : '';
      this.setWaiting(`starting agent${where}`);
      const agent = await this.ctx.agents.connected(target.target, target.user, target.size, signal, target.pools);
      this.leaseAgent(agent);
      recheck();
      this.setWaiting('waiting for the run directory');
      this.held.releases.push(await this.runDirSlot.acquire(signal));
      recheck();
      const cpu = this.ctx.cpuSlots(this.row, agent.handle.pool);
      const cores = template.resources.cores;
      const slotsWord = cores > 1 ? `waiting for ${Math.min(cores, cpu.total)} CPU slots` : 'waiting for a CPU slot';
      const what = fit.pools ? `${slotsWord} on ${fit.noun ?? 'pool'} ${agent.handle.pool} (the run's requirements fit ${fit.pools.join(', ')})` : slotsWord;
      this.held.releases.push(await cpu.acquire(signal, (pos) => this.setWaiting(what, pos), cores, this.row.user));
      recheck();
      if (this.row.inputs.length > 0 && this.ctx.stageInputs) {
        this.setWaiting('staging input files');
        await this.ctx.stageInputs(this.row, agent, this.ctx.runDir(this.row), signal);
        recheck();
      }
      // Not an event of its own: the agent's answer (running) follows within a round trip.
      this.setWaiting('starting run', null, false);
      const op = this.ctx.prepareRunOp(this.row, template, buildRunOp(this.row, template, this.ctx.runDir(this.row), this.ctx.templatesDir(this.row), this.ctx.maxTimeSeconds(this.row)));
      // To the pool whose CPU slots the run holds (a user may have agents in several).
      const result = RunResult.parse(await sendOp(this.ctx, { ...target, pools: [agent.handle.pool] }, op, signal, { recheck, onAgent: (a) => this.markSent(a) }));
      // The op is done: nothing is left to abort when the run ends.
      if (this.runAbort?.signal === signal) this.runAbort = null;
      // The agent's `started` (or its exit) often comes before this answer: nothing is left to do then.
      if (signal.aborted || this.row.serial !== serial || this.row.status !== 'pending') return;
      if (result.externalId) this.submitted(result.externalId);
      else this.toRunning(result.pid);
    } catch (err) {
      this.runFailed(serial, err, template);
    }
  }

  /**
   * A run on enrolled workers: placed on a connected worker whose labels and free slots fit
   * (waiting, and saying why, while none does), and placed again if that worker goes before the
   * run op is sent. A run op sent to a worker that went away waits for it (workerLostGraceMs).
   */
  private async runPlaced(template: Template, signal: AbortSignal, recheck: () => void): Promise<void> {
    const placement = this.ctx.placement as NonNullable<JobContext['placement']>;
    this.setWaiting('waiting for the run directory');
    this.held.releases.push(await this.runDirSlot.acquire(signal));
    recheck();
    for (;;) {
      const placed = await placement.place(this.row, template, signal, (why) => this.setWaiting(why));
      const unlease = this.ctx.agents.lease(placed.agent);
      const release = () => (placed.release(), unlease());
      const agent = placed.agent;
      try {
        recheck();
        if (this.ctx.syncTemplate) {
          this.setWaiting(`sending template ${template.name} to worker ${placed.worker}`);
          await this.ctx.syncTemplate(agent, template, signal);
          recheck();
        }
        if (this.row.inputs.length > 0 && this.ctx.stageInputs) {
          this.setWaiting(`staging input files on worker ${placed.worker}`);
          await this.ctx.stageInputs(this.row, agent, this.ctx.runDir(this.row), signal);
          recheck();
        }
      } catch (err) {
        release();
        if (isRetryable(err) && !signal.aborted) continue;
        throw err;
      }
      if (!this.ctx.hub.isConnected(agent.id)) {
        release();
        continue;
      }
      this.held.releases.push(release);
      this.held.leasedAgent = agent.id;
      this.setWaiting(`starting run on worker ${placed.worker}`);
      const op = this.ctx.prepareRunOp(this.row, template, buildRunOp(this.row, template, this.ctx.runDir(this.row), this.ctx.templatesDir(this.row), this.ctx.maxTimeSeconds(this.row)));
      this.markSent(agent);
      let result: { pid: number };
      try {
        result = RunResult.parse(await this.ctx.hub.send(agent.id, op, signal));
      } catch (err) {
        if (!isRetryable(err)) throw err;
        this.setWaiting(`sent to worker ${placed.worker}, which went away: waiting for it to come back`);
        return;
      }
      recheck();
      this.toRunning(result.pid);
      return;
    }
  }

  private runFailed(serial: number, err: unknown, template: Template): void {
    if (err instanceof OpAbandoned || this.row.serial !== serial || this.row.status !== 'pending') return;
    const storage = storageError(err, 'the supervisor');
    if (storage) return this.retryLater(serial, storage, template);
    if (err instanceof JobvisorError && err.code === 'LOGIN_REQUIRED') {
      this.awaitingLogin = true;
      this.releaseHeld();
      this.setWaiting(`login required: log in to ${this.ctx.describeTarget(this.row).title} to submit this run`);
      return;
    }
    const message = err instanceof JobvisorError && err.expose ? err.message : 'internal error while starting the run';
    if (!(err instanceof JobvisorError)) this.ctx.log.error({ jobId: this.row.id, serial, err }, 'run op failed');
    try {
      this.end('error', message);
    } catch (endErr) {
      const storage = storageError(endErr, 'the supervisor');
      if (!storage) throw endErr;
      this.retryLater(serial, storage, template);
    }
  }

  /**
   * The run op could not store what it did (disk full, database locked): the run stays pending,
   * says why, and its op starts again from the top after a while (the run op is idempotent on the agent).
   */
  private retryLater(serial: number, storage: JobvisorError, template: Template): void {
    this.releaseHeld();
    this.ctx.log.warn({ jobId: this.row.id, serial, code: storage.code, err: storage.message }, 'run op could not store its state; trying again');
    this.setWaiting(`${storage.message.split(':')[0]}: trying again`);
    const signal = this.runAbort?.signal;
    const timer = setTimeout(() => {
      if (this.row.serial === serial && this.row.status === 'pending' && this.runAbort?.signal === signal && !signal?.aborted) this.launch(template);
    }, STORAGE_RETRY_MS);
    timer.unref();
  }

  private leaseAgent(agent: ManagedAgent): void {
    if (this.held.leasedAgent === agent.id) return;
    this.held.releases.push(this.ctx.agents.lease(agent));
    this.held.leasedAgent = agent.id;
  }

  private markSent(agent: ManagedAgent): void {
    this.leaseAgent(agent);
    if (this.row.sent && this.row.agentId === agent.id) return;
    this.commit({ ...this.row, sent: true, agentId: agent.id, updatedAt: this.ctx.now() });
  }

  private releaseHeld(): void {
    const { releases } = this.held;
    this.held = { releases: [], leasedAgent: null };
    for (const r of releases.reverse()) r();
  }

  /**
   * A run sent to an agent before a supervisor restart: hold its agent and slots again (at once
   * when the supervisor restarts, with `running` false; again when the agent reports the run).
   */
  readopt(agent: ManagedAgent, pid: number, running: boolean, cores: number): void {
    if (this.held.releases.length === 0) {
      const cpu = this.ctx.cpuSlots(this.row, agent.handle.pool);
      this.held.releases.push(this.runDirSlot.take(), cpu.take(Math.min(cores, cpu.total)));
    }
    this.leaseAgent(agent);
    if (running && this.row.status === 'pending') this.toRunning(pid);
  }

  /** The agent that runs this job ended: the run ends with it, as canceled if a cancel was under way. */
  agentGone(reason: string): void {
    if (!isActive(this.row.status) || !this.row.sent) return;
    if (this.row.externalId !== null) return this.detach(reason);
    if (this.canceling !== null) this.end('canceled', this.canceling);
    else this.end('error', `the agent running this job ended: ${reason}`);
  }

  /**
   * The supervisor found the run past its time limit plus a grace, its agent having not ended
   * it: it is canceled (an agent that does not answer the cancel is stopped, which ends its cmds).
   */
  overdue(reason: string): void {
    if (this.row.status !== 'running' || this.canceling !== null) return;
    this.ctx.log.warn({ jobId: this.row.id, serial: this.row.serial, agentId: this.row.agentId, reason }, 'run past its time limit; the supervisor ends it');
    this.cancel(undefined, reason).catch((err: unknown) => this.ctx.log.warn({ jobId: this.row.id, err: (err as Error).message }, 'an overdue run could not be canceled'));
  }

  /** Its agent, asked at `serial`, does not have the run: a run it should have (running, or in its scheduler) ends as error. */
  lostByAgent(agentId: string, serial: number, reason: string): void {
    const r = this.row;
    if (r.serial !== serial || r.agentId !== agentId || !r.sent || this.canceling !== null) return;
    if (r.status === 'running' || (r.status === 'pending' && r.externalId !== null)) this.end('error', reason);
  }

  /** A scheduler's job outlives its agent: it keeps its state and waits for a new login to be followed again. */
  private detach(reason: string): void {
    this.runAbort?.abort(new OpAbandoned('agent gone'));
    this.releaseHeld();
    this.commit({ ...this.row, agentId: null, updatedAt: this.ctx.now() });
    this.waitingFor = `login required: log in to ${this.ctx.describeTarget(this.row).title} again to follow ${this.schedulerJob(this.row.externalId)} (${reason})`;
    this.announce('run detached from its agent', { reason });
  }

  /** Follows a scheduler's job again with a new agent of its user. */
  attach(agent: ManagedAgent, op: Extract<Op, { kind: 'attach' }>): void {
    this.leaseAgent(agent);
    if (this.held.releases.length === 1) this.held.releases.push(this.runDirSlot.take(), this.ctx.cpuSlots(this.row, agent.handle.pool).take());
    this.commit({ ...this.row, agentId: agent.id, updatedAt: this.ctx.now() });
    this.waitingFor = this.row.status === 'pending' ? `${this.schedulerJob(this.row.externalId)}: re-attached` : null;
    this.announce('run re-attached', { agentId: agent.id });
    this.ctx.hub.send(agent.id, op).catch((err: unknown) => this.ctx.log.warn({ jobId: this.row.id, err: (err as Error).message }, 'attach op failed'));
  }

  // ---- cancel --------------------------------------------------------------------------

  async cancel(serial: number | undefined, reason: string): Promise<void> {
    if (serial !== undefined && serial !== this.row.serial) {
      throw new JobvisorError('STALE_SERIAL', `run ${serial} is not the current run (${this.row.serial})`);
    }
    if (!isActive(this.row.status)) throw new JobvisorError('JOB_NOT_ACTIVE', `the job has already ended (${this.row.status})`);
    const current = this.row.serial;
    this.canceling = reason;
    this.runAbort?.abort(new OpAbandoned('canceled'));
    if (this.row.sent && !this.row.agentId && this.row.externalId) {
      throw new JobvisorError('LOGIN_REQUIRED', `log in to ${this.ctx.describeTarget(this.row).title} (target ${this.row.target}) to cancel ${this.schedulerJob(this.row.externalId)}`, { target: this.row.target });
    }
    if (!this.row.sent || !this.row.agentId) {
      this.end('canceled', reason);
      return;
    }
    const agentId = this.row.agentId;
    const ended = this.whenEnded(this.ctx.agentWaitMs);
    const signal = AbortSignal.timeout(this.ctx.agentWaitMs);
    try {
      const op = { kind: 'cancel' as const, jobId: this.row.id, serial: current, reason };
      const r = (await sendToAgent(this.ctx, agentId, op, signal, this.ctx.agentWaitMs)) as { known: boolean };
      if (!r.known && this.row.serial === current && isActive(this.row.status)) this.end('canceled', reason);
      await ended;
    } catch (err) {
      if (this.row.serial !== current || !isActive(this.row.status)) return;
      this.ctx.log.warn({ jobId: this.row.id, err: (err as Error).message }, 'cancel could not reach the agent; stopping it');
      // The run ends with its agent (agentGone) or here, whichever comes first: either way, saying so.
      this.canceling = `${reason} (the agent did not answer and was stopped)`;
      const agent = this.ctx.agents.get(agentId);
      if (agent) await this.ctx.agents.stop(agent, 'cancel could not reach it');
      if (this.row.serial === current && isActive(this.row.status)) this.end('canceled', this.canceling);
    }
  }

  private whenEnded(timeoutMs: number): Promise<void> {
    if (!isActive(this.row.status)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.endWaiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      this.endWaiters.add(done);
    });
  }

  // ---- updates from the agent ------------------------------------------------------------

  /** Applies one update of the current run; `save` persists the row with the update's sequence number. */
  applyUpdate(update: Update, save: (row: JobRow | undefined) => void): JobEvent[] {
    if (update.kind === 'exit') {
      this.end(update.status, update.reason ?? null, save, causeOfExit(update), update.bytes);
      return [];
    }
    const before = this.row;
    const applied = applyUpdate(before, update, this.ctx.now(), this.ctx.describeTarget(before).scheduler ?? before.driver);
    const started = before.status === 'pending' && applied.row.status === 'running';
    // An update that changed nothing (`started` after the run op's answer) stores its sequence number only.
    if (applied.row === before) save(undefined);
    else this.commit(applied.row, save);
    if (started) this.ctx.onRunning?.(this.row);
    if (applied.waitingFor !== undefined) {
      this.waitingFor = applied.waitingFor;
      this.queuePosition = null;
    }
    const events: JobEvent[] = [];
    if (applied.lines) events.push({ type: 'log', user: this.row.user, jobId: this.row.id, serial: this.row.serial, lines: applied.lines, logLines: this.row.logLines });
    // Lines and progress change nothing else the view shows: a small event each, not the whole view (issue 13).
    if (update.kind === 'log') return events;
    if (update.kind === 'progress') {
      const { user, id: jobId, serial, progress, progressMessage, updatedAt } = this.row;
      return [{ type: 'progress', user, jobId, serial, progress, progressMessage, updatedAt }];
    }
    // No event for an update that changed nothing the view shows (`started` after the run op's
    // answer said so), and none of its own for the first phase `running` of a running run (the
    // status says it): it joins an event of this turn if there is one (eventCoalescer.ts).
    const unchanged = applied.row === before && applied.waitingFor === undefined && !applied.lines;
    const firstRunningPhase = update.kind === 'phase' && update.phase === 'running' && applied.row.status === 'running' && Object.keys(before.phaseTimes).length === 0;
    if (unchanged) return events;
    if (firstRunningPhase) this.emitView(true);
    else events.push({ type: 'job', user: this.row.user, job: this.view(false) });
    return events;
  }
}
