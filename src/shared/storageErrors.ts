/**
 * The one place that says what a storage failure is, as a JobvisorError of the catalog: a
 * SqliteError of better-sqlite3 (its `code` is SQLite's extended result code, `SQLITE_FULL`,
 * `SQLITE_BUSY`, `SQLITE_IOERR_WRITE` ...) or a file system error of Node (`ENOSPC`, `EDQUOT`).
 * Shared by the processes that keep a database (the server, the supervisor), without importing
 * the driver: errors are told apart by their `code`.
 *
 * - disk full (SQLITE_FULL, ENOSPC, EDQUOT) → STORAGE_FULL, 507;
 * - locked by another process for longer than the busy timeout (SQLITE_BUSY*, SQLITE_LOCKED*)
 *   → DATABASE_BUSY, 503;
 * - cannot be read or written (SQLITE_IOERR*, SQLITE_READONLY*, SQLITE_CANTOPEN*, EIO, EROFS)
 *   → STORAGE_FAILED, 503.
 *
 * All three are retry-able: nothing was changed, and the same request can succeed later.
 * Anything else (a corrupt database, a constraint) is not a storage failure and stays internal.
 */
import { JobvisorError, type ErrorCode } from './errors.js';

export const STORAGE_CODES: ReadonlySet<ErrorCode> = new Set(['STORAGE_FULL', 'DATABASE_BUSY', 'STORAGE_FAILED']);

const FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);
const IO_ERRNO = new Set(['EIO', 'EROFS']);

function classify(code: string, sqlite: boolean): ErrorCode | undefined {
  if (FULL.has(code)) return 'STORAGE_FULL';
  if (!sqlite) return IO_ERRNO.has(code) ? 'STORAGE_FAILED' : undefined;
  if (/^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) return 'DATABASE_BUSY';
  // SQLite turns ENOSPC into SQLITE_FULL where it can; an I/O error it cannot tell apart says so.
  if (/^SQLITE_(IOERR|READONLY|CANTOPEN)(_|$)/.test(code)) return 'STORAGE_FAILED';
  return undefined;
}

/**
 * The storage failure `err` is, as a JobvisorError (itself if it is one already), or undefined if
 * it is none. `owner` names whose storage it is in the message: "the supervisor", "the server".
 */
export function storageError(err: unknown, owner = 'jobvisor'): JobvisorError | undefined {
  if (err instanceof JobvisorError) return STORAGE_CODES.has(err.code) ? err : undefined;
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const kind = classify(code, err.name === 'SqliteError');
  const detail = `${err.message} (${code})`;
  switch (kind) {
    case undefined:
      return undefined;
    case 'STORAGE_FULL':
      return new JobvisorError(kind, `${owner}'s disk is full: ${detail}; nothing was changed, try again once space is freed`);
    case 'DATABASE_BUSY':
      return new JobvisorError(kind, `${owner}'s database is busy (another process holds its lock): ${detail}; nothing was changed, try again`);
    default:
      return new JobvisorError(kind, `${owner} could not read or write its storage: ${detail}; nothing was changed, try again`);
  }
}

/** Whether `err` is a storage failure (one that retrying the same write later can cure). */
export function isStorageError(err: unknown): boolean {
  return storageError(err) !== undefined;
}
