/**
 * The retention sweep: for each ended run (current and earlier, never an active one), by the
 * policy of its owner's role (src/shared/retention.ts), ages counted from the run's end:
 *
 *   past deleteAfter:  folder and archive deleted, status `purged` (record and parameters kept);
 *   past archiveAfter: folder packed into `<serial>.tar.gz` in the archive folder by the agent
 *                      of its target, then removed; files `archived` (still listed and read);
 *   otherwise:         measured (bytes, for disk use); a folder and archive gone by other means
 *                      make the run `missing`.
 *
 * A target whose agents need their user's login (clusters) is swept only while that user's
 * agent is live; its runs are skipped otherwise, and reported. Each run is handled under its
 * job's lock and re-read there; every step is idempotent (an archive is complete once it exists,
 * so a crash between packing and removing the folder is finished next time), state is in the
 * database, and one sweep runs at a time (a sweep asked for meanwhile runs after it).
 */
import type { Logger } from '../shared/logger.js';
import { policyOf, type RetentionSettings } from '../shared/retention.js';
import { isActive, SIZES } from '../shared/types.js';
import type { AgentManager } from './agents.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';
import { archiveRunFiles, placeOf, removeRunFiles, runFilesSize, type RunFilesDeps } from './runFiles.js';
import type { JobStore, RunRecord } from './store.js';

export interface RetentionDeps extends RunFilesDeps {
  store: JobStore;
  jobs: JobService;
  agents: AgentManager;
  settings: RetentionSettings;
  sweepSeconds: number;
  log: Logger;
  now?: () => number;
}

export interface SweptRun {
  jobId: string;
  user: string;
  serial: number;
  target: string;
  bytes?: number;
  reason?: string;
}

export interface SweepReport {
  startedAt: number;
  endedAt: number;
  archived: SweptRun[];
  purged: SweptRun[];
  missing: SweptRun[];
  /** Runs whose files were measured and left as they are. */
  measured: number;
  /** Runs with nothing due whose user has no agent running on their target: measured when one is (no agent is started just to measure). */
  unmeasured: number;
  /** Runs not swept this time, with the reason (login required, target gone, active...). */
  skipped: SweptRun[];
  /** Runs whose step failed (the agent could not be reached, ...): tried again next sweep. */
  failed: SweptRun[];
}

/** Jobs whose ended runs a sweep reads at a time (then lets other work through). */
const JOBS_PER_PAGE = 200;

type Outcome = { kind: 'archived' | 'purged' | 'missing' | 'measured' | 'unmeasured'; bytes?: number } | { kind: 'skipped'; reason: string } | { kind: 'none' };

