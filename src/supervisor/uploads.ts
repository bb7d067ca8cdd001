/**
 * Input files, supervisor side: an upload is streamed to `<uploadsDir>/<user>/<id>` (a temp
 * name first, renamed once whole), counted and hashed as it arrives, within the limits (per
 * file, the template input's own maxBytes, per user stored); refused with nothing left behind.
 * A run request names its inputs by upload id; the run claims them (so they do not expire)
 * and they are removed once the run has started or ended. Unclaimed uploads expire.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { UploadView } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { InputSpec, Template } from '../shared/template.js';
import type { Caller } from '../shared/types.js';
import type { RunInput } from './store.js';
import type { UploadRow, UploadStore } from './store/uploads.js';
import { acceptsFile, sanitiseFileName } from './fileNames.js';

export interface UploadLimits {
  maxUploadBytes: number;
  uploadQuotaBytes: number;
  uploadTtlSeconds: number;
}

export interface UploadMeta {
  fileName: string;
  mediaType: string;
  /** For an upload made with its run request: the template and input it is for (checked before anything is stored). */
  template?: Template;
  input?: string;
}

export const UPLOAD_ID = /^[0-9a-f]{24}$/;
const TEMP_SUFFIX = '.part';

export class UploadService {
  /** Bytes being received per user (counted against the quota with what is stored). */
  private readonly receiving = new Map<string, number>();

