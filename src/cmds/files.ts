/**
 * Output files of a run: listing the run directory, reading a file by chunks, removing it all;
 * from the run's archive instead when its folder is gone and it has one (archive.ts).
 */
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { lstat, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeInputChunk } from './inputs.js';
import { JobvisorError } from '../shared/errors.js';
import type { FileEntry, IoOp } from '../shared/protocol.js';
import { archiveRunDir, isRunFolderName, listArchive, readArchiveFile, removeFolder } from './archive.js';
import { resolveInRunDir } from './runDir.js';

export const MAX_LISTED_FILES = 5000;

/** Regular files under the run directory (symlinks are not followed), breadth first. */
export async function listRunFiles(runDir: string, legacy = false): Promise<{ files: FileEntry[]; truncated: boolean }> {
  const files: FileEntry[] = [];
  const queue = [''];
  while (queue.length > 0) {
    const rel = queue.shift() as string;
    let entries;
    try {
      entries = await readdir(path.join(runDir, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (legacy && !rel && e.isDirectory() && isRunFolderName(e.name)) continue;
      if (e.isDirectory()) queue.push(p);
      else if (e.isFile()) {
        const st = await lstat(path.join(runDir, p));
        files.push({ path: p, size: st.size, mtimeMs: Math.round(st.mtimeMs) });
        if (files.length >= MAX_LISTED_FILES) return { files, truncated: true };
      }
    }
  }
  return { files, truncated: false };
}

export async function readRunFile(runDir: string, rel: string, offset: number, length: number) {
  const file = await resolveInRunDir(runDir, rel);
  const fh = await open(file, 'r').catch(() => {
    throw new JobvisorError('FILE_NOT_FOUND', `no file ${rel}`);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new JobvisorError('FILE_NOT_FOUND', `${rel} is not a file`);
    const n = Math.max(0, Math.min(length, st.size - offset));
    const buf = Buffer.alloc(n);
    if (n > 0) await fh.read(buf, 0, n, offset);
    return { dataBase64: buf.toString('base64'), offset, size: st.size };
  } finally {
    await fh.close();
  }
}

const isFolder = (p: string) =>
  stat(p).then(
    (st) => st.isDirectory(),
    () => false,
  );
const isFile = (p: string) =>
  stat(p).then(
    (st) => st.isFile(),
    () => false,
  );

/** Entries of the folder `dir`; null when there is no folder there, [] when it cannot be read. */
async function folderEntries(dir: string): Promise<Dirent[] | null> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? null : [];
  }
}

/**
 * Bytes of the regular files under a folder (symlinks not followed); null when `dir` is no
 * folder. Its first readdir says whether the folder is there, which a stat asked before (the
 * supervisor asks every run's size as the run ends: one call fewer each time).
 */
async function folderBytes(dir: string, legacy: boolean): Promise<number | null> {
  let total = 0;
  const queue = [''];
  while (queue.length > 0) {
    const rel = queue.shift() as string;
    const entries = await folderEntries(path.join(dir, rel));
    if (entries === null && rel === '') return null;
    for (const e of entries ?? []) {
      if (legacy && !rel && e.isDirectory() && isRunFolderName(e.name)) continue;
      const p = path.join(rel, e.name);
      if (e.isDirectory()) queue.push(p);
      else if (e.isFile()) total += (await lstat(path.join(dir, p)).catch(() => ({ size: 0 }))).size;
    }
  }
  return total;
}

/** At most this many entries are read by smallFolderBytes before it gives up. */
export const SMALL_FOLDER_ENTRIES = 64;

/**
 * Bytes of the regular files under a run folder, read synchronously, or null when it holds more
 * than SMALL_FOLDER_ENTRIES entries (or cannot be read). The process engine measures a run's
 * folder as the run ends and says the size in its `exit` update: for the small folder of most
 * runs that is a few syscalls, where the supervisor's `size` io op after the end was a message
 * each way, a thread-pool walk, and a commit and an event of its own. A bigger folder is left to
 * that op, so that no walk of a large tree blocks the agent's event loop.
 */
export function smallFolderBytes(dir: string): number | null {
  let total = 0;
  let seen = 0;
  const queue = [dir];
  try {
    for (let folder; (folder = queue.shift()) !== undefined; ) {
      const entries = readdirSync(folder, { withFileTypes: true });
      seen += entries.length;
      if (seen > SMALL_FOLDER_ENTRIES) return null;
      for (const e of entries) {
        const p = path.join(folder, e.name);
        if (e.isDirectory()) queue.push(p);
        else if (e.isFile()) total += lstatSync(p).size;
      }
    }
  } catch {
    return null;
  }
  return total;
}

/** Where a run's files are now: its folder first, else its archive, else nowhere. */
async function whereIs(op: Pick<IoOp, 'runDir' | 'archive'>): Promise<'folder' | 'archive' | 'none'> {
  if (await isFolder(op.runDir)) return 'folder';
  if (op.archive !== undefined && (await isFile(op.archive))) return 'archive';
  return 'none';
}

/** An io op: list, read, stat (folder or archive), remove (both), archive, size, write (an input file's chunk). */
export async function runIo(op: IoOp): Promise<unknown> {
  const legacy = op.legacy === true;
  switch (op.action) {
    case 'write':
      return writeInputChunk(op.runDir, op.path, op.offset, op.dataBase64 ?? '');
    case 'remove': {
      const existed = (await whereIs(op)) !== 'none';
      await removeFolder(op.runDir, legacy);
      if (op.archive !== undefined) await rm(op.archive, { force: true });
      return { removed: existed };
    }
    case 'archive':
      if (op.archive === undefined) throw new JobvisorError('AGENT_PROTOCOL', 'an archive op names no archive');
      return archiveRunDir(op.runDir, op.archive, legacy);
    case 'size': {
      const bytes = await folderBytes(op.runDir, legacy);
      if (bytes !== null) return { where: 'folder', bytes };
      const archive = op.archive === undefined ? null : await stat(op.archive).catch(() => null);
      return archive?.isFile() ? { where: 'archive', bytes: archive.size } : { where: 'none', bytes: 0 };
    }
    case 'list':
    case 'read':
    case 'stat': {
      const where = await whereIs(op);
      if (where === 'archive') {
        if (op.action === 'list') return listArchive(op.archive as string, MAX_LISTED_FILES);
        return readArchiveFile(op.archive as string, op.path, op.offset, op.action === 'stat' ? 0 : op.length);
      }
      if (op.action === 'list') return listRunFiles(op.runDir, legacy);
      if (legacy && isRunFolderName(op.path.split('/')[0] ?? '')) throw new JobvisorError('FILE_NOT_FOUND', `no file ${op.path}`);
      return readRunFile(op.runDir, op.path, op.offset, op.action === 'stat' ? 0 : op.length);
    }
    default: {
      const never: never = op.action;
      throw new JobvisorError('AGENT_PROTOCOL', `unknown io action ${String(never)}`);
    }
  }
}
