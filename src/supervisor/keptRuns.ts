/**
 * Kept runs: when a job runs again, its earlier runs keep their folders, up to `keepRuns` of
 * them (the template's, else the site's). Beyond that the oldest earlier run's folder (and
 * archive) is removed through the agent of its target, as delete does, and its history entry
 * becomes `purged`: its record and parameters stay.
 */
import type { Logger } from '../shared/logger.js';
import type { Template } from '../shared/template.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';
import { placeOf, removeRunFiles, type RunFilesDeps } from './runFiles.js';
import type { JobStore } from './store.js';

export interface KeptRunsDeps extends RunFilesDeps {
  jobs: JobService;
  store: JobStore;
  log: Logger;
  /** The site's `keepRuns`. */
  keepRuns: number;
}

export const keepRunsOf = (deps: Pick<KeptRunsDeps, 'keepRuns'>, template: Pick<Template, 'keepRuns'> | undefined) => template?.keepRuns ?? deps.keepRuns;

/** The earlier runs of a job whose files are still there (kept or archived), newest first. */
export function earlierWithFiles(store: JobStore, jobId: string) {
  return store.history(jobId).filter((h) => h.files === 'kept' || h.files === 'archived');
}

/** Removes the files of the earlier runs of a job beyond the `keep` newest (under the job's lock). */
export async function pruneEarlierRuns(deps: KeptRunsDeps, jobId: string, keep: number): Promise<number[]> {
  return deps.jobs.withJob(jobId, async (job: ComputeJob | undefined) => {
    if (!job) return [];
    const removed: number[] = [];
    for (const run of earlierWithFiles(deps.store, jobId).slice(keep).reverse()) {
      const record = deps.store.getRun(jobId, run.serial);
      if (!record) continue;
      await removeRunFiles(deps, placeOf(deps.targets, record));
      deps.jobs.setRunFiles(job, run.serial, { files: 'purged', status: 'purged', bytes: 0 });
      deps.log.info({ jobId, serial: run.serial, keep }, 'earlier run beyond those kept: its files removed');
      removed.push(run.serial);
    }
    return removed;
  });
}
