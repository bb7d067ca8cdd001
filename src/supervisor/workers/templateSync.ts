/**
 * Templates on enrolled workers: before a run op goes to a worker, the supervisor sends the
 * files of the run's template over the worker's own connection (templateFiles ops). It lists
 * every file with its content hash (`check`); the worker answers those it lacks or holds with
 * other content, and only those are sent (`write`, in chunks of MAX_WRITE_CHUNK bytes). A worker
 * started with `--templates DIR` answers that it runs its own copy, and nothing is sent.
 * One sync at a time per (worker process, template); file hashes are kept while a file's size
 * and mtime stay the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../../shared/errors.js';
import { KeyedLock } from '../../shared/keyedLock.js';
import { IoWriteResult, MAX_TEMPLATE_FILES, MAX_WRITE_CHUNK, TemplateCheckResult, TemplateFilePath, type TemplateFile, type TemplateFilesOp } from '../../shared/protocol.js';
import type { Template } from '../../shared/template.js';
import { sendToAgent, type OpContext } from '../opLoop.js';
import { readChunks } from '../uploads.js';

export interface TemplateSyncDeps extends OpContext {
  /** The most bytes a template's files may take (workerTemplateMaxBytes). */
  maxBytes: number;
  /** How long one op may wait for the worker. */
  opTimeoutMs: number;
}

interface Local extends TemplateFile {
  abs: string;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class TemplateSync {
  private readonly locks = new KeyedLock();
  private readonly hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  constructor(private readonly deps: TemplateSyncDeps) {}

  /** Every file of a template's folder, with its hash; refuses what cannot go to a worker. */
  async files(template: Template): Promise<Local[]> {
    const root = path.resolve(template.dir);
    const out: Local[] = [];
    let bytes = 0;
    for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const abs = path.join(e.parentPath, e.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (!TemplateFilePath.safeParse(rel).success) throw new JobvisorError('RUN_START_FAILED', `template ${template.name}: file ${rel} cannot be sent to workers (its name); rename it, or give the workers their own copy (--templates)`);
      const st = await stat(abs);
      bytes += st.size;
      if (bytes > this.deps.maxBytes) throw new JobvisorError('RUN_START_FAILED', `template ${template.name} holds more than ${this.deps.maxBytes} bytes, the most sent to workers (workerTemplateMaxBytes); give the workers their own copy (--templates)`);
      const known = this.hashes.get(abs);
      const sha256 = known && known.size === st.size && known.mtimeMs === st.mtimeMs ? known.sha256 : await sha256Of(abs);
      this.hashes.set(abs, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
      out.push({ abs, path: rel, sha256, size: st.size, executable: (st.mode & 0o111) !== 0 });
    }
    if (out.length > MAX_TEMPLATE_FILES) throw new JobvisorError('RUN_START_FAILED', `template ${template.name} has ${out.length} files, more than the ${MAX_TEMPLATE_FILES} sent to workers; give the workers their own copy (--templates)`);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Makes the worker's copy of the template the supervisor's; the number of files sent. */
  sync(agentId: string, template: Template, signal: AbortSignal): Promise<number> {
    const name = path.basename(path.resolve(template.dir));
    return this.locks.run(`${agentId}/${name}`, async () => {
      const files = await this.files(template);
      const send = (op: TemplateFilesOp) => sendToAgent(this.deps, agentId, op, AbortSignal.any([signal, AbortSignal.timeout(this.deps.opTimeoutMs)]), this.deps.opTimeoutMs);
      const listed = files.map(({ abs: _abs, ...f }) => f);
      const check = TemplateCheckResult.parse(await send({ kind: 'templateFiles', action: 'check', name, files: listed, offset: 0 }));
      if (check.override) return 0;
      const wanted = new Set(check.missing);
      let sent = 0;
      for (const { abs, ...file } of files) {
        if (!wanted.has(file.path)) continue;
        let offset = 0;
        const write = async (data: Buffer) => {
          const r = IoWriteResult.parse(await send({ kind: 'templateFiles', action: 'write', name, file, offset, dataBase64: data.toString('base64') }));
          offset += data.length;
          if (r.size !== offset) throw new JobvisorError('RUN_START_FAILED', `sending template file ${file.path}: the worker has ${r.size} bytes, not ${offset}`);
        };
        for await (const chunk of readChunks(abs, MAX_WRITE_CHUNK)) {
          if (signal.aborted) throw signal.reason;
          await write(chunk);
        }
        if (offset === 0) await write(Buffer.alloc(0));
        sent++;
      }
      return sent;
    });
  }
}
