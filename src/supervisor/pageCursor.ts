/**
 * The cursor of a paged list (`nextCursor`, given back as `cursor`): where the next page starts
 * (the last item of this page: its sort time, its id) and a tag of the list it belongs to (whose
 * items, which filters). Opaque to clients: base64url of a small JSON array. A cursor that does
 * not decode, or that belongs to another list (another user's, other filters), is refused with
 * BAD_CURSOR; it could never show an item its caller may not see anyway, since the owner filter
 * is applied to every page. The job list and the pipeline list page this way.
 */
import { createHash } from 'node:crypto';
import { JobvisorError } from '../shared/errors.js';

const VERSION = 1;

/** Where a page starts: after the item with this sort time and id (newest first). */
export interface PageAfter {
  at: number;
  id: string;
}

/** A short digest of the list a cursor pages through (its scope and filters, in a fixed order). */
export function listTag(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodePageCursor(after: PageAfter, tag: string): string {
  return Buffer.from(JSON.stringify([VERSION, after.at, after.id, tag])).toString('base64url');
}

export function decodePageCursor(cursor: string, tag: string): PageAfter {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 4 || value[0] !== VERSION || !Number.isSafeInteger(value[1]) || typeof value[2] !== 'string' || value[2].length > 128) {
    throw new JobvisorError('BAD_CURSOR', 'cursor is not a cursor of this list: give back the nextCursor of the previous page, unchanged');
  }
  if (value[3] !== tag) {
    throw new JobvisorError('BAD_CURSOR', 'cursor belongs to another list (other filters, or another user): page with the same filters as the page that gave it');
  }
  return { at: value[1] as number, id: value[2] };
}
