/**
 * Reading a job's run: its log from an offset, its output files, and analysis frames. Each is
 * an op to an agent of the job's user on its target (the run directory may be on another host).
 */
import { Readable } from 'node:stream';
import type { LogChunk } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { AnalysisResult, IoListResult, IoReadResult, RUN_LOG, type FileEntry } from '../shared/protocol.js';
import type { Caller } from '../shared/types.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';
import { sendOp, type OpContext } from './opLoop.js';
import type { Slots } from './slots.js';
import { buildAnalysisOp } from './runOp.js';
import { ioAt, placeOf, removeAllJobFiles, type RunPlace, type RunRef } from './runFiles.js';
import type { JobStore } from './store.js';
import type { Targets } from './targets.js';

const CHUNK = 256 * 1024;

export interface ReadDeps extends OpContext {
  jobs: JobService;
  runDir(job: ComputeJob): string;
  templatesDir(job: ComputeJob): string;
  opTimeoutMs: number;
  /** The analysis places of the agent that runs a job's analyses, for a caller of that role. */
  analysisSlots(job: ComputeJob, role: Caller['role']): Slots;
  targets: Targets;
  store: JobStore;
}

/** The run a read names: the current one (no serial, or its serial), or an earlier one; RUN_NOT_FOUND for any other serial. */
export interface ReadRun {
  ref: RunRef;
  current: boolean;
  sent: boolean;
  parameters: Record<string, unknown>;
}

export function runOf(deps: ReadDeps, job: ComputeJob, serial: number | undefined): ReadRun {
  const r = job.row;
  if (serial === undefined || serial === r.serial) {
    return { ref: { jobId: r.id, user: r.user, serial: r.serial, target: r.target, size: r.size, runDir: r.runDir, files: r.files, status: r.status }, current: true, sent: r.sent, parameters: r.parameters };
  }
  const run = deps.store.getRun(r.id, serial);
  if (!run) throw new JobvisorError('RUN_NOT_FOUND', `job ${r.id} has no run ${serial} (its runs: ${r.serial} and its history)`, { serial });
  return { ref: { ...run }, current: false, sent: true, parameters: run.parameters };
}

/** The place of a run's files, or RUN_FILES_GONE when they were removed. */
function placeFor(deps: ReadDeps, run: ReadRun): RunPlace {
  const files = run.ref.files ?? 'kept';
  if (files === 'purged' || files === 'missing') {
    throw new JobvisorError('RUN_FILES_GONE', `the files of run ${run.ref.serial} are ${files === 'purged' ? 'deleted (kept runs or retention policy)' : 'gone (missing)'}; its record stays`, { serial: run.ref.serial, files });
  }
  return placeOf(deps.targets, run.ref);
}

function io(deps: ReadDeps, run: ReadRun, op: { action: 'list' | 'read' | 'stat'; path?: string; offset?: number; length?: number }): Promise<unknown> {
  return ioAt(deps, placeFor(deps, run), op);
}

/** Removes every run folder and archive of the job on its targets (through their agents): the job is being deleted. */
export async function removeJobFiles(deps: ReadDeps, job: ComputeJob): Promise<void> {
  const r = job.row;
  await removeAllJobFiles(deps, { id: r.id, user: r.user }, [{ target: r.target, size: r.size }, ...deps.store.history(r.id)]);
}

/** Bytes that end inside a UTF-8 sequence are left for the next read. */
function completeUtf8(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 4 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return back + 1 < need ? i : buf.length;
}

export async function readLog(deps: ReadDeps, caller: Caller, jobId: string, q: { offset: number; limit: number; serial?: number }): Promise<LogChunk> {
  const job = deps.jobs.visible(caller, jobId);
  const run = runOf(deps, job, q.serial);
  const empty: LogChunk = { serial: run.ref.serial, offset: q.offset, nextOffset: q.offset, size: 0, text: '' };
  if (!run.sent) return empty;
  let r;
  try {
    r = IoReadResult.parse(await io(deps, run, { action: 'read', path: RUN_LOG, offset: q.offset, length: q.limit }));
  } catch (err) {
    if (err instanceof JobvisorError && err.code === 'FILE_NOT_FOUND') return empty;
    throw err;
  }
  const buf = Buffer.from(r.dataBase64, 'base64');
  const usable = completeUtf8(buf);
  return { serial: run.ref.serial, offset: q.offset, nextOffset: q.offset + usable, size: r.size, text: buf.subarray(0, usable).toString('utf8') };
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*');
  return new RegExp(`^${re}$`);
}

