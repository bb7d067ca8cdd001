/**
 * The job service: routes each request to the ComputeJob that owns the job, applies the
 * hellos and updates agents send, and, after a restart, takes back every active job.
 */
import { KeyedLock } from '../shared/keyedLock.js';
import { randomBytes } from 'node:crypto';
import type { JobEvent, JobListQuery, JobPage, JobView, RunBody } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { quotaOf, type Quota } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { AgentMessage } from '../shared/protocol.js';
import { publicTemplate, validateParameters, type PublicTemplate, type Template } from '../shared/template.js';
import { isActive, SIZES, type Caller, type Size } from '../shared/types.js';
import type { AgentManager, ManagedAgent } from './agents.js';
import type { AgentHub } from './agentHub.js';
import { ComputeJob, freshRun, type JobContext } from './computeJob.js';
import type { JobRow, JobStore, RunFilesPatch, RunInput } from './store.js';
import type { Targets } from './targets.js';
import type { UploadService } from './uploads.js';
import { checkCallbackUrl, runNotify, type Contact } from './notify/runRequest.js';
import type { BatchHost } from './batch.js';
import { decodeCursor, encodeCursor } from './jobCursor.js';
import { JobAnswers } from './jobAnswers.js';
import type { JobFilter } from './store/jobPages.js';

/** A run request checked by validateRun: its template, job key, the row fields of its run, its input files. */
export interface ValidRun {
  template: Template;
  jobKey: string;
  next: Pick<JobRow, 'template' | 'target' | 'driver' | 'size' | 'parameters' | 'options' | 'notify' | 'callbackUrl' | 'ownerRole'>;
  givenInputs: Record<string, string> | undefined;
  inputs: RunInput[];
  /** What the run needs of its worker (placement by labels). */
  requires?: RunBody['requires'];
  /** The schedule whose firing this run is. */
  origin?: Pick<JobRow, 'scheduleId' | 'scheduleName'>;
}

type Hello = Extract<AgentMessage, { type: 'hello' }>;
type UpdateMessage = Extract<AgentMessage, { type: 'update' }>;

export interface JobServiceDeps {
  store: JobStore;
  templates: Map<string, Template>;
  /** The template a run uses when that is not the current one (a reload changed it: templates.ts). */
  templateForRun?: (row: JobRow) => Template | undefined;
  agents: AgentManager;
  hub: AgentHub;
  log: Logger;
  emit(event: JobEvent, quiet?: boolean): void;
  targets: Targets;
  context: Omit<JobContext, 'store' | 'log' | 'emit' | 'agents' | 'hub' | 'now'>;
  restartGraceMs: number;
  /** What one user may have at once, by role. */
  /** Input files (uploads) runs refer to; without it, runs take no files. */
  uploads?: UploadService;
  quotas: Record<'user' | 'admin', Quota> & Record<string, Quota | undefined>;
  /** A run's own `callbackUrl` must start with one of these. */
  callbackPrefixes?: readonly string[];
  /** The folder of a new run (serial) of a job on a target, as its agent sees it. */
  newRunDir(target: string, user: string, jobId: string, serial: number): string;
  /** The site's number of earlier runs that keep their files (templates may set their own). */
  keepRuns?: number;
  /** A run request's `requires`: refused where its target can never meet them, kept for its placement (src/supervisor/workers/). */
  requires?: { check(target: string, template: Template, requires: RunBody['requires']): void; save(jobId: string, serial: number, requires: RunBody['requires']): void };
  now?: () => number;
}

export class JobService {
  private readonly jobs = new Map<string, ComputeJob>();
  private readonly lastSeq = new Map<string, number>();
  /** Jobs whose agent a restarted supervisor is waiting to hear from. */
  private readonly recovering = new Set<string>();
  private readonly locks = new KeyedLock();
  private readonly ctx: JobContext;
  private readonly now: () => number;

