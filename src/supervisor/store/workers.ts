/**
 * Enrollment tokens, the workers that joined with them, and the requirements of runs, in
 * SQLite (tables `enrollments`, `workers`, `run_requires`, beside the job tables of sqlite.ts;
 * its own connection to the same database file). A token is kept only as its SHA-256.
 */
import { openStoreDb } from './openDb.js';
import Database from 'better-sqlite3';
import type { Labels, Requires } from '../../shared/labels.js';

export interface EnrollmentRow {
  id: string;
  name: string;
  target: string;
  tokenHash: string;
  labels: Labels | null;
  users: string[] | null;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface WorkerRow {
  id: string;
  enrollmentId: string;
  target: string;
  name: string;
  host: string;
  labels: Labels;
  slots: number;
  firstSeen: number;
  lastSeen: number;
}

export const WORKERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS enrollments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  target TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  labels TEXT,
  users TEXT,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  enrollment_id TEXT NOT NULL,
  target TEXT NOT NULL,
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  labels TEXT NOT NULL,
  slots INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_places (
  run_dir TEXT PRIMARY KEY,
  worker_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_requires (
  job_id TEXT NOT NULL,
  serial INTEGER NOT NULL,
  requires TEXT NOT NULL,
  PRIMARY KEY (job_id, serial)
);
`;

interface RawEnrollment {
  id: string;
  name: string;
  target: string;
  token_hash: string;
  labels: string | null;
  users: string | null;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
}

interface RawWorker {
  id: string;
  enrollment_id: string;
  target: string;
  name: string;
  host: string;
  labels: string;
  slots: number;
  first_seen: number;
  last_seen: number;
}

const toEnrollment = (r: RawEnrollment): EnrollmentRow => ({
  id: r.id,
  name: r.name,
  target: r.target,
  tokenHash: r.token_hash,
  labels: r.labels === null ? null : (JSON.parse(r.labels) as Labels),
  users: r.users === null ? null : (JSON.parse(r.users) as string[]),
  createdAt: r.created_at,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

const toWorker = (r: RawWorker): WorkerRow => ({
  id: r.id,
  enrollmentId: r.enrollment_id,
  target: r.target,
  name: r.name,
  host: r.host,
  labels: JSON.parse(r.labels) as Labels,
  slots: r.slots,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
});

export class SqliteWorkerStore {
  private readonly db: Database.Database;
  /** Statements by their SQL, prepared once (preparing one costs more than running it). */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * The workers table as rows, read once: this store is its only writer (the supervisor's
   * pool), and the admin view and the metrics read it whole, often, with many workers.
   */
  private workerRows: Map<string, WorkerRow> | undefined;

  constructor(file: string) {
    this.db = openStoreDb(file, WORKERS_SCHEMA);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  addEnrollment(e: EnrollmentRow): void {
    this.stmt(`INSERT INTO enrollments (id, name, target, token_hash, labels, users, created_at, created_by, expires_at, revoked_at)
      VALUES (@id, @name, @target, @tokenHash, @labels, @users, @createdAt, @createdBy, @expiresAt, @revokedAt)`).run({
      ...e,
      labels: e.labels === null ? null : JSON.stringify(e.labels),
      users: e.users === null ? null : JSON.stringify(e.users),
    });
  }

  enrollmentByHash(tokenHash: string): EnrollmentRow | undefined {
    const r = this.stmt('SELECT * FROM enrollments WHERE token_hash = ?').get(tokenHash) as RawEnrollment | undefined;
    return r && toEnrollment(r);
  }

  enrollment(id: string): EnrollmentRow | undefined {
    const r = this.stmt('SELECT * FROM enrollments WHERE id = ?').get(id) as RawEnrollment | undefined;
    return r && toEnrollment(r);
  }

  enrollments(): EnrollmentRow[] {
    return (this.stmt('SELECT * FROM enrollments ORDER BY created_at, id').all() as RawEnrollment[]).map(toEnrollment);
  }

  revoke(id: string, at: number): void {
    this.stmt('UPDATE enrollments SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
  }

  saveWorker(w: WorkerRow): void {
    const rows = this.cachedWorkers();
    this.stmt(`INSERT INTO workers (id, enrollment_id, target, name, host, labels, slots, first_seen, last_seen)
      VALUES (@id, @enrollmentId, @target, @name, @host, @labels, @slots, @firstSeen, @lastSeen)
      ON CONFLICT (id) DO UPDATE SET enrollment_id = excluded.enrollment_id, target = excluded.target, name = excluded.name, host = excluded.host,
        labels = excluded.labels, slots = excluded.slots, last_seen = excluded.last_seen`).run({ ...w, labels: JSON.stringify(w.labels) });
    // As the statement does: a known worker keeps its first_seen.
    rows.set(w.id, { ...w, firstSeen: rows.get(w.id)?.firstSeen ?? w.firstSeen });
  }

  /**
   * The last heartbeat of some workers, in one transaction (written once per heartbeat interval
   * for all connected workers, and when one disconnects: not once per heartbeat). Never moves a
   * worker's time back.
   */
  saveSeen(seen: { id: string; lastSeen: number }[]): void {
    if (seen.length === 0) return;
    const update = this.stmt('UPDATE workers SET last_seen = @lastSeen WHERE id = @id AND last_seen < @lastSeen');
    const rows = this.cachedWorkers();
    this.db.transaction(() => {
      for (const s of seen) update.run(s);
    })();
    for (const s of seen) {
      const row = rows.get(s.id);
      if (row && row.lastSeen < s.lastSeen) rows.set(s.id, { ...row, lastSeen: s.lastSeen });
    }
  }

  /** A worker (read-only: a row of the store's copy). */
  worker(id: string): WorkerRow | undefined {
    return this.cachedWorkers().get(id);
  }

  /** Every worker, first seen first (read-only rows of the store's copy). */
  workers(): WorkerRow[] {
    return [...this.cachedWorkers().values()].sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private cachedWorkers(): Map<string, WorkerRow> {
    this.workerRows ??= new Map((this.stmt('SELECT * FROM workers').all() as RawWorker[]).map((r) => [r.id, toWorker(r)]));
    return this.workerRows;
  }

  saveRequires(jobId: string, serial: number, requires: Requires): void {
    this.stmt('INSERT OR REPLACE INTO run_requires (job_id, serial, requires) VALUES (?, ?, ?)').run(jobId, serial, JSON.stringify(requires));
  }

  requires(jobId: string, serial: number): Requires {
    const r = this.stmt('SELECT requires FROM run_requires WHERE job_id = ? AND serial = ?').get(jobId, serial) as { requires: string } | undefined;
    return r ? (JSON.parse(r.requires) as Requires) : {};
  }

  /** The worker a run (by its folder) was placed on: its files are there. */
  savePlace(runDir: string, workerId: string): void {
    this.stmt('INSERT OR REPLACE INTO run_places (run_dir, worker_id) VALUES (?, ?)').run(runDir, workerId);
  }

  /** The worker holding a run's folder, or the worker of the latest run inside a folder (a job's). */
  placeOf(dir: string): string | undefined {
    const exact = this.stmt('SELECT worker_id FROM run_places WHERE run_dir = ?').get(dir) as { worker_id: string } | undefined;
    if (exact) return exact.worker_id;
    const inside = this.stmt("SELECT worker_id FROM run_places WHERE substr(run_dir, 1, length(?) + 1) = ? || '/' ORDER BY rowid DESC LIMIT 1").get(dir, dir) as { worker_id: string } | undefined;
    return inside?.worker_id;
  }

  close(): void {
    this.db.close();
  }
}
