/**
 * A run's archive: its folder packed into one gzip-compressed tar file (`<serial>.tar.gz` in
 * the archive folder beside the runs folder), read back entry by entry. Packing is written to a
 * temporary name and renamed, so an archive that exists is complete: a crash between packing and
 * removing the folder leaves both, and packing again only removes the folder.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { create, list, type ReadEntry } from 'tar';
import { JobvisorError } from '../shared/errors.js';
import type { FileEntry } from '../shared/protocol.js';

/** In a run folder of jobvisor ≤ 0.2 (the job's own folder), the later runs' folders are named by their serial. */
export const isRunFolderName = (name: string) => /^[0-9]+$/.test(name);

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Packs `runDir` into `archive` (unless a complete one is there already), then removes `runDir`. */
export async function archiveRunDir(runDir: string, archive: string, legacy: boolean): Promise<{ archived: boolean; where: 'archive' | 'none'; bytes: number }> {
  const hasArchive = await exists(archive);
  if (!(await exists(runDir))) return hasArchive ? { archived: false, where: 'archive', bytes: (await stat(archive)).size } : { archived: false, where: 'none', bytes: 0 };
  if (!hasArchive) {
    await mkdir(path.dirname(archive), { recursive: true, mode: 0o750 });
    const partial = `${archive}.partial`;
    await create(
      { gzip: true, file: partial, cwd: runDir, portable: true, filter: (p) => !legacy || !isRunFolderName(p.replace(/^\.\//, '').split('/')[0] ?? '') || p === '.' },
      ['.'],
    );
    await rename(partial, archive);
  }
  await removeFolder(runDir, legacy);
  return { archived: true, where: 'archive', bytes: (await stat(archive)).size };
}

/** Removes a run's folder; of a legacy run, only its own files (not the later runs' folders in it). */
export async function removeFolder(runDir: string, legacy: boolean): Promise<void> {
  if (!legacy) {
    await rm(runDir, { recursive: true, force: true });
    return;
  }
  const entries = await readdir(runDir).catch(() => [] as string[]);
  for (const name of entries) if (!isRunFolderName(name)) await rm(path.join(runDir, name), { recursive: true, force: true });
}

const entryPath = (e: ReadEntry) => e.path.replace(/^\.\//, '').replace(/\/$/, '');

/** The regular files in an archive, in the shape of a folder's listing. */
export async function listArchive(archive: string, max: number): Promise<{ files: FileEntry[]; truncated: boolean }> {
  const files: FileEntry[] = [];
  let truncated = false;
  await list({
    file: archive,
    onReadEntry: (e) => {
      if (e.type !== 'File' || entryPath(e) === '') return;
      if (files.length >= max) truncated = true;
      else files.push({ path: entryPath(e), size: e.size, mtimeMs: e.mtime ? e.mtime.getTime() : 0 });
    },
  });
  return { files, truncated };
}

/** Bytes `offset` to `offset + length` of the file `rel` in an archive (its entries are read in order, the others skipped). */
export async function readArchiveFile(archive: string, rel: string, offset: number, length: number): Promise<{ dataBase64: string; offset: number; size: number }> {
  const want = rel.replace(/^\.\//, '');
  let found: { size: number; data: Buffer } | undefined;
  await list({
    file: archive,
    filter: (p) => p.replace(/^\.\//, '') === want,
    onReadEntry: (e) => {
      if (e.type !== 'File' || found) {
        e.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let seen = 0;
      const end = offset + length;
      e.on('data', (c: Buffer) => {
        const from = Math.max(0, offset - seen);
        const to = Math.min(c.length, end - seen);
        if (to > from) chunks.push(c.subarray(from, to));
        seen += c.length;
      });
      found = { size: e.size, data: Buffer.alloc(0) };
      e.on('end', () => {
        if (found) found.data = Buffer.concat(chunks);
      });
    },
  });
  if (!found) throw new JobvisorError('FILE_NOT_FOUND', `no file ${rel}`);
  return { dataBase64: found.data.toString('base64'), offset, size: found.size };
}
