/**
 * Uploaded input files waiting for their run, in SQLite (table `uploads`, beside the job
 * tables of sqlite.ts; its own connection to the same database file). An upload is
 * `claimed` by the one run that refers to it, which keeps it from expiring; it is removed
 * once that run has started or ended.
 */
import { openStoreDb } from './openDb.js';
import Database from 'better-sqlite3';

export interface UploadRow {
  id: string;
  user: string;
  /** The sanitised file name (what the run's `inputs/` folder calls it). */
  fileName: string;
  mediaType: string;
  size: number;
  sha256: string;
  createdAt: number;
  /** When an unclaimed upload is removed. */
  expiresAt: number;
  /** The run that refers to it, once one does. */
  jobId: string | null;
  serial: number | null;
}

export const UPLOADS_SCHEMA = `
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  file_name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  job_id TEXT,
  serial INTEGER
);
CREATE INDEX IF NOT EXISTS uploads_user ON uploads (user);
CREATE INDEX IF NOT EXISTS uploads_job ON uploads (job_id);
`;

interface RawUpload {
  id: string;
  user: string;
  file_name: string;
  media_type: string;
  size: number;
  sha256: string;
  created_at: number;
  expires_at: number;
  job_id: string | null;
  serial: number | null;
}

const toUpload = (r: RawUpload): UploadRow => ({
  id: r.id,
  user: r.user,
  fileName: r.file_name,
  mediaType: r.media_type,
  size: r.size,
  sha256: r.sha256,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  jobId: r.job_id,
  serial: r.serial,
});

export interface UploadStore {
  insert(u: UploadRow): void;
  get(id: string): UploadRow | undefined;
  listUser(user: string): UploadRow[];
  /** Bytes a user keeps stored. */
  bytesOf(user: string): number;
  /** Marks uploads as referred to by a run; false (and nothing marked) if one of them is gone or already claimed. */
  claim(ids: string[], jobId: string, serial: number): boolean;
  /** Uploads claimed by a job's runs up to `serial` (every run when omitted). */
  claimedBy(jobId: string, serial?: number): UploadRow[];
  /** Every claimed upload. */
  claimed(): UploadRow[];
  /** Unclaimed uploads expired at `now`. */
  expired(now: number): UploadRow[];
  allIds(): Set<string>;
  delete(id: string): void;
  close(): void;
}

class UnclaimableUpload extends Error {}

export class SqliteUploadStore implements UploadStore {
  private readonly db: Database.Database;
  private readonly s;

  constructor(file: string) {
    this.db = openStoreDb(file, UPLOADS_SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO uploads (id, user, file_name, media_type, size, sha256, created_at, expires_at, job_id, serial)
        VALUES (@id, @user, @fileName, @mediaType, @size, @sha256, @createdAt, @expiresAt, @jobId, @serial)`),
      get: p('SELECT * FROM uploads WHERE id = ?'),
      listUser: p('SELECT * FROM uploads WHERE user = ? ORDER BY created_at DESC'),
      bytes: p('SELECT coalesce(sum(size), 0) AS n FROM uploads WHERE user = ?'),
      claim: p('UPDATE uploads SET job_id = ?, serial = ? WHERE id = ? AND job_id IS NULL'),
      claimedUpTo: p('SELECT * FROM uploads WHERE job_id = ? AND serial <= ?'),
      claimedAll: p('SELECT * FROM uploads WHERE job_id = ?'),
      expired: p('SELECT * FROM uploads WHERE job_id IS NULL AND expires_at <= ?'),
      claimed: p('SELECT * FROM uploads WHERE job_id IS NOT NULL'),
      ids: p('SELECT id FROM uploads'),
      delete: p('DELETE FROM uploads WHERE id = ?'),
    };
  }

  insert(u: UploadRow): void {
    this.s.insert.run(u);
  }

  get(id: string): UploadRow | undefined {
    const r = this.s.get.get(id) as RawUpload | undefined;
    return r && toUpload(r);
  }

  listUser(user: string): UploadRow[] {
    return (this.s.listUser.all(user) as RawUpload[]).map(toUpload);
  }

  bytesOf(user: string): number {
    return (this.s.bytes.get(user) as { n: number }).n;
  }

  claim(ids: string[], jobId: string, serial: number): boolean {
    const claimAll = this.db.transaction(() => {
      for (const id of ids) {
        if (this.s.claim.run(jobId, serial, id).changes !== 1) throw new UnclaimableUpload(id);
      }
    });
    try {
      claimAll();
      return true;
    } catch (err) {
      if (err instanceof UnclaimableUpload) return false;
      throw err;
    }
  }

  claimedBy(jobId: string, serial?: number): UploadRow[] {
    const rows = serial === undefined ? this.s.claimedAll.all(jobId) : this.s.claimedUpTo.all(jobId, serial);
    return (rows as RawUpload[]).map(toUpload);
  }

  claimed(): UploadRow[] {
    return (this.s.claimed.all() as RawUpload[]).map(toUpload);
  }

  expired(now: number): UploadRow[] {
    return (this.s.expired.all(now) as RawUpload[]).map(toUpload);
  }

  allIds(): Set<string> {
    return new Set((this.s.ids.all() as { id: string }[]).map((r) => r.id));
  }

  delete(id: string): void {
    this.s.delete.run(id);
  }

  close(): void {
    this.db.close();
  }
}
