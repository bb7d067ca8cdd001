/**
 * The pipeline service: creates pipelines (graph checked first), starts each stage's run as
 * an ordinary job of the pipeline's owner (job key `<pipelineId>-<stage>`) once its upstream
 * stages completed, follows those jobs' events, and cancels, resumes and deletes pipelines.
 * All changes of one pipeline happen one at a time (a lock per pipeline), so no stage starts
 * twice; every change is saved before its `pipeline` event is published. After a restart,
 * `recover()` re-evaluates every running pipeline against its stages' jobs.
 */
import { KeyedLock } from '../../shared/keyedLock.js';
import { randomBytes } from 'node:crypto';
import type { JobEvent, JobView, RunBody } from '../../shared/api.js';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { isActivePipeline, type PipelineBody, type PipelineListQuery, type PipelinePage, type PipelineView, type StageView } from '../../shared/pipelines.js';
import { decodePageCursor, encodePageCursor, listTag } from '../pageCursor.js';
import type { Template } from '../../shared/template.js';
import { isActive, type Caller } from '../../shared/types.js';
import { blockStages, endPipeline, followJob, readyStages, reopen, settle, type StageJob } from './advance.js';
import { checkPipeline, dependsOn } from './graph.js';
import { handOff, type HandoffDeps } from './handoff.js';
import type { PipelineFilter, PipelineRow, PipelineStore, StageRow } from './store.js';

export interface PipelineDeps {
  store: PipelineStore;
  template(name: string): Template | undefined;
  /** Queues a run as `caller` (JobService.run). */
  run(caller: Caller, body: RunBody): Promise<JobView>;
  /** Cancels a job's active run as `caller` (nothing if it already ended). */
  cancelJob(caller: Caller, jobId: string): Promise<void>;
  /** Deletes a job and its files as `caller` (nothing if it is gone). */
  removeJob(caller: Caller, jobId: string): Promise<void>;
  /** A job's current run (undefined: no such job). */
  job(jobId: string): StageJob | undefined;
  /** A job's id by its owner and key. */
  findJob(user: string, jobKey: string): { id: string; serial: number } | undefined;
  handoff: HandoffDeps;
  emit(e: JobEvent): void;
  log: Logger;
  maxStages: number;
  now?: () => number;
}

/** How many passes one evaluation makes at most (each pass starts or ends stages). */
const MAX_PASSES = 1000;

