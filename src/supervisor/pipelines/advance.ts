/**
 * How a pipeline moves on, as pure functions over its rows: a running stage follows its job's
 * run; a waiting stage whose upstream stage failed, was canceled or is blocked is blocked (with
 * the reason); a waiting stage whose upstream stages all completed is ready to start; once no
 * stage can move, the pipeline ends. Each returns whether it changed anything.
 */
import type { StageState } from '../../shared/pipelines.js';
import type { Status } from '../../shared/types.js';
import { dependsOn } from './graph.js';
import type { PipelineRow, StageRow } from './store.js';

/** What a stage's job's current run is now (undefined: the job is gone). */
export interface StageJob {
  serial: number;
  status: Status;
  reason: string | null;
  progress: number | null;
  progressMessage: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

function setStage(st: StageRow, state: StageState, reason: string | null): boolean {
  if (st.state === state && st.reason === reason) return false;
  st.state = state;
  st.reason = reason;
  return true;
}

/** A running stage takes its job's end: completed, failed (error, missing, purged, gone) or canceled. */
export function followJob(st: StageRow, job: StageJob | undefined): boolean {
  if (st.state !== 'running') return false;
  if (!job) return setStage(st, 'failed', 'its job was deleted');
  if (job.serial !== st.serial) return setStage(st, 'failed', `its job was run again outside the pipeline (run ${job.serial}, the stage's was ${String(st.serial)})`);
  switch (job.status) {
    case 'pending':
    case 'running':
      return false;
    case 'completed':
      return setStage(st, 'completed', null);
    case 'canceled':
      return setStage(st, 'canceled', job.reason ?? 'canceled');
    case 'error':
    case 'missing':
    case 'purged':
      return setStage(st, 'failed', job.reason ?? job.status);
    default: {
      const never: never = job.status;
      return never;
    }
  }
}

/** Why a stage cannot run because of its upstream stage `d` (null while `d` may still complete). */
function blockedBy(d: StageRow): string | null {
  switch (d.state) {
    case 'failed':
      return `stage ${d.name} failed: ${d.reason ?? 'no reason given'}`;
    case 'canceled':
      return `stage ${d.name} was canceled`;
    case 'blocked':
      return d.reason;
    default:
      return null;
  }
}

/** Blocks the waiting stages whose upstream stages cannot complete (in order, so blocks pass down in one call). */
export function blockStages(p: PipelineRow): boolean {
  let changed = false;
  for (const name of p.order) {
    const st = p.stages.get(name)!;
    if (st.state !== 'waiting') continue;
    for (const d of dependsOn(p.spec.stages[name]!)) {
      const reason = blockedBy(p.stages.get(d)!);
      if (reason !== null) {
        changed = setStage(st, 'blocked', reason) || changed;
        break;
      }
    }
  }
  return changed;
}

/** The waiting stages whose upstream stages have all completed, in order. */
export function readyStages(p: PipelineRow): StageRow[] {
  return p.order
    .map((n) => p.stages.get(n)!)
    .filter((st) => st.state === 'waiting' && dependsOn(p.spec.stages[st.name]!).every((d) => p.stages.get(d)!.state === 'completed'));
}

/** Ends a running pipeline once no stage is waiting, starting or running: completed, or failed with its first failed stage's reason. */
export function settle(p: PipelineRow, now: number): boolean {
  if (p.state !== 'running') return false;
  const stages = p.order.map((n) => p.stages.get(n)!);
  if (stages.some((s) => s.state === 'waiting' || s.state === 'starting' || s.state === 'running')) return false;
  const failed = stages.find((s) => s.state === 'failed');
  const canceled = stages.find((s) => s.state === 'canceled');
  if (failed) endPipeline(p, 'failed', `stage ${failed.name} failed: ${failed.reason ?? 'no reason given'}`, now);
  else if (canceled) endPipeline(p, 'failed', `stage ${canceled.name} was canceled: ${canceled.reason ?? ''}`.trim(), now);
  else endPipeline(p, 'completed', null, now);
  return true;
}

export function endPipeline(p: PipelineRow, state: 'completed' | 'failed' | 'canceled', reason: string | null, now: number): void {
  p.state = state;
  p.reason = reason;
  p.endedAt = now;
  p.updatedAt = now;
}

/** Resume: the stages that did not complete wait again; the completed ones are kept. */
export function reopen(p: PipelineRow, now: number): void {
  for (const st of p.stages.values()) {
    if (st.state === 'failed' || st.state === 'canceled' || st.state === 'blocked') setStage(st, 'waiting', null);
  }
  p.state = 'running';
  p.reason = null;
  p.endedAt = null;
  p.updatedAt = now;
}
