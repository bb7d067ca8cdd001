/**
 * Completion callbacks in the job database: one row per callback to send (its URL and body,
 * whether it is still pending, when it is next tried) and one row per attempt. A restarted
 * supervisor picks the pending ones up again.
 */
import type Database from 'better-sqlite3';
import type { DeliveryView } from '../../shared/api.js';

export const DELIVERIES_SCHEMA = `
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  serial INTEGER NOT NULL,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state);
CREATE TABLE IF NOT EXISTS delivery_attempts (
  delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  status INTEGER,
  error TEXT,
  PRIMARY KEY (delivery_id, attempt)
);
`;

export interface Delivery {
  id: number;
  jobId: string;
  serial: number;
  url: string;
  body: string;
  state: DeliveryView['state'];
  attempts: number;
  nextAt: number | null;
}

export interface DeliveryStore {
  add(d: { jobId: string; serial: number; url: string; body: string; nextAt: number; createdAt: number }): number;
  get(id: number): Delivery | undefined;
  pending(): Delivery[];
  /** Records one attempt and the delivery's new state, in one transaction. */
  recordAttempt(id: number, attempt: { at: number; status: number | null; error: string | null }, state: Delivery['state'], nextAt: number | null): void;
  list(jobId: string | undefined, limit: number): DeliveryView[];
  /** Removes delivered and failed callbacks made before `before` (ms); how many. */
  prune(before: number): number;
}

interface RawDelivery {
  id: number;
  job_id: string;
  serial: number;
  url: string;
  body: string;
  state: Delivery['state'];
  attempts: number;
  next_at: number | null;
  created_at: number;
}

const toDelivery = (r: RawDelivery): Delivery => ({ id: r.id, jobId: r.job_id, serial: r.serial, url: r.url, body: r.body, state: r.state, attempts: r.attempts, nextAt: r.next_at });

export class SqliteDeliveries implements DeliveryStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    db.exec(DELIVERIES_SCHEMA);
    const prepare = (sql: string) => db.prepare(sql);
    this.s = {
      add: prepare("INSERT INTO deliveries (job_id, serial, url, body, state, attempts, next_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)"),
      get: prepare('SELECT * FROM deliveries WHERE id = ?'),
      pending: prepare("SELECT * FROM deliveries WHERE state = 'pending' ORDER BY next_at"),
      addAttempt: prepare('INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt, at, status, error) VALUES (?, ?, ?, ?, ?)'),
      update: prepare('UPDATE deliveries SET state = ?, attempts = ?, next_at = ? WHERE id = ?'),
      listAll: prepare('SELECT * FROM deliveries ORDER BY id DESC LIMIT ?'),
      listJob: prepare('SELECT * FROM deliveries WHERE job_id = ? ORDER BY id DESC LIMIT ?'),
      attempts: prepare('SELECT at, status, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt'),
      pruneAttempts: prepare("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE state != 'pending' AND created_at < ?)"),
      prune: prepare("DELETE FROM deliveries WHERE state != 'pending' AND created_at < ?"),
    };
  }

  add(d: { jobId: string; serial: number; url: string; body: string; nextAt: number; createdAt: number }): number {
    return Number(this.s.add.run(d.jobId, d.serial, d.url, d.body, d.nextAt, d.createdAt).lastInsertRowid);
  }

  get(id: number): Delivery | undefined {
    const r = this.s.get.get(id) as RawDelivery | undefined;
    return r && toDelivery(r);
  }

  pending(): Delivery[] {
    return (this.s.pending.all() as RawDelivery[]).map(toDelivery);
  }

  recordAttempt(id: number, attempt: { at: number; status: number | null; error: string | null }, state: Delivery['state'], nextAt: number | null): void {
    this.db.transaction(() => {
      const d = this.get(id);
      if (!d) return;
      const n = d.attempts + 1;
      this.s.addAttempt.run(id, n, attempt.at, attempt.status, attempt.error);
      this.s.update.run(state, n, nextAt, id);
    })();
  }

  prune(before: number): number {
    return this.db.transaction(() => {
      this.s.pruneAttempts.run(before);
      return this.s.prune.run(before).changes;
    })();
  }

  list(jobId: string | undefined, limit: number): DeliveryView[] {
    const rows = (jobId ? this.s.listJob.all(jobId, limit) : this.s.listAll.all(limit)) as RawDelivery[];
    return rows.map((r) => ({
      id: r.id,
      jobId: r.job_id,
      serial: r.serial,
      url: r.url,
      state: r.state,
      attempts: this.s.attempts.all(r.id) as DeliveryView['attempts'],
      nextAt: r.state === 'pending' ? r.next_at : null,
      createdAt: r.created_at,
    }));
  }
}