  constructor(
    private readonly store: UploadStore,
    private readonly dir: string,
    private readonly limits: UploadLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  filePath(u: Pick<UploadRow, 'user' | 'id'>): string {
    return path.join(this.dir, u.user, u.id);
  }

  view(u: UploadRow): UploadView {
    return { uploadId: u.id, fileName: u.fileName, mediaType: u.mediaType, size: u.size, sha256: u.sha256, createdAt: u.createdAt, expiresAt: u.expiresAt, inUse: u.jobId !== null };
  }

  list(caller: Caller): UploadView[] {
    return this.store.listUser(caller.username).map((u) => this.view(u));
  }

  /** Streams one file to disk and records it; on any refusal or failure nothing stays (no temp file, no row). */
  async receive(caller: Caller, body: Readable, meta: UploadMeta): Promise<UploadView> {
    const user = caller.username;
    const fileName = sanitiseFileName(meta.fileName);
    let limit = this.limits.maxUploadBytes;
    if (meta.template && meta.input !== undefined) {
      const spec = inputSpec(meta.template, meta.input);
      checkAccepted(meta.input, spec, fileName, meta.mediaType);
      limit = Math.min(limit, spec.maxBytes ?? limit);
    }
    const room = this.limits.uploadQuotaBytes - this.store.bytesOf(user) - (this.receiving.get(user) ?? 0);
    if (room <= 0) throw quotaError(this.limits.uploadQuotaBytes);
    const id = randomBytes(12).toString('hex');
    const userDir = path.join(this.dir, user);
    mkdirSync(userDir, { recursive: true, mode: 0o700 });
    const temp = path.join(userDir, `${id}${TEMP_SUFFIX}`);
    let counted = 0;
    try {
      const { size, sha256 } = await this.write(body, temp, user, (n) => {
        counted = n;
        if (n > limit) return new JobvisorError('UPLOAD_TOO_LARGE', `${fileName} is larger than ${bytesText(limit)}, the most this ${meta.input !== undefined ? `input (${meta.input})` : 'site'} accepts`, { limit });
        if (n > room) return quotaError(this.limits.uploadQuotaBytes);
        return undefined;
      });
      await rename(temp, this.filePath({ user, id }));
      const now = this.now();
      const row: UploadRow = { id, user, fileName, mediaType: meta.mediaType, size, sha256, createdAt: now, expiresAt: now + this.limits.uploadTtlSeconds * 1000, jobId: null, serial: null };
      try {
        this.store.insert(row);
      } catch (err) {
        await rm(this.filePath(row), { force: true });
        throw err;
      }
      this.log.info({ user, uploadId: id, fileName, size }, 'upload stored');
      return this.view(row);
    } catch (err) {
      await rm(temp, { force: true });
      this.log.info({ user, fileName, bytes: counted, err: (err as Error).message }, 'upload refused');
      throw err;
    }
  }

  /** Copies `body` to `file`, hashing; `check` sees the count after each chunk and may refuse (the rest of the body is then read and dropped). */
  private write(body: Readable, file: string, user: string, check: (n: number) => JobvisorError | undefined): Promise<{ size: number; sha256: string }> {
    return new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      const out = createWriteStream(file, { mode: 0o600 });
      let size = 0;
      let refused: JobvisorError | undefined;
      let settled = false;
      const reserve = (n: number) => this.receiving.set(user, (this.receiving.get(user) ?? 0) + n);
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        reserve(-size);
        if (this.receiving.get(user) === 0) this.receiving.delete(user);
        if (err) {
          out.destroy();
          // The caller answers after the body was read to its end (an HTTP client may not read an answer it is still sending to).
          body.resume();
          const done = () => reject(err);
          if (body.readableEnded || body.destroyed) done();
          else {
            body.once('end', done);
            body.once('error', done);
            body.once('close', done);
          }
          return;
        }
        out.end(() => resolve({ size, sha256: hash.digest('hex') }));
      };
      out.on('error', (err) => finish(err));
      body.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        reserve(chunk.length);
        refused = check(size);
        if (refused) return finish(refused);
        hash.update(chunk);
        if (!out.write(chunk)) {
          body.pause();
          out.once('drain', () => body.resume());
        }
      });
      body.on('end', () => finish());
      body.on('error', () => finish(new JobvisorError('INVALID_MULTIPART', 'the upload was cut off before its end')));
      body.on('close', () => {
        if (!body.readableEnded) finish(new JobvisorError('INVALID_MULTIPART', 'the upload was cut off before its end'));
      });
    });
  }

  async remove(caller: Caller, id: string): Promise<void> {
    const u = this.owned(caller, id);
    if (u.jobId !== null) throw new JobvisorError('UPLOAD_IN_USE', `upload ${id} is an input of job ${u.jobId} (run ${u.serial}) and goes when that run starts`);
    await this.delete(u);
  }

  private owned(caller: Caller, id: string): UploadRow {
    const u = UPLOAD_ID.test(id) ? this.store.get(id) : undefined;
    if (!u || u.user !== caller.username) throw new JobvisorError('UPLOAD_NOT_FOUND', `no upload ${id}`);
    return u;
  }

  private async delete(u: UploadRow): Promise<void> {
    this.store.delete(u.id);
    await rm(this.filePath(u), { force: true });
  }

  /**
   * The input files of a run request (`inputs`: input name → upload id), checked against the
   * template: names it declares, required ones given, each upload the caller's, free, of an
   * accepted type and size. File names are made unique within the run's `inputs/` folder.
   */
  resolve(caller: Caller, template: Template, given: Record<string, string>): RunInput[] {
    for (const name of Object.keys(given)) inputSpec(template, name);
    const out: RunInput[] = [];
    const names = new Set<string>();
    for (const [name, spec] of Object.entries(template.inputs)) {
      const id = Object.hasOwn(given, name) ? given[name] : undefined;
      if (id === undefined || id === '') {
        if (spec.required) throw new JobvisorError('INPUT_REQUIRED', `input ${name} (${spec.label}) of ${template.name} is required`, { input: name });
        continue;
      }
      const u = this.owned(caller, id);
      if (u.jobId !== null) throw new JobvisorError('UPLOAD_IN_USE', `upload ${id} is already an input of job ${u.jobId}`);
      checkAccepted(name, spec, u.fileName, u.mediaType);
      const limit = Math.min(this.limits.maxUploadBytes, spec.maxBytes ?? Infinity);
      if (u.size > limit) throw new JobvisorError('UPLOAD_TOO_LARGE', `${u.fileName} has ${bytesText(u.size)}; input ${name} accepts at most ${bytesText(limit)}`, { limit });
      let fileName = u.fileName;
      if (names.has(fileName)) fileName = sanitiseFileName(`${name}-${fileName}`);
      names.add(fileName);
      out.push({ name, uploadId: u.id, fileName, size: u.size, sha256: u.sha256 });
    }
    return out;
  }

  /** The run `jobId`/`serial` refers to these uploads (they no longer expire); false if one was taken meanwhile. */
  claim(inputs: RunInput[], jobId: string, serial: number): boolean {
    return inputs.length === 0 || this.store.claim(inputs.map((i) => i.uploadId), jobId, serial);
  }

  /** A stored upload's file, for staging (undefined when it is gone). */
  stored(input: RunInput): { file: string; row: UploadRow } | undefined {
    const row = this.store.get(input.uploadId);
    return row ? { file: this.filePath(row), row } : undefined;
  }

  /** The job's run `serial` has started or ended (or the job was deleted: no serial): the uploads it claimed go. */
  release(jobId: string, serial?: number): void {
    for (const u of this.store.claimedBy(jobId, serial)) {
      this.delete(u).catch((err: unknown) => this.log.warn({ uploadId: u.id, err: (err as Error).message }, 'upload could not be removed'));
    }
  }

  /**
   * Removes expired unclaimed uploads, and claimed ones whose run no longer waits for them
   * (`waiting`: a release missed, e.g. by a supervisor stopped in between); at start (`full`),
   * also files without a row and leftover temp files.
   */
  async sweep(full = false, waiting: (jobId: string, serial: number) => boolean = () => true): Promise<number> {
    let removed = 0;
    const gone = [...this.store.expired(this.now()), ...this.store.claimed().filter((u) => !waiting(u.jobId ?? '', u.serial ?? 0))];
    for (const u of gone) {
      await this.delete(u);
      removed++;
    }
    if (full) removed += await this.removeOrphans();
    if (removed > 0) this.log.info({ removed }, 'uploads swept');
    return removed;
  }

  close(): void {
    this.store.close();
  }

  private async removeOrphans(): Promise<number> {
    const known = this.store.allIds();
    let removed = 0;
    for (const user of await readdir(this.dir).catch(() => [] as string[])) {
      const userDir = path.join(this.dir, user);
      if (!(await stat(userDir).catch(() => null))?.isDirectory()) continue;
      for (const f of await readdir(userDir)) {
        if (known.has(f)) continue;
        await rm(path.join(userDir, f), { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }
}

/** "2 MiB (2097152 bytes)", as messages say sizes. */
export function bytesText(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${Number(v.toFixed(1))} ${unit} (${n} bytes)` : `${n} bytes`;
}

function quotaError(quota: number): JobvisorError {
  return new JobvisorError('UPLOAD_QUOTA', `your stored uploads would pass ${bytesText(quota)}, the most one user may keep (uploadQuotaBytes); delete some (DELETE /api/uploads/:id) or run them`, { limit: quota });
}

function inputSpec(template: Template, name: string): InputSpec {
  const spec = Object.hasOwn(template.inputs, name) ? template.inputs[name] : undefined;
  if (!spec) {
    const known = Object.keys(template.inputs);
    throw new JobvisorError('UNKNOWN_INPUT', `template ${template.name} has no input ${name}; ${known.length ? `its inputs: ${known.join(', ')}` : 'it takes no files'}`, { input: name });
  }
  return spec;
}

function checkAccepted(name: string, spec: InputSpec, fileName: string, mediaType: string): void {
  if (!acceptsFile(spec.accept, fileName, mediaType)) {
    throw new JobvisorError('INPUT_TYPE_REFUSED', `input ${name} accepts ${spec.accept?.join(', ')}; ${fileName} (${mediaType}) is none of them`, { input: name, accept: spec.accept });
  }
}

/** Reads a stored upload in chunks (for staging). */
export function readChunks(file: string, chunkBytes: number): AsyncIterable<Buffer> {
  return createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>;
}