  private readonly answers = new JobAnswers(() => this.deps.store.runsVersion);

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.ctx = { ...deps.context, store: deps.store, log: deps.log, emit: deps.emit, agents: deps.agents, hub: deps.hub, now: this.now };
  }

  templates(): PublicTemplate[] {
    const { targets } = this.deps;
    return [...this.deps.templates.values()].map((t) => ({ ...publicTemplate(t, targets.allowed(t).map((d) => d.info.name), targets.sizes(t)), keepRuns: t.keepRuns ?? this.deps.keepRuns ?? 5 }));
  }

  templateNamed(name: string): Template | undefined {
    return this.deps.templates.get(name);
  }

  template(row: JobRow): Template {
    const t = this.deps.templateForRun?.(row) ?? this.deps.templates.get(row.template);
    if (!t) throw new JobvisorError('UNKNOWN_TEMPLATE', `template ${row.template} is no longer offered`);
    return t;
  }

  // ---- requests --------------------------------------------------------------------------

  /**
   * Checks a run request as `run` does, queuing nothing: its template, target and size,
   * parameters, options, input files, requirements and callback URL, but not the login to the
   * target (schedules check theirs with it when they are made).
   */
  validate(caller: Caller, body: RunBody) {
    const template = this.deps.templates.get(body.template);
    if (!template) throw new JobvisorError('UNKNOWN_TEMPLATE', `no template named "${body.template}"; known: ${[...this.deps.templates.keys()].join(', ')}`);
    const { driver, size, options } = this.deps.targets.place(template, body);
    const parameters = validateParameters(template, body.parameters);
    const inputs = this.resolveInputs(caller, template, body.inputs);
    driver.checkRun({ template, size, options });
    this.deps.requires?.check(driver.info.name, template, body.requires);
    const callbackUrl = checkCallbackUrl(body.callbackUrl, this.deps.callbackPrefixes ?? []);
    return { template, driver, size, options, parameters, callbackUrl, inputs };
  }

  /** Validates and queues a new run; an active run of the same job is canceled first. `origin`: the schedule a new job's first run fires for. */
  async run(caller: Caller, body: RunBody, contact?: Contact, origin?: Pick<JobRow, 'scheduleId' | 'scheduleName'>): Promise<JobView> {
    return this.startValid(caller, this.validateRun(caller, body, contact, origin));
  }

  /**
   * Checks a run request as a whole (template, target, size, parameters, options, inputs,
   * notification, callback, login) without changing anything; what starting it needs. Batches
   * (batch.ts) check each of their entries with it.
   */
  validateRun(caller: Caller, body: RunBody, contact?: Contact, origin?: Pick<JobRow, 'scheduleId' | 'scheduleName'>): ValidRun {
    const { template, driver, size, options, parameters, callbackUrl, inputs } = this.validate(caller, body);
    const notify = runNotify(body, contact);
    const info = driver.info;
    if (info.needsLogin && !this.deps.agents.live(info.name, caller.username, size)) {
      throw new JobvisorError('LOGIN_REQUIRED', `log in to ${info.title} first (POST /api/targets/${info.name}/login)`, { target: info.name });
    }
    const next = { template: template.name, target: info.name, driver: info.kind, size, parameters, options, notify, callbackUrl, ownerRole: caller.role };
    return { template, jobKey: body.jobKey ?? template.name, next, givenInputs: body.inputs, inputs, requires: body.requires, origin };
  }

  /** Starts a checked run request under its job key's lock. */
  private startValid(caller: Caller, valid: ValidRun): Promise<JobView> {
    const { template, jobKey, next } = valid;
    return this.exclusive(`${caller.username}/${jobKey}`, async () => {
      const existing = this.deps.store.findJob(caller.username, jobKey);
      this.checkQuotas(caller, existing);
      const runDir = (id: string, serial: number) => this.deps.newRunDir(next.target, caller.username, id, serial);
      if (!existing) {
        const inputs = this.resolveInputs(caller, template, valid.givenInputs);
        const first = { ...this.firstRow(caller.username, jobKey), ...valid.origin };
        const job = this.load({ ...first, ...next, inputs, runDir: runDir(first.id, first.serial) });
        this.deps.requires?.save(first.id, first.serial, valid.requires);
        try {
          job.startRun({ ...next, inputs, runDir: runDir(first.id, first.serial) }, template, true);
        } catch (err) {
          this.jobs.delete(job.id); // never stored (disk full, database locked): no such job
          throw err;
        }
        // Resolved and claimed in one turn of the event loop: no other run can take these uploads between.
        this.claimInputs(job, inputs, job.row.serial);
        // A new job has no earlier runs: no need to read its history.
        return job.view(false);
      }
      const job = this.load(existing);
      if (isActive(job.row.status)) await job.cancel(undefined, 'replaced by a new run').catch(() => undefined);
      const inputs = this.resolveInputs(caller, template, valid.givenInputs);
      this.deps.requires?.save(job.id, job.row.serial + 1, valid.requires);
      job.startRun({ ...next, inputs, runDir: runDir(job.id, job.row.serial + 1) }, template, false);
      this.claimInputs(job, inputs, job.row.serial);
      this.onRunStarted(job, template);
      return job.view();
    });
  }

  /** The run request's input files, checked (see UploadService.resolve). */
  resolveInputs(caller: Caller, template: Template, given: Record<string, string> | undefined): RunInput[] {
    if (!this.deps.uploads) {
      if (Object.keys(given ?? {}).length > 0 || Object.values(template.inputs).some((i) => i.required)) throw new JobvisorError('UNKNOWN_INPUT', 'this supervisor takes no input files');
      return [];
    }
    return this.deps.uploads.resolve(caller, template, given ?? {});
  }

  claimInputs(job: ComputeJob, inputs: RunInput[], serial: number): void {
    if (inputs.length === 0 || !this.deps.uploads) return;
    if (!this.deps.uploads.claim(inputs, job.id, serial)) throw new JobvisorError('UPLOAD_IN_USE', 'an upload of this run was taken by another run meanwhile');
  }

  /** Refuses a run over the caller's quotas: runs queued or running (a re-run replaces its job's own), jobs kept (a new job key). */
  private checkQuotas(caller: Caller, existing: JobRow | undefined): void {
    const quota = quotaOf(this.deps.quotas, caller.role);
    const who = caller.role === 'admin' ? 'an admin' : caller.role === 'user' ? 'a user' : `a ${caller.role} user`;
    let active = 0;
    for (const j of this.jobs.values()) if (j.row.user === caller.username && isActive(j.row.status) && j.row.id !== existing?.id) active++;
    if (active >= quota.activeRuns) {
      throw new JobvisorError('QUOTA_EXCEEDED', `you have ${active} runs queued or running, the most ${who} may (quotas.${caller.role}.activeRuns = ${quota.activeRuns}); wait for one to end, or cancel one`, { quota: 'activeRuns', limit: quota.activeRuns });
    }
    if (existing) return;
    const stored = this.deps.store.countJobs(caller.username);
    if (stored >= quota.storedJobs) {
      throw new JobvisorError('QUOTA_EXCEEDED', `you keep ${stored} jobs, the most ${who} may (quotas.${caller.role}.storedJobs = ${quota.storedJobs}); run one of them again (same job key) instead of a new one`, { quota: 'storedJobs', limit: quota.storedJobs });
    }
  }

  get(caller: Caller, jobId: string): JobView {
    return this.withPipeline(this.visible(caller, jobId).view());
  }

  /** `GET /jobs/:jobId`'s answer, `{"job": get(...)}`, as JSON bytes: kept while the job does not change (jobAnswers.ts). */
  getAnswer(caller: Caller, jobId: string): Buffer {
    const job = this.visible(caller, jobId);
    return this.answers.answer(job, this.pipelineOf(jobId), () => this.withPipeline(job.view()));
  }

  /**
   * One page of the caller's jobs (admins: everyone's with `all`), read from the database a page
   * at a time (store/jobPages.ts); ended jobs are not kept in memory for it.
   */
  list(caller: Caller, q: JobListQuery): JobPage {
    const filter: JobFilter = {
      user: q.all && caller.role === 'admin' ? undefined : caller.username,
      statuses: q.status,
      template: q.template,
      target: q.target,
      since: q.since,
      until: q.until,
    };
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, filter);
    const { rows, more } = this.deps.store.pageJobs({ ...filter, after, limit: q.limit });
    const jobs = rows.map((r) => this.withPipeline((this.jobs.get(r.id) ?? new ComputeJob(r, this.ctx)).view(false)));
    const last = rows.at(-1);
    return {
      jobs,
      ...(more && last ? { nextCursor: encodeCursor({ queuedAt: last.queuedAt, id: last.id }, filter) } : {}),
      ...(q.total ? { total: this.deps.store.countMatching(filter) } : {}),
    };
  }

  /** The pipeline a job is a stage of (set by the pipeline service), shown in its view. */
  pipelineOf: (jobId: string) => string | undefined = () => undefined;

  private withPipeline(view: JobView): JobView {
    const pipelineId = this.pipelineOf(view.jobId);
    return pipelineId === undefined ? view : { ...view, pipelineId };
  }

  async cancel(caller: Caller, jobId: string, serial: number | undefined): Promise<JobView> {
    const job = this.visible(caller, jobId);
    const by = caller.username === job.row.user ? 'user' : `admin ${caller.username}`;
    await job.cancel(serial, `canceled by ${by}`);
    return job.view();
  }

  /**
   * Deletes a job for good: its run is canceled if active, its run directory removed (by the
   * agent of its target, through `removeFiles`), then its record and earlier runs. Nothing is
   * deleted when the files cannot be removed (e.g. a cluster target its user must log in to
   * again): the error says why. Runs under the job key's lock, so no new run starts meanwhile.
   */
  async remove(caller: Caller, jobId: string, removeFiles: (job: ComputeJob) => Promise<void>): Promise<void> {
    const found = this.visible(caller, jobId);
    await this.exclusive(`${found.row.user}/${found.row.jobKey}`, async () => {
      const job = this.visible(caller, jobId);
      if (isActive(job.row.status)) {
        const by = caller.username === job.row.user ? 'user' : `admin ${caller.username}`;
        await job.cancel(undefined, `canceled by ${by} (the job is being deleted)`).catch((err: unknown) => {
          if (!(err instanceof JobvisorError && err.code === 'JOB_NOT_ACTIVE')) throw err;
        });
        if (isActive(job.row.status)) throw new JobvisorError('JOB_ACTIVE', `the run of job ${jobId} did not end yet; try again`);
      }
      if (job.row.sent || job.row.serial > 1) await removeFiles(job);
      this.deps.store.deleteJob(job.id);
      this.jobs.delete(job.id);
      this.deps.log.info({ jobId: job.id, user: job.row.user, by: caller.username }, 'job deleted');
      this.deps.emit({ type: 'deleted', user: job.row.user, jobId: job.id });
    });
  }

  /** The job if the caller may see it; another user's job is as unknown as a job that does not exist. */
  visible(caller: Caller, jobId: string): ComputeJob {
    const job = this.jobs.get(jobId) ?? this.loadById(jobId);
    if (!job || (caller.role !== 'admin' && job.row.user !== caller.username)) {
      throw new JobvisorError('JOB_NOT_FOUND', `no job ${jobId}`);
    }
    return job;
  }

  /** Starts the caller's agents of a target now (default: the first target that needs no login), so a first run does not wait for them. */
  async beginSession(caller: Caller, body: { target?: string; sizes?: Size[]; runModes?: Size[] }): Promise<{ target: string; size: Size; state: string; error?: string }[]> {
    const targets = this.deps.targets;
    const driver = body.target !== undefined ? targets.require(body.target) : targets.all().find((d) => !d.info.needsLogin);
    if (!driver) return [];
    if (driver.info.needsLogin) throw new JobvisorError('LOGIN_REQUIRED', `agents of ${driver.info.title} start with your login (POST /api/targets/${driver.info.name}/login)`, { target: driver.info.name });
    const sizes = body.sizes ?? body.runModes ?? [...SIZES];
    const signal = AbortSignal.timeout(this.deps.context.agentWaitMs);
    const target = driver.info.name;
    return Promise.all(
      sizes.map(async (size) => {
        try {
          const a = await this.deps.agents.connected(target, caller.username, size, signal);
          return { target, size, state: a.state };
        } catch (err) {
          return { target, size, state: 'failed', error: (err as Error).message };
        }
      }),
    );
  }

  // ---- agents ------------------------------------------------------------------------------

  /** Hears each new run of an existing job (its earlier runs beyond those kept lose their files). */
  onRunStarted: (job: ComputeJob, template: Template) => void = () => undefined;

  /**
   * Runs `fn` on a job under its job key's lock (no new run starts meanwhile); `fn` gets the
   * job, loaded if it is not held, or undefined when it no longer exists.
   */
  withJob<T>(jobId: string, fn: (job: ComputeJob | undefined) => Promise<T>): Promise<T> {
    const row = this.jobs.get(jobId)?.row ?? this.deps.store.getJob(jobId);
    if (!row) return fn(undefined);
    return this.exclusive(`${row.user}/${row.jobKey}`, () => fn(this.jobs.get(jobId) ?? this.loadById(jobId)));
  }

  /**
   * Records what a run's files became (kept runs, retention): on the job's row for its current
   * run (held in memory too), in its history for an earlier one. Call it under withJob.
   */
  setRunFiles(job: ComputeJob, serial: number, patch: RunFilesPatch): void {
    if (serial === job.row.serial) {
      if (isActive(job.row.status)) throw new JobvisorError('JOB_ACTIVE', `run ${serial} of job ${job.id} is active`);
      const r = job.row;
      const changes = patch.files !== (r.files ?? 'kept') || (patch.status !== undefined && patch.status !== r.status);
      // Measuring alone (bytes) is not a change of the run: its updatedAt stays.
      const next: JobRow = { ...r, files: patch.files, status: patch.status ?? r.status, bytes: patch.bytes === undefined ? r.bytes : patch.bytes, updatedAt: changes ? this.now() : r.updatedAt };
      this.deps.store.saveJob(next);
      job.row = next;
    } else {
      this.deps.store.saveRunFiles(job.id, serial, patch);
    }
    // An earlier run changed: the event carries the history this once, so views show it.
    this.deps.emit({ type: 'job', user: job.row.user, job: job.view(serial !== job.row.serial) });
  }

  /** Hears each agent's hello (after this service has reconciled the agent's runs). */
  onAgentHello: (agent: ManagedAgent, jobs: Iterable<ComputeJob>) => void = () => undefined;

  /** Runs on a target that waited for their user to log in there go on. */
  resumeAwaitingLogin(user: string, target: string): void {
    for (const job of this.jobs.values()) {
      if (job.row.user === user && job.row.target === target && job.awaitingLogin) job.resume(this.template(job.row));
    }
  }

  async onHello(agentId: string, hello: Hello): Promise<void> {
    const agent = await this.deps.agents.whenKnown(agentId);
    if (!agent) return;
    this.reconcile(agentId, agent, hello);
    this.onAgentHello(agent, this.jobs.values());
  }

  private reconcile(agentId: string, agent: ManagedAgent, hello: Hello): void {
    const reported = new Map(hello.runs.map((r) => [`${r.jobId}/${r.serial}`, r]));
    for (const job of this.jobs.values()) {
      const r = job.row;
      if (r.agentId !== agentId || !isActive(r.status) || !r.sent) continue;
      const run = reported.get(`${r.id}/${r.serial}`);
      if (this.recovering.delete(r.id)) {
        if (run) job.readopt(agent, run.pid, run.running, this.template(r).resources.cores);
        else job.resume(this.template(r));
      } else if (!run && r.status === 'running') {
        job.end('error', 'the agent no longer has this run (it was lost while disconnected)');
      }
    }
  }

  /**
   * Applies one update once, in order, and persists it with its sequence number before it is
   * acknowledged. An update already applied is acknowledged again; one that skips ahead of the
   * next number is refused (AGENT_PROTOCOL: not applied, not acknowledged), so that no number
   * sent ahead, forged or not, can make the agent's real updates look applied already.
   */
  async onUpdate(agentId: string, msg: UpdateMessage): Promise<void> {
    const last = this.lastSeq.get(agentId) ?? this.deps.store.getAgent(agentId)?.lastSeq ?? 0;
    if (msg.seq <= last) return;
    if (msg.seq !== last + 1) {
      this.deps.log.warn({ agentId, seq: msg.seq, last }, 'update refused: its sequence number skips ahead');
      throw new JobvisorError('AGENT_PROTOCOL', `update ${msg.seq} skips ahead of ${last}: the next one is ${last + 1}`);
    }
    const save = (row: JobRow | undefined) => this.deps.store.saveJobAndSeq(row, agentId, msg.seq);
    const job = this.jobs.get(msg.jobId) ?? this.loadById(msg.jobId);
    let events: JobEvent[] = [];
    if (job && job.row.serial === msg.serial && isActive(job.row.status) && job.row.agentId === agentId) {
      events = job.applyUpdate(msg.update, save);
    } else {
      save(undefined);
      this.deps.log.debug({ agentId, jobId: msg.jobId, serial: msg.serial }, 'stale update ignored');
    }
    this.lastSeq.set(agentId, msg.seq);
    for (const e of events) this.deps.emit(e);
  }

  /** The jobs this service holds whose run is active (every active job is held). */
  active(): ComputeJob[] {
    return [...this.jobs.values()].filter((j) => isActive(j.row.status));
  }

  onAgentGone(agentId: string, reason: string): void {
    this.lastSeq.delete(agentId);
    for (const job of this.jobs.values()) if (job.row.agentId === agentId) job.agentGone(reason);
  }

  /**
   * After a restart: loads every active job, waits a grace period for the agents of the runs
   * they were sent to, and resumes the ones never sent. A run that may still be going holds its
   * slots again at once (until its agent says otherwise), and the runs never sent queue again in
   * the order they were first queued: so no pending run takes a slot a running one holds, nor
   * passes one queued before it.
   */
  async recover(): Promise<void> {
    await this.deps.agents.adoptSaved();
    const resume: { job: ComputeJob; template: Template }[] = [];
    const rows = [...this.deps.store.activeJobs()].sort((a, b) => a.queuedAt - b.queuedAt);
    for (const row of rows) {
      const job = this.load(row);
      const template = this.deps.templates.get(row.template);
      const agent = row.agentId ? this.deps.agents.get(row.agentId) : undefined;
      if (!template) {
        job.end('error', `template ${row.template} is no longer offered`);
      } else if (!this.deps.targets.get(row.target)) {
        job.end('error', `target ${row.target} is no longer configured`);
      } else if (!row.sent) {
        resume.push({ job, template });
      } else if (!agent) {
        // A scheduler's job outlives its agent: it waits for its user's next login.
        if (row.externalId !== null) job.agentGone('its agent ended while the supervisor was down');
        else job.end('error', 'its agent ended while the supervisor was down');
      } else {
        this.recovering.add(row.id);
        job.readopt(agent, row.pid ?? 0, false, template.resources.cores);
      }
    }
    for (const { job, template } of resume) job.resume(template);
    if (this.recovering.size === 0) return;
    this.deps.log.info({ jobs: this.recovering.size }, 'waiting for agents of running jobs to reconnect');
    setTimeout(() => {
      for (const id of this.recovering) this.jobs.get(id)?.agentGone('it did not reconnect after the supervisor restarted');
      this.recovering.clear();
    }, this.deps.restartGraceMs).unref();
  }

  /** What a batch of runs (batch.ts) needs of this service: it checks and stores them all, then starts them. */
  batchHost(): BatchHost {
    return {
      store: this.deps.store,
      now: this.now,
      validateRun: (caller, body, contact) => this.validateRun(caller, body, contact),
      resolveInputs: (caller, template, given) => this.resolveInputs(caller, template, given),
      quota: (caller) => quotaOf(this.deps.quotas, caller.role),
      activeRuns: (user) => [...this.jobs.values()].filter((j) => j.row.user === user && isActive(j.row.status)).length,
      exclusive: (keys, fn) => this.locks.runAll(keys, fn),
      newRow: (user, jobKey) => this.firstRow(user, jobKey),
      runDir: (target, user, jobId, serial) => this.deps.newRunDir(target, user, jobId, serial),
      hold: (row) => {
        const job = this.load(row);
        job.holdQueued(row);
        return job;
      },
      claimInputs: (job, inputs) => this.claimInputs(job, inputs, job.row.serial),
      saveRequires: (jobId, serial, requires) => this.deps.requires?.save(jobId, serial, requires),
      onRunStarted: (job, template) => this.onRunStarted(job, template),
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  private firstRow(user: string, jobKey: string): JobRow {
    return { id: randomBytes(8).toString('hex'), user, jobKey, template: '', target: '', driver: '', size: 'sequential', serial: 1, parameters: {}, options: null, inputs: [], notify: null, callbackUrl: null, runDir: null, ownerRole: null, ...freshRun(this.now()) };
  }

  /** Forgets ended jobs kept in memory; the database has all of them. */
  pruneEnded(): void {
    for (const [id, job] of this.jobs) {
      if (!isActive(job.row.status) && !this.locks.has(`${job.row.user}/${job.row.jobKey}`)) this.jobs.delete(id);
    }
  }

  private load(row: JobRow): ComputeJob {
    let job = this.jobs.get(row.id);
    if (!job) {
      job = new ComputeJob(row, this.ctx);
      this.jobs.set(row.id, job);
    }
    return job;
  }

  private loadById(jobId: string): ComputeJob | undefined {
    const row = this.deps.store.getJob(jobId);
    return row ? this.load(row) : undefined;
  }

  /** Runs `fn` after every earlier call with the same key has settled. */
  private exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }
}
