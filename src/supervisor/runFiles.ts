/**
 * Where each run's files live and what can be done to them through the agent of the run's
 * target: one folder per run (`<job folder>/<serial>`; runs of jobvisor ≤ 0.2 used the job's
 * own folder), and, once archived, one `<serial>.tar.gz` in the target's archive folder. The io
 * ops (src/cmds/files.ts) read from the folder, or from the archive when the folder is gone.
 */
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import { IoSizeResult, type IoOp } from '../shared/protocol.js';
import type { RunFiles } from '../shared/retention.js';
import type { Size, Status } from '../shared/types.js';
import type { Driver } from '../drivers/driver.js';
import { sendOp, type OpContext } from './opLoop.js';
import type { Targets } from './targets.js';

/** A run, as far as its files go. */
export interface RunRef {
  jobId: string;
  user: string;
  serial: number;
  target: string;
  size: Size;
  runDir: string | null;
  files: RunFiles | null;
  status: Status;
}

/** Where a run's files are, as its agent sees them. */
export interface RunPlace {
  target: string;
  user: string;
  size: Size;
  runDir: string;
  archive: string;
  legacy: boolean;
  /** Its files are in the archive (reads name the archive only then, so an agent of an earlier version still reads a folder). */
  archived: boolean;
}

export interface RunFilesDeps extends OpContext {
  targets: Targets;
  opTimeoutMs: number;
}

/** A job's folder on a target (every run's folder is in it). */
export const jobDir = (driver: Driver, user: string, jobId: string) => driver.runDir(user, jobId);

/** The folder holding a job's archives on a target. */
export function archiveDir(driver: Driver, user: string, jobId: string): string {
  if (driver.archiveDir) return driver.archiveDir(user, jobId);
  const dir = jobDir(driver, user, jobId);
  return `${path.posix.dirname(dir)}/.archive/${jobId}`;
}

/** The folder of run `serial` of a job, for a new run. */
export const newRunDir = (driver: Driver, user: string, jobId: string, serial: number) => `${jobDir(driver, user, jobId)}/${serial}`;

export function placeOf(targets: Targets, run: RunRef): RunPlace {
  const driver = targets.get(run.target);
  if (!driver) throw new JobvisorError('TARGET_NOT_FOUND', `run ${run.serial} went to target ${run.target}, which is no longer configured`);
  return {
    target: run.target,
    user: run.user,
    size: run.size,
    runDir: run.runDir ?? jobDir(driver, run.user, run.jobId),
    archive: `${archiveDir(driver, run.user, run.jobId)}/${run.serial}.tar.gz`,
    legacy: run.runDir === null,
    archived: run.files === 'archived',
  };
}

/** Sends an io op about a run's files to an agent of the run's target and user. */
export function ioAt(deps: RunFilesDeps, place: RunPlace, op: Pick<IoOp, 'action'> & Partial<Pick<IoOp, 'path' | 'offset' | 'length'>>): Promise<unknown> {
  const withArchive = place.archived || !['list', 'read', 'stat'].includes(op.action);
  const io: IoOp = {
    kind: 'io',
    runDir: place.runDir,
    ...(withArchive ? { archive: place.archive } : {}),
    ...(place.legacy ? { legacy: true } : {}),
    path: op.path ?? '',
    offset: op.offset ?? 0,
    length: op.length ?? 256 * 1024,
    action: op.action,
  };
  return sendOp(deps, { target: place.target, user: place.user, size: place.size }, io, AbortSignal.timeout(deps.opTimeoutMs));
}

export async function removeRunFiles(deps: RunFilesDeps, place: RunPlace): Promise<void> {
  await ioAt(deps, place, { action: 'remove' });
}

export async function archiveRunFiles(deps: RunFilesDeps, place: RunPlace): Promise<IoSizeResult> {
  const r = (await ioAt(deps, place, { action: 'archive' })) as { where: IoSizeResult['where']; bytes: number };
  return IoSizeResult.parse({ where: r.where, bytes: r.bytes });
}

export async function runFilesSize(deps: RunFilesDeps, place: RunPlace): Promise<IoSizeResult> {
  return IoSizeResult.parse(await ioAt(deps, place, { action: 'size' }));
}

/**
 * Removes every folder and archive of a job (it is being deleted), on each target its runs went
 * to: the job's folder (all its runs' folders) and its archive folder.
 */
export async function removeAllJobFiles(deps: RunFilesDeps, job: { id: string; user: string }, runs: { target: string; size: Size }[]): Promise<void> {
  const seen = new Set<string>();
  for (const r of runs) {
    const driver = deps.targets.get(r.target);
    if (!driver || seen.has(r.target)) continue;
    seen.add(r.target);
    const at = { target: r.target, user: job.user, size: r.size };
    const signal = () => AbortSignal.timeout(deps.opTimeoutMs);
    await sendOp(deps, at, { kind: 'io', action: 'remove', runDir: jobDir(driver, job.user, job.id), path: '', offset: 0, length: 1 }, signal());
    await sendOp(deps, at, { kind: 'io', action: 'remove', runDir: archiveDir(driver, job.user, job.id), path: '', offset: 0, length: 1 }, signal());
  }
}