export class Retention {
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly measuredEnd = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly deps: RetentionDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Sweeps now, then every `sweepSeconds`. */
  start(): void {
    const run = () => {
      this.sweep().catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message }, 'retention sweep failed'));
    };
    run();
    this.timer = setInterval(run, this.deps.sweepSeconds * 1000);
    this.timer.unref();
  }

  /** One sweep, after any sweep under way. */
  sweep(): Promise<SweepReport> {
    const next = this.chain.catch(() => undefined).then(() => this.sweepOnce());
    this.chain = next;
    return next;
  }

  /**
   * Measures a run that has just ended (its agent is live: cheap), once; later sweeps measure
   * it again. Errors are logged only.
   */
  measureEnded(jobId: string, serial: number): void {
    const key = `${jobId}/${serial}`;
    if (this.measuredEnd.has(key) || this.stopping) return;
    this.measuredEnd.add(key);
    if (this.measuredEnd.size > 10_000) this.measuredEnd.clear();
    void this.deps.jobs
      .withJob(jobId, async (job) => {
        if (!job || job.row.serial !== serial || isActive(job.row.status) || !job.row.sent || job.row.bytes !== null) return;
        const r = job.row;
        const liveSize = [r.size, ...SIZES.filter((x) => x !== r.size)].find((x) => this.deps.agents.live(r.target, r.user, x));
        if (liveSize === undefined) return;
        const found = await runFilesSize(this.deps, { ...placeOf(this.deps.targets, { ...r, jobId: r.id }), size: liveSize });
        if (found.where !== 'none' && job.row.serial === serial && !isActive(job.row.status)) this.deps.jobs.setRunFiles(job, serial, { files: job.row.files ?? 'kept', bytes: found.bytes });
      })
      .catch((err: unknown) => this.deps.log.debug({ jobId, serial, err: (err as Error).message }, 'run not measured at its end'));
  }

  /** Stops the timer; a sweep under way stops after its current run (waited for up to 2 s: a run's step is idempotent). */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.chain.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { startedAt: this.now(), endedAt: 0, archived: [], purged: [], missing: [], measured: 0, unmeasured: 0, skipped: [], failed: [] };
    for (let after = '', page; !this.stopping && (page = this.deps.store.endedRunsPage(after, JOBS_PER_PAGE)); after = page.last) {
      // Let requests (and the supervisor's start) through between pages: a sweep of a big database is long.
      await new Promise((resolve) => setImmediate(resolve));
      await this.sweepRuns(page.runs, report);
    }
    report.endedAt = this.now();
    const counts = { archived: report.archived.length, purged: report.purged.length, missing: report.missing.length, measured: report.measured, unmeasured: report.unmeasured, skipped: report.skipped.length, failed: report.failed.length };
    this.deps.log.info(counts, 'retention sweep done');
    return report;
  }

  private async sweepRuns(runs: RunRecord[], report: SweepReport): Promise<void> {
    for (const run of runs) {
      if (this.stopping) return;
      const note: SweptRun = { jobId: run.jobId, user: run.user, serial: run.serial, target: run.target };
      try {
        const out = this.listedOutcome(run) ?? (await this.deps.jobs.withJob(run.jobId, (job) => (job ? this.sweepRun(job, run.serial) : Promise.resolve<Outcome>({ kind: 'none' }))));
        if (out.kind === 'skipped') report.skipped.push({ ...note, reason: out.reason });
        else if (out.kind === 'measured') report.measured++;
        else if (out.kind === 'unmeasured') report.unmeasured++;
        else if (out.kind !== 'none') report[out.kind].push({ ...note, ...(out.bytes !== undefined ? { bytes: out.bytes } : {}) });
      } catch (err) {
        report.failed.push({ ...note, reason: (err as Error).message });
      }
    }
  }

  /**
   * What sweepRun would come to for a listed run when that needs neither an agent nor the run's
   * latest state: skipped (its target is gone, or needs a login its user has no agent of), or
   * unmeasured (nothing due, no agent of its user running on its target). Known from the list
   * alone, without the job's lock, a read or loading the job: that is most runs of a big
   * database on most sweeps. A run that changed since the list was read is seen by the next
   * sweep, as it would be had it changed just after its step. Undefined: the full step.
   */
  private listedOutcome(run: RunRecord): Outcome | undefined {
    if (isActive(run.status) || (run.current && run.startedAt === null)) return undefined;
    const files = run.files ?? 'kept';
    if (files === 'purged' || files === 'missing') return undefined;
    const driver = this.deps.targets.get(run.target);
    if (!driver) return { kind: 'skipped', reason: `target ${run.target} is no longer configured` };
    const live = SIZES.some((x) => this.deps.agents.live(run.target, run.user, x));
    if (driver.info.needsLogin && !live) return { kind: 'skipped', reason: `${run.user} is not logged in to ${driver.info.title} (its files are reached through their agent)` };
    if (live) return undefined;
    const policy = policyOf(this.deps.settings, run.ownerRole);
    const age = this.now() - (run.endedAt ?? this.now());
    if (policy.deleteAfter !== undefined && age >= policy.deleteAfter) return undefined;
    if (policy.archiveAfter !== undefined && age >= policy.archiveAfter && files !== 'archived') return undefined;
    return { kind: 'unmeasured' };
  }

  /** The run as it is now (under the job's lock): the current one or an earlier one. */
  private reread(job: ComputeJob, serial: number): RunRecord | undefined {
    const r = job.row;
    if (serial !== r.serial) return this.deps.store.getRun(r.id, serial);
    return { jobId: r.id, user: r.user, serial, current: true, status: r.status, template: r.template, target: r.target, size: r.size, parameters: r.parameters, startedAt: r.startedAt, endedAt: r.endedAt, runDir: r.runDir, files: r.files, bytes: r.bytes, ownerRole: r.ownerRole };
  }

  private async sweepRun(job: ComputeJob, serial: number): Promise<Outcome> {
    const run = this.reread(job, serial);
    if (!run) return { kind: 'none' };
    if (isActive(run.status)) return { kind: 'skipped', reason: 'the run is active' };
    const files = run.files ?? 'kept';
    if (files === 'purged' || files === 'missing') return { kind: 'none' };
    if (run.current && !job.row.sent) return { kind: 'none' }; // never handed to an agent: it has no files
    const driver = this.deps.targets.get(run.target);
    if (!driver) return { kind: 'skipped', reason: `target ${run.target} is no longer configured` };
    if (driver.info.needsLogin && !this.deps.agents.live(run.target, run.user, run.size)) {
      return { kind: 'skipped', reason: `${run.user} is not logged in to ${driver.info.title} (its files are reached through their agent)` };
    }
    const policy = policyOf(this.deps.settings, run.ownerRole);
    const age = this.now() - (run.endedAt ?? this.now());
    const deleteDue = policy.deleteAfter !== undefined && age >= policy.deleteAfter;
    const archiveDue = policy.archiveAfter !== undefined && age >= policy.archiveAfter && files !== 'archived';
    // Only a step that is due starts an agent; measuring uses one that runs already (any size).
    const liveSize = [run.size, ...SIZES.filter((x) => x !== run.size)].find((x) => this.deps.agents.live(run.target, run.user, x));
    if (!deleteDue && !archiveDue && liveSize === undefined) return { kind: 'unmeasured' };
    const place = { ...placeOf(this.deps.targets, run), size: liveSize ?? run.size };
    const set = (patch: Parameters<JobService['setRunFiles']>[2]) => this.deps.jobs.setRunFiles(job, serial, patch);
    if (deleteDue) {
      await removeRunFiles(this.deps, place);
      set({ files: 'purged', status: 'purged', bytes: 0 });
      this.deps.log.info({ jobId: run.jobId, serial, ageMs: age }, 'run purged by retention');
      return { kind: 'purged' };
    }
    const found = archiveDue ? await archiveRunFiles(this.deps, place) : await runFilesSize(this.deps, place);
    if (found.where === 'none') {
      if (run.startedAt === null) {
        // Ended before it started (canceled while queued): it never had files.
        set({ files: 'missing', bytes: 0 });
        return { kind: 'none' };
      }
      set({ files: 'missing', status: 'missing', bytes: 0 });
      this.deps.log.warn({ jobId: run.jobId, serial }, 'run files missing');
      return { kind: 'missing' };
    }
    if (found.where === 'archive' && files !== 'archived') {
      set({ files: 'archived', bytes: found.bytes });
      this.deps.log.info({ jobId: run.jobId, serial, bytes: found.bytes }, 'run archived by retention');
      return { kind: 'archived', bytes: found.bytes };
    }
    if (found.bytes !== run.bytes) set({ files, bytes: found.bytes });
    return { kind: 'measured' };
  }
}
