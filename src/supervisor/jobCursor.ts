/**
 * The cursor of the job list (`nextCursor`, given back as `cursor`): where the next page starts
 * (the last job of this page: the time its run was queued, its id) and a tag of the list it
 * belongs to (whose jobs, which filters). Opaque to clients: base64url of a small JSON array. A
 * cursor that does not decode, or that belongs to another list (another user's, other filters),
 * is refused with BAD_CURSOR; it could never show a job its caller may not see anyway, since
 * the owner filter is applied to every page.
 */
import { createHash } from 'node:crypto';
import { JobvisorError } from '../shared/errors.js';
import type { JobFilter, PageKey } from './store/jobPages.js';

const VERSION = 1;

/** A short digest of the list a cursor pages through (scope and filters, in a fixed order). */
export function listTag(f: JobFilter): string {
  const parts = [f.user ?? '*', (f.statuses ?? []).slice().sort().join(','), f.template ?? '', f.target ?? '', f.since ?? '', f.until ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(key: PageKey, f: JobFilter): string {
  return Buffer.from(JSON.stringify([VERSION, key.queuedAt, key.id, listTag(f)])).toString('base64url');
}

export function decodeCursor(cursor: string, f: JobFilter): PageKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 4 || value[0] !== VERSION || !Number.isSafeInteger(value[1]) || typeof value[2] !== 'string' || value[2].length > 128) {
    throw new JobvisorError('BAD_CURSOR', 'cursor is not a cursor of this list: give back the nextCursor of the previous page, unchanged');
  }
  if (value[3] !== listTag(f)) {
    throw new JobvisorError('BAD_CURSOR', 'cursor belongs to another list (other filters, or another user): page with the same filters as the page that gave it');
  }
  return { queuedAt: value[1] as number, id: value[2] };
}