export class PipelineService {
  private readonly locks = new KeyedLock();
  /** job id → pipeline id, for every stage that has a job. */
  private readonly byJob = new Map<string, string>();
  /** The last status seen of each stage job (a change is told as a pipeline event). */
  private readonly lastStatus = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
    for (const { pipelineId, jobId } of deps.store.stageJobs()) this.byJob.set(jobId, pipelineId);
  }

  /** A job event with the pipeline its job is a stage of (`pipelineId`), for every reader. */
  annotate(e: JobEvent): JobEvent {
    if (e.type !== 'job') return e;
    const pipelineId = this.byJob.get(e.job.jobId);
    return pipelineId === undefined ? e : { ...e, job: { ...e.job, pipelineId } };
  }

  close(): void {
    this.deps.store.close();
  }

  /** The pipeline a job is a stage of, if any. */
  pipelineOf(jobId: string): string | undefined {
    return this.byJob.get(jobId);
  }

  async create(caller: Caller, body: PipelineBody): Promise<PipelineView> {
    const order = checkPipeline(body, (n) => this.deps.template(n), { maxStages: this.deps.maxStages });
    const now = this.now();
    const id = randomBytes(6).toString('hex');
    const stages = new Map<string, StageRow>(order.map((name) => [name, { name, state: 'waiting', reason: null, jobId: null, serial: null, attempts: 0 }]));
    const p: PipelineRow = { id, user: caller.username, role: caller.role, name: body.name ?? `pipeline ${id}`, spec: body, order, state: 'running', reason: null, createdAt: now, updatedAt: now, endedAt: null, stages };
    this.save(p);
    this.deps.log.info({ pipelineId: id, user: caller.username, stages: order }, 'pipeline created');
    await this.exclusive(id, () => this.advance(id));
    return this.view(this.deps.store.get(id)!);
  }

  get(caller: Caller, id: string): PipelineView {
    return this.view(this.visible(caller, id));
  }

  /** One page of the caller's pipelines (an admin's `all`: everyone's), newest first. */
  list(caller: Caller, q: PipelineListQuery): PipelinePage {
    const f: PipelineFilter = { user: q.all && caller.role === 'admin' ? undefined : caller.username, states: q.state };
    const tag = listTag(['pipelines', f.user ?? '*', (f.states ?? []).slice().sort().join(',')]);
    const rows = this.deps.store.page(f, q.cursor === undefined ? undefined : decodePageCursor(q.cursor, tag), q.limit);
    const more = rows.length > q.limit;
    const shown = more ? rows.slice(0, q.limit) : rows;
    const last = shown.at(-1);
    const page: PipelinePage = { pipelines: shown.map((p) => this.view(p)) };
    if (more && last) page.nextCursor = encodePageCursor({ at: last.createdAt, id: last.id }, tag);
    if (q.total) page.total = this.deps.store.count(f);
    return page;
  }

  /** Cancels the running stages; the waiting ones never start. */
  async cancel(caller: Caller, id: string): Promise<PipelineView> {
    this.visible(caller, id);
    await this.exclusive(id, async () => {
      const p = this.visible(caller, id);
      if (!isActivePipeline(p.state)) throw new JobvisorError('PIPELINE_NOT_ACTIVE', `pipeline ${id} has already ended (${p.state})`);
      const by = caller.username === p.user ? 'user' : `admin ${caller.username}`;
      for (const st of p.stages.values()) {
        let failed = '';
        if (st.state === 'running' && st.jobId) {
          // The pipeline stops all the same (nothing more starts); the stage says its run may still go on.
          failed = await this.deps.cancelJob(caller, st.jobId).then(
            () => '',
            (err: unknown) => `; its run could not be canceled: ${(err as Error).message}`,
          );
        }
        if (st.state === 'waiting' || st.state === 'running' || st.state === 'starting') {
          st.state = 'canceled';
          st.reason = `the pipeline was canceled by ${by}${failed}`;
        }
      }
      endPipeline(p, 'canceled', `canceled by ${by}`, this.now());
      this.save(p);
      this.deps.log.info({ pipelineId: id, by: caller.username }, 'pipeline canceled');
    });
    return this.get(caller, id);
  }

  /** Runs the failed, canceled and blocked stages of an ended pipeline again; completed stages are kept. */
  async resume(caller: Caller, id: string): Promise<PipelineView> {
    this.visible(caller, id);
    await this.exclusive(id, async () => {
      const p = this.visible(caller, id);
      if (p.state !== 'failed' && p.state !== 'canceled') throw new JobvisorError('PIPELINE_NOT_RESUMABLE', `pipeline ${id} is ${p.state}; only a failed or canceled pipeline can be resumed`);
      reopen(p, this.now());
      this.save(p);
      this.deps.log.info({ pipelineId: id, by: caller.username }, 'pipeline resumed');
      await this.advance(id);
    });
    return this.get(caller, id);
  }

  /** Deletes a pipeline and its stages' jobs (a running pipeline is canceled first). */
  async remove(caller: Caller, id: string): Promise<void> {
    if (isActivePipeline(this.visible(caller, id).state)) await this.cancel(caller, id).catch(() => undefined);
    await this.exclusive(id, async () => {
      const p = this.visible(caller, id);
      for (const st of p.stages.values()) {
        if (st.jobId) await this.deps.removeJob(caller, st.jobId);
      }
      for (const st of p.stages.values()) if (st.jobId) this.byJob.delete(st.jobId);
      this.deps.store.delete(id);
      this.deps.log.info({ pipelineId: id, by: caller.username }, 'pipeline deleted');
      this.deps.emit({ type: 'pipeline', user: p.user, pipelineId: id, pipeline: null });
    });
  }

  /** Hears every job event: a stage's job that changed status moves its pipeline on. */
  onJobEvent(e: JobEvent): void {
    const jobId = e.type === 'job' || e.type === 'deleted' ? (e.type === 'job' ? e.job.jobId : e.jobId) : undefined;
    const id = jobId === undefined ? undefined : this.byJob.get(jobId);
    if (jobId === undefined || id === undefined) return;
    const status = e.type === 'job' ? e.job.status : 'deleted';
    if (this.lastStatus.get(jobId) === status) return;
    this.lastStatus.set(jobId, status);
    void this.exclusive(id, () => this.advance(id)).catch((err: unknown) => this.deps.log.error({ pipelineId: id, err: (err as Error).message }, 'pipeline could not move on'));
  }

  /** After a restart: every running pipeline is evaluated again (stages whose run ended meanwhile move it on). */
  async recover(): Promise<void> {
    for (const p of this.deps.store.active()) {
      for (const st of p.stages.values()) {
        if (st.state !== 'starting') continue;
        // It was being started when the supervisor stopped: its run may have been queued.
        const found = this.deps.findJob(p.user, jobKeyOf(p.id, st.name));
        if (found && (st.serial === null || found.serial > st.serial)) Object.assign(st, { state: 'running', jobId: found.id, serial: found.serial });
        else st.state = 'waiting';
        if (st.jobId) this.byJob.set(st.jobId, p.id);
      }
      this.save(p);
      await this.exclusive(p.id, () => this.advance(p.id)).catch((err: unknown) => this.deps.log.error({ pipelineId: p.id, err: (err as Error).message }, 'pipeline could not be recovered'));
    }
  }

  // ---- moving on ------------------------------------------------------------------------

  /** Evaluates a pipeline until nothing changes: follows jobs, blocks, starts ready stages, ends it. Call it under the pipeline's lock. */
  private async advance(id: string): Promise<void> {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const p = this.deps.store.get(id);
      if (!p || !isActivePipeline(p.state)) return;
      let changed = false;
      for (const st of p.stages.values()) changed = followJob(st, st.jobId ? this.deps.job(st.jobId) : undefined) || changed;
      changed = blockStages(p) || changed;
      const ready = readyStages(p);
      if (!changed && ready.length === 0) {
        if (settle(p, this.now())) this.save(p);
        else this.emitView(p);
        return;
      }
      this.save(p);
      for (const st of ready) await this.start(p, st);
    }
  }

  private async start(p: PipelineRow, st: StageRow): Promise<void> {
    const spec = p.spec.stages[st.name]!;
    st.state = 'starting';
    st.reason = null;
    st.attempts++;
    this.save(p);
    const owner: Caller = { username: p.user, role: p.role };
    try {
      const upstream = (name: string) => {
        const u = p.stages.get(name)!;
        return { jobId: u.jobId!, serial: u.serial! };
      };
      const given = await handOff(this.deps.handoff, owner, spec, upstream);
      const body = { template: spec.template, jobKey: jobKeyOf(p.id, st.name), parameters: given.parameters, inputs: given.inputs, target: spec.target, size: spec.size } as RunBody;
      const job = await this.deps.run(owner, body).catch(async (err: unknown) => {
        // A refused run leaves no upload behind.
        for (const id of Object.values(given.inputs)) await this.deps.handoff.discardUpload(owner, id).catch(() => undefined);
        throw err;
      });
      Object.assign(st, { state: 'running', jobId: job.jobId, serial: job.serial });
      this.byJob.set(job.jobId, p.id);
      this.lastStatus.set(job.jobId, job.status);
      this.deps.log.info({ pipelineId: p.id, stage: st.name, jobId: job.jobId, serial: job.serial }, 'pipeline stage started');
    } catch (err) {
      st.state = 'failed';
      st.reason = err instanceof JobvisorError ? err.message : `could not start: ${(err as Error).message}`;
      this.deps.log.info({ pipelineId: p.id, stage: st.name, reason: st.reason }, 'pipeline stage could not start');
    }
    p.updatedAt = this.now();
    this.save(p);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private visible(caller: Caller, id: string): PipelineRow {
    const p = /^[0-9a-f]{12}$/.test(id) ? this.deps.store.get(id) : undefined;
    if (!p || (caller.role !== 'admin' && p.user !== caller.username)) throw new JobvisorError('PIPELINE_NOT_FOUND', `no pipeline ${id}`);
    return p;
  }

  /** Saves the pipeline, then tells of it. */
  private save(p: PipelineRow): void {
    p.updatedAt = Math.max(p.updatedAt, this.now());
    this.deps.store.save(p);
    this.emitView(p);
  }

  private emitView(p: PipelineRow): void {
    this.deps.emit({ type: 'pipeline', user: p.user, pipelineId: p.id, pipeline: this.view(p) });
  }

  view(p: PipelineRow): PipelineView {
    const stages = p.order.map((name): StageView => {
      const st = p.stages.get(name)!;
      const spec = p.spec.stages[name]!;
      const job = st.jobId ? this.deps.job(st.jobId) : undefined;
      const own = job && job.serial === st.serial ? job : undefined;
      return {
        name,
        template: spec.template,
        dependsOn: dependsOn(spec),
        state: st.state,
        reason: st.reason,
        jobId: st.jobId,
        serial: st.serial,
        jobStatus: own?.status ?? null,
        progress: own ? (own.status === 'completed' ? 1 : own.progress) : null,
        progressMessage: own?.progressMessage ?? null,
        queuedAt: own?.queuedAt ?? null,
        startedAt: own?.startedAt ?? null,
        endedAt: own && !isActive(own.status) ? own.endedAt : null,
        attempts: st.attempts,
      };
    });
    const completed = stages.filter((s) => s.state === 'completed').length;
    return { pipelineId: p.id, name: p.name, user: p.user, state: p.state, reason: p.reason, createdAt: p.createdAt, updatedAt: p.updatedAt, endedAt: p.endedAt, stages, progress: stages.length ? completed / stages.length : 0 };
  }

  /** Runs `fn` after every earlier call with the same key has settled. */
  private exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }
}

export const jobKeyOf = (pipelineId: string, stage: string): string => `${pipelineId}-${stage}`;
