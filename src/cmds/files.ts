/** Output files of a run: listing the run directory, reading a file by chunks, removing it all. */
import { lstat, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import type { FileEntry } from '../shared/protocol.js';
import { resolveInRunDir } from './runDir.js';

export const MAX_LISTED_FILES = 5000;

/** Regular files under the run directory (symlinks are not followed), breadth first. */
export async function listRunFiles(runDir: string): Promise<{ files: FileEntry[]; truncated: boolean }> {
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

/**
 * Removes a job's run directory and everything in it: its job is being deleted (the supervisor
 * has ended its run first). A directory already gone is not an error.
 */
export async function removeRunDir(runDir: string): Promise<{ removed: boolean }> {
  const existed = await lstat(runDir).then(
    () => true,
    () => false,
  );
  await rm(runDir, { recursive: true, force: true });
  return { removed: existed };
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