export async function listFiles(deps: ReadDeps, caller: Caller, jobId: string, serial?: number) {
  const job = deps.jobs.visible(caller, jobId);
  const run = runOf(deps, job, serial);
  const template = deps.jobs.templateNamed(run.current ? job.row.template : (deps.store.getRun(job.id, run.ref.serial)?.template ?? job.row.template));
  const results = (template?.results ?? []).map(globToRegExp);
  const files0 = run.ref.files ?? 'kept';
  if (!run.sent) return { serial: run.ref.serial, files: [], truncated: false, archived: false };
  const r = IoListResult.parse(await io(deps, run, { action: 'list' }));
  const files = r.files.map((f: FileEntry) => ({ ...f, result: results.some((re) => re.test(f.path)) }));
  return { serial: run.ref.serial, files, truncated: r.truncated, archived: files0 === 'archived' };
}

/** A file of the run as a stream, read from the agent chunk by chunk. */
export async function readFile(deps: ReadDeps, caller: Caller, jobId: string, path: string, serial?: number): Promise<{ size: number; stream: Readable }> {
  const job = deps.jobs.visible(caller, jobId);
  const run = runOf(deps, job, serial);
  if (!run.sent) throw new JobvisorError('FILE_NOT_FOUND', `no file ${path} (the run has not started)`);
  const first = IoReadResult.parse(await io(deps, run, { action: 'read', path, offset: 0, length: CHUNK }));
  const size = first.size;
  async function* chunks() {
    let data = Buffer.from(first.dataBase64, 'base64');
    let offset = 0;
    while (data.length > 0) {
      yield data;
      offset += data.length;
      if (offset >= size) return;
      const next = IoReadResult.parse(await io(deps, run, { action: 'read', path, offset, length: CHUNK }));
      data = Buffer.from(next.dataBase64, 'base64');
    }
  }
  return { size, stream: Readable.from(chunks()) };
}

export async function analysis(deps: ReadDeps, caller: Caller, jobId: string, body: { frame: string; index: number; serial?: number }) {
  const job = deps.jobs.visible(caller, jobId);
  const run = runOf(deps, job, body.serial);
  const template = deps.jobs.template(job.row);
  const place = run.current ? undefined : placeFor(deps, run);
  const row = run.current ? job.row : { ...job.row, serial: run.ref.serial, parameters: run.parameters, target: run.ref.target, size: run.ref.size };
  const op = buildAnalysisOp(row, template, body.frame, body.index, place?.runDir ?? deps.runDir(job), deps.templatesDir(job));
  if (!op) {
    const known = Object.keys(template.analysis);
    throw new JobvisorError('UNKNOWN_FRAME', `template ${template.name} has no frame "${body.frame}"${known.length ? `; known: ${known.join(', ')}` : ''}`);
  }
  if (!run.sent) throw new JobvisorError('ANALYSIS_FAILED', 'the run has not started yet');
  if ((run.ref.files ?? 'kept') === 'archived') throw new JobvisorError('RUN_ARCHIVED', `run ${run.ref.serial} is archived: its files can be listed and downloaded, not analysed`);
  if (run.current) placeFor(deps, run);
  const target = { target: row.target, user: row.user, size: row.size };
  const timeout = AbortSignal.timeout(op.timeLimitSeconds * 1000 + deps.opTimeoutMs);
  // At most so many analysis processes at once per agent; more wait for a place, within their own deadline.
  const places = deps.analysisSlots(job, caller.username === job.row.user ? caller.role : 'user');
  const release = await places.acquire(timeout).catch(() => {
    throw new JobvisorError('QUOTA_EXCEEDED', `no place for this analysis in time: ${places.total} may run at once on this agent, and they took too long`, { quota: 'analyses', limit: places.total });
  });
  try {
    const r = AnalysisResult.parse(await sendOp(deps, target, op, timeout));
    return { serial: run.ref.serial, frame: body.frame, index: body.index, data: r.data };
  } finally {
    release();
  }
}
