/**
 * Batch submission: up to `maxBatchRuns` run requests in one call, all or nothing. Every entry
 * is checked exactly as a single run request is (JobService.validateRun), the batch as a whole
 * for job keys (none twice, none of an active job), uploads (none twice) and the caller's
 * quotas; one bad entry refuses the batch (BATCH_INVALID, with every bad entry's index) and
 * nothing is stored. Then every run is stored in one database transaction and queued.
 *
 * The checks are made in slices that yield to the event loop (agents' updates and events keep
 * flowing meanwhile), then re-made, where another request could have changed their answer, in
 * the one synchronous turn that stores the batch, under the locks of all its job keys (taken in
 * sorted order, so two batches never wait for each other in a circle); the runs' ops start in
 * slices after it.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { BatchEntryError, BatchJob, RunBody } from '../shared/api.js';
import { batchInvalid, entryError } from '../shared/batch.js';
import type { Quota } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Template } from '../shared/template.js';
import { isActive, type Caller } from '../shared/types.js';
import type { ComputeJob } from './computeJob.js';
import { freshRun } from './computeJob.js';
import type { ValidRun } from './jobs.js';
import type { Contact } from './notify/runRequest.js';
import type { JobRow, JobStore, RunInput } from './store.js';

/** What a batch needs of the job service (JobService.batchHost). */
export interface BatchHost {
  store: JobStore;
  now(): number;
  validateRun(caller: Caller, body: RunBody, contact?: Contact): ValidRun;
  resolveInputs(caller: Caller, template: Template, given: Record<string, string> | undefined): RunInput[];
  quota(caller: Caller): Quota;
  /** The user's runs queued or running. */
  activeRuns(user: string): number;
  /** Runs `fn` holding the locks of these job keys (`user/jobKey`), as a single run request holds its key's. */
  exclusive<T>(keys: string[], fn: () => Promise<T>): Promise<T>;
  newRow(user: string, jobKey: string): JobRow;
  runDir(target: string, user: string, jobId: string, serial: number): string;
  /** Holds (in memory) a run just stored as queued. */
  hold(row: JobRow): ComputeJob;
  claimInputs(job: ComputeJob, inputs: RunInput[]): void;
  /** Records what a run needs of its worker (placement by labels). */
  saveRequires(jobId: string, serial: number, requires: RunBody['requires']): void;
  onRunStarted(job: ComputeJob, template: Template): void;
}

export interface BatchOptions {
  /** Entries checked, and runs started, per turn of the event loop. */
  slice?: number;
  log?: Logger;
}

interface Entry {
  index: number;
  valid: ValidRun;
}

const SLICE = 100;

/** Checks, stores and queues a batch; answers with each run's ids, in index order. */
export async function submitBatch(host: BatchHost, caller: Caller, bodies: RunBody[], contact: Contact | undefined, opts: BatchOptions = {}): Promise<BatchJob[]> {
  const slice = opts.slice ?? SLICE;
  const started = host.now();
  const tag = randomBytes(3).toString('hex');
  const errors: BatchEntryError[] = [];
  const entries: Entry[] = [];
  for (let i = 0; i < bodies.length; i++) {
    if (i > 0 && i % slice === 0) await yieldToLoop();
    const body = bodies[i] as RunBody;
    try {
      // An entry without a job key gets its own (a batch of one template would otherwise be one job).
      const valid = host.validateRun(caller, body, contact);
      entries.push({ index: i, valid: body.jobKey === undefined ? { ...valid, jobKey: `${valid.template.name}-${tag}-${i}` } : valid });
    } catch (err) {
      errors.push(entryError(i, err));
    }
  }
  const checkedMs = host.now() - started;
  // The job keys' locks, as a single run takes its key's: a single run (or a delete) of one of
  // these keys under way ends first, one that comes later waits for the batch to be stored.
  const keys = entries.map((e) => `${caller.username}/${e.valid.jobKey}`);
  const held = await host.exclusive(keys, async () => {
    // From here to the stored transaction: one synchronous turn, no other request in between.
    const plan = planBatch(host, caller, entries, errors);
    if (errors.length > 0) throw batchInvalid(errors, bodies.length);
    host.store.saveBatch(plan.map((p) => ({ previous: p.previous, next: p.row })));
    const requires = new Map(entries.map((e) => [e.index, e.valid.requires]));
    for (const p of plan) if (requires.get(p.index)) host.saveRequires(p.row.id, p.row.serial, requires.get(p.index));
    const held = plan.map((p) => ({ ...p, job: host.hold(p.row) }));
    for (const h of held) {
      try {
        host.claimInputs(h.job, h.row.inputs);
      } catch (err) {
        h.job.end('error', (err as Error).message);
      }
    }
    return held;
  });
  opts.log?.info({ user: caller.username, runs: held.length, checkedMs, storedMs: host.now() - started - checkedMs }, 'batch stored');
  void launchInSlices(host, held, slice, opts.log);
  return held.map((h) => ({ index: h.index, jobId: h.row.id, jobKey: h.row.jobKey, serial: h.row.serial }));
}

