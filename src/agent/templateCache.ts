/**
 * An enrolled worker's copy of the templates it runs, sent by the supervisor (templateFiles
 * ops): `<templates>/<name>/` holds the files, `<templates>/<name>/.jobvisor-files.json` their
 * hashes as written. A check answers the files missing or changed (by hash, size, mode) and
 * removes those the template no longer has; a write puts one chunk into
 * `<templates>/.jobvisor-incoming/<name>/<path>`, and its last chunk, its hash checked, is moved
 * into place in one rename (a run that already started keeps the file it opened).
 * With `--templates DIR` the worker runs its own copy: checks answer `override`, writes are refused.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import { TemplateFilePath, type TemplateFile, type TemplateFilesOp } from '../shared/protocol.js';

const MANIFEST = '.jobvisor-files.json';
const INCOMING = '.jobvisor-incoming';

export interface TemplateCacheOptions {
  /** The worker's templates folder (`<work dir>/templates`). */
  dir: string;
  /** The worker runs its own copy of the templates (`--templates DIR`): nothing is fetched. */
  override: boolean;
}

type Manifest = Record<string, { sha256: string; size: number; executable: boolean }>;

function inside(root: string, rel: string): string {
  if (!TemplateFilePath.safeParse(rel).success) throw new JobvisorError('AGENT_PROTOCOL', `not a path inside a template: ${JSON.stringify(rel)}`);
  const base = path.resolve(root);
  const full = path.resolve(base, rel);
  if (!full.startsWith(base + path.sep)) throw new JobvisorError('AGENT_PROTOCOL', `path ${rel} leaves the template folder`);
  return full;
}

async function readManifest(dir: string): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return {};
  }
}

async function holds(dir: string, manifest: Manifest, f: TemplateFile): Promise<boolean> {
  const kept = manifest[f.path];
  if (!kept || kept.sha256 !== f.sha256 || kept.executable !== f.executable) return false;
  const st = await stat(inside(dir, f.path)).catch(() => undefined);
  return st !== undefined && st.isFile() && st.size === f.size;
}

async function check(o: TemplateCacheOptions, name: string, files: TemplateFile[]): Promise<{ missing: string[]; override: boolean }> {
  if (o.override) return { missing: [], override: true };
  const dir = path.join(o.dir, name);
  await mkdir(dir, { recursive: true });
  const manifest = await readManifest(dir);
  const listed = new Set(files.map((f) => f.path));
  let changed = false;
  for (const old of Object.keys(manifest)) {
    if (listed.has(old)) continue;
    await rm(inside(dir, old), { force: true });
    delete manifest[old];
    changed = true;
  }
  if (changed) await writeFile(path.join(dir, MANIFEST), JSON.stringify(manifest));
  const missing: string[] = [];
  for (const f of files) if (!(await holds(dir, manifest, f))) missing.push(f.path);
  return { missing, override: false };
}

async function write(o: TemplateCacheOptions, name: string, f: TemplateFile, offset: number, data: Buffer): Promise<{ size: number }> {
  if (o.override) throw new JobvisorError('AGENT_PROTOCOL', 'this worker runs its own copy of the templates (--templates)');
  const dir = path.join(o.dir, name);
  const part = inside(path.join(o.dir, INCOMING, name), f.path);
  await mkdir(path.dirname(part), { recursive: true });
  const fh = await open(part, offset === 0 ? 'w' : 'r+');
  try {
    if ((await fh.stat()).size !== offset) throw new JobvisorError('AGENT_PROTOCOL', `template file ${f.path}: a chunk at ${offset} does not follow the ${(await fh.stat()).size} bytes written`);
    await fh.write(data, 0, data.length, offset);
  } finally {
    await fh.close();
  }
  const size = offset + data.length;
  if (size < f.size) return { size };
  const sha256 = createHash('sha256').update(await readFile(part)).digest('hex');
  if (size !== f.size || sha256 !== f.sha256) {
    await rm(part, { force: true });
    throw new JobvisorError('AGENT_PROTOCOL', `template file ${f.path} arrived with ${size} bytes and hash ${sha256.slice(0, 12)}…, not ${f.size} bytes and ${f.sha256.slice(0, 12)}…`);
  }
  await chmod(part, f.executable ? 0o755 : 0o644);
  const final = inside(dir, f.path);
  await mkdir(path.dirname(final), { recursive: true });
  await rename(part, final);
  const manifest = await readManifest(dir);
  manifest[f.path] = { sha256: f.sha256, size: f.size, executable: f.executable };
  await writeFile(path.join(dir, MANIFEST), JSON.stringify(manifest));
  return { size };
}

/** Answers one templateFiles op. */
export async function runTemplateFiles(o: TemplateCacheOptions | undefined, op: TemplateFilesOp): Promise<unknown> {
  if (!o) throw new JobvisorError('AGENT_PROTOCOL', 'templateFiles ops go to enrolled workers only');
  if (op.action === 'check') return check(o, op.name, op.files ?? []);
  if (!op.file) throw new JobvisorError('AGENT_PROTOCOL', 'a templateFiles write names its file');
  return write(o, op.name, op.file, op.offset, Buffer.from(op.dataBase64 ?? '', 'base64'));
}
