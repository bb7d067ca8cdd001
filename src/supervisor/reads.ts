/**
 * Reading a job's run: its log from an offset, its output files, and analysis frames. Each is
 * an op to an agent of the job's user on its target (the run directory may be on another host).
 */
import { Readable } from 'node:stream';
import type { LogChunk } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { AnalysisResult, IoListResult, IoReadResult, RUN_LOG, type FileEntry, type Op } from '../shared/protocol.js';
import type { Caller } from '../shared/types.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';
import { sendOp, type OpContext } from './opLoop.js';
import type { Slots } from './slots.js';
import { buildAnalysisOp } from './runOp.js';

const CHUNK = 256 * 1024;

export interface ReadDeps extends OpContext {
  jobs: JobService;
  runDir(job: ComputeJob): string;
  templatesDir(job: ComputeJob): string;
  opTimeoutMs: number;
  /** The analysis places of the agent that runs a job's analyses, for a caller of that role. */
  analysisSlots(job: ComputeJob, role: Caller['role']): Slots;
}

function checkSerial(job: ComputeJob, serial: number | undefined): void {
  if (serial !== undefined && serial !== job.row.serial) {
    throw new JobvisorError('STALE_SERIAL', `run ${serial} is not the current run (${job.row.serial})`);
  }
}

function io(deps: ReadDeps, job: ComputeJob, op: Omit<Extract<Op, { kind: 'io' }>, 'kind' | 'runDir'>): Promise<unknown> {
  const target = { target: job.row.target, user: job.row.user, size: job.row.size };
  return sendOp(deps, target, { kind: 'io', runDir: deps.runDir(job), ...op }, AbortSignal.timeout(deps.opTimeoutMs));
}

/** Removes the job's run directory on its target (through its agent): the job is being deleted. */
export async function removeJobFiles(deps: ReadDeps, job: ComputeJob): Promise<void> {
  await io(deps, job, { action: 'remove', path: '', offset: 0, length: 1 });
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
  checkSerial(job, q.serial);
  const empty: LogChunk = { serial: job.row.serial, offset: q.offset, nextOffset: q.offset, size: 0, text: '' };
  if (!job.row.sent) return empty;
  let r;
  try {
    r = IoReadResult.parse(await io(deps, job, { action: 'read', path: RUN_LOG, offset: q.offset, length: q.limit }));
  } catch (err) {
    if (err instanceof JobvisorError && err.code === 'FILE_NOT_FOUND') return empty;
    throw err;
  }
  const buf = Buffer.from(r.dataBase64, 'base64');
  const usable = completeUtf8(buf);
  return { serial: job.row.serial, offset: q.offset, nextOffset: q.offset + usable, size: r.size, text: buf.subarray(0, usable).toString('utf8') };
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*');
  return new RegExp(`^${re}$`);
}

export async function listFiles(deps: ReadDeps, caller: Caller, jobId: string) {
  const job = deps.jobs.visible(caller, jobId);
  const results = deps.jobs.template(job.row).results.map(globToRegExp);
  if (!job.row.sent) return { serial: job.row.serial, files: [], truncated: false };
  const r = IoListResult.parse(await io(deps, job, { action: 'list', path: '', offset: 0, length: 1 }));
  const files = r.files.map((f: FileEntry) => ({ ...f, result: results.some((re) => re.test(f.path)) }));
  return { serial: job.row.serial, files, truncated: r.truncated };
}

/** A file of the run as a stream, read from the agent chunk by chunk. */
export async function readFile(deps: ReadDeps, caller: Caller, jobId: string, path: string): Promise<{ size: number; stream: Readable }> {
  const job = deps.jobs.visible(caller, jobId);
  if (!job.row.sent) throw new JobvisorError('FILE_NOT_FOUND', `no file ${path} (the run has not started)`);
  const first = IoReadResult.parse(await io(deps, job, { action: 'read', path, offset: 0, length: CHUNK }));
  const size = first.size;
  async function* chunks() {
    let data = Buffer.from(first.dataBase64, 'base64');
    let offset = 0;
    while (data.length > 0) {
      yield data;
      offset += data.length;
      if (offset >= size) return;
      const next = IoReadResult.parse(await io(deps, job, { action: 'read', path, offset, length: CHUNK }));
      data = Buffer.from(next.dataBase64, 'base64');
    }
  }
  return { size, stream: Readable.from(chunks()) };
}

export async function analysis(deps: ReadDeps, caller: Caller, jobId: string, body: { frame: string; index: number; serial?: number }) {
  const job = deps.jobs.visible(caller, jobId);
  checkSerial(job, body.serial);
  const template = deps.jobs.template(job.row);
  const op = buildAnalysisOp(job.row, template, body.frame, body.index, deps.runDir(job), deps.templatesDir(job));
  if (!op) {
    const known = Object.keys(template.analysis);
    throw new JobvisorError('UNKNOWN_FRAME', `template ${template.name} has no frame "${body.frame}"${known.length ? `; known: ${known.join(', ')}` : ''}`);
  }
  if (!job.row.sent) throw new JobvisorError('ANALYSIS_FAILED', 'the run has not started yet');
  const target = { target: job.row.target, user: job.row.user, size: job.row.size };
  const timeout = AbortSignal.timeout(op.timeLimitSeconds * 1000 + deps.opTimeoutMs);
  // At most so many analysis processes at once per agent; more wait for a place, within their own deadline.
  const places = deps.analysisSlots(job, caller.username === job.row.user ? caller.role : 'user');
  const release = await places.acquire(timeout).catch(() => {
    throw new JobvisorError('QUOTA_EXCEEDED', `no place for this analysis in time: ${places.total} may run at once on this agent, and they took too long`, { quota: 'analyses', limit: places.total });
  });
  try {
    const r = AnalysisResult.parse(await sendOp(deps, target, op, timeout));
    return { serial: job.row.serial, frame: body.frame, index: body.index, data: r.data };
  } finally {
    release();
  }
}