interface Planned {
  index: number;
  template: Template;
  previous: JobRow | undefined;
  row: JobRow;
}

/**
 * The batch's rows, checked as a whole: job keys and uploads used once, no job key of an active
 * job (a batch does not cancel runs), entries within the caller's quotas (those beyond are
 * named). Pushes what it refuses onto `errors`.
 */
function planBatch(host: BatchHost, caller: Caller, entries: Entry[], errors: BatchEntryError[]): Planned[] {
  const user = caller.username;
  const keys = new Map<string, number>();
  const uploads = new Map<string, number>();
  const quota = host.quota(caller);
  const active = host.activeRuns(user);
  let stored = host.store.countJobs(user);
  const planned: Planned[] = [];
  const now = host.now();
  for (const { index, valid } of entries) {
    try {
      const { jobKey, template, next } = valid;
      const other = keys.get(jobKey);
      if (other !== undefined) throw new JobvisorError('DUPLICATE_JOB_KEY', `job key ${jobKey} is also the job key of run ${other} of this batch`);
      keys.set(jobKey, index);
      const existing = host.store.findJob(user, jobKey);
      if (existing && isActive(existing.status)) {
        throw new JobvisorError('JOB_ACTIVE', `job ${jobKey} has a run queued or running; a batch does not replace runs (cancel it, or give another job key)`);
      }
      // Uploads are checked again here: another request may have taken one since.
      const inputs = valid.inputs.length > 0 ? host.resolveInputs(caller, template, valid.givenInputs) : [];
      for (const input of inputs) {
        const twice = uploads.get(input.uploadId);
        if (twice !== undefined) throw new JobvisorError('UPLOAD_IN_USE', `upload ${input.uploadId} is also an input of run ${twice} of this batch`);
        uploads.set(input.uploadId, index);
      }
      checkBatchQuota(caller, quota, active + planned.length, existing ? stored : stored + 1);
      if (!existing) stored++;
      const first = existing ? undefined : host.newRow(user, jobKey);
      const base = existing ?? (first as JobRow);
      const serial = existing ? existing.serial + 1 : base.serial;
      const row: JobRow = { ...base, ...next, ...freshRun(now), inputs, serial, runDir: host.runDir(next.target, user, base.id, serial) };
      planned.push({ index, template, previous: existing, row });
    } catch (err) {
      errors.push(entryError(index, err));
    }
  }
  return planned;
}

/** Refuses an entry that would take the caller over a quota: `active` runs queued or running before it, `stored` jobs with it. */
function checkBatchQuota(caller: Caller, quota: Quota, active: number, stored: number): void {
  if (active >= quota.activeRuns) {
    throw new JobvisorError('QUOTA_EXCEEDED', `this run would be your run ${active + 1} queued or running, over quotas.${caller.role}.activeRuns = ${quota.activeRuns}`, { quota: 'activeRuns', limit: quota.activeRuns });
  }
  if (stored > quota.storedJobs) {
    throw new JobvisorError('QUOTA_EXCEEDED', `this run's new job would be your job ${stored} kept, over quotas.${caller.role}.storedJobs = ${quota.storedJobs}`, { quota: 'storedJobs', limit: quota.storedJobs });
  }
}

/** Starts the stored runs' ops in index order (so they queue for slots in that order), a slice per turn of the event loop. */
async function launchInSlices(host: BatchHost, held: (Planned & { job: ComputeJob })[], slice: number, log: Logger | undefined): Promise<void> {
  for (let i = 0; i < held.length; i++) {
    if (i > 0 && i % slice === 0) await yieldToLoop();
    const { job, row, template, previous } = held[i] as Planned & { job: ComputeJob };
    try {
      job.launchQueued(row.serial, template);
      if (previous) host.onRunStarted(job, template);
    } catch (err) {
      log?.error({ jobId: row.id, err }, 'a run of a batch could not start');
    }
  }
}
