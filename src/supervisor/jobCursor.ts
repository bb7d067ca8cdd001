/**
 * The cursor of the job list (pageCursor.ts): the last job of a page is the time its run was
 * queued and its id; the list's tag is whose jobs and which filters.
 */
import { decodePageCursor, encodePageCursor, listTag } from './pageCursor.js';
import type { JobFilter, PageKey } from './store/jobPages.js';

function jobListTag(f: JobFilter): string {
  return listTag([f.user ?? '*', (f.statuses ?? []).slice().sort().join(','), f.template ?? '', f.target ?? '', f.since ?? '', f.until ?? '']);
}

export function encodeCursor(key: PageKey, f: JobFilter): string {
  return encodePageCursor({ at: key.queuedAt, id: key.id }, jobListTag(f));
}

export function decodeCursor(cursor: string, f: JobFilter): PageKey {
  const after = decodePageCursor(cursor, jobListTag(f));
  return { queuedAt: after.at, id: after.id };
}
