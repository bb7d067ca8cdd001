/**
 * The audit log of account changes, in the accounts database: who did what to whom, when, and
 * from which address. Bounded two ways: entries older than `retentionDays` go, and at most
 * `maxEntries` are kept (the oldest go first, checked at each new entry; the age once a minute).
 *
 * Failed logins are not stored one by one (a flood would fill the disk): they are counted in
 * one `login.failed` entry per (user name as typed, address, hour), whose `details.count` grows.
 */
import type Database from 'better-sqlite3';
import type { AuditAction, AuditEntry, AuditQuery } from '../shared/accountsApi.js';

export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT,
  action TEXT NOT NULL,
  target TEXT,
  address TEXT,
  details TEXT,
  bucket TEXT
);
CREATE INDEX IF NOT EXISTS audit_actor ON audit(actor, id);
CREATE INDEX IF NOT EXISTS audit_target ON audit(target, id);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action, id);
CREATE UNIQUE INDEX IF NOT EXISTS audit_bucket ON audit(bucket) WHERE bucket IS NOT NULL;
`;

export interface AuditOptions {
  retentionDays: number;
  maxEntries: number;
  now: () => number;
}

/** What a route records: who did it (null: nobody logged in), to whom, from where, and more. */
export interface AuditRecord {
  actor: string | null;
  action: AuditAction;
  target: string | null;
  address: string | null;
  details?: Record<string, unknown>;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string | null;
  action: AuditAction;
  target: string | null;
  address: string | null;
  details: string | null;
}

const PRUNE_INTERVAL_MS = 60_000;
const HOUR_MS = 3600_000;

export class AuditLog {
  private lastPruneAt = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly options: AuditOptions,
  ) {
    db.exec(AUDIT_SCHEMA);
  }

  record(entry: AuditRecord): void {
    this.db
      .prepare('INSERT INTO audit (at, actor, action, target, address, details) VALUES (?, ?, ?, ?, ?, ?)')
      .run(this.options.now(), entry.actor, entry.action, entry.target, entry.address, entry.details ? JSON.stringify(entry.details) : null);
    this.prune();
  }

  /** Counts a failed login in the entry of its (user name, address, hour). */
  failedLogin(username: string, address: string): void {
    const now = this.options.now();
    const name = username.slice(0, 64);
    const bucket = `login.failed\n${name}\n${address}\n${Math.floor(now / HOUR_MS)}`;
    const row = this.db.prepare('SELECT id, details FROM audit WHERE bucket = ?').get(bucket) as { id: number; details: string } | undefined;
    if (row) {
      const details = JSON.parse(row.details) as { count: number };
      this.db.prepare('UPDATE audit SET at = ?, details = ? WHERE id = ?').run(now, JSON.stringify({ ...details, count: details.count + 1, lastAt: now }), row.id);
      return;
    }
    this.db
      .prepare("INSERT INTO audit (at, actor, action, target, address, details, bucket) VALUES (?, NULL, 'login.failed', ?, ?, ?, ?)")
      .run(now, name, address, JSON.stringify({ count: 1, firstAt: now, lastAt: now }), bucket);
    this.prune();
  }

  /** Entries newest first, `limit` of them before entry `before`; `next` pages on. */
  list(query: AuditQuery): { entries: AuditEntry[]; next: number | null } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.user !== undefined) {
      where.push('(actor = ? OR target = ?)');
      args.push(query.user, query.user);
    }
    if (query.action !== undefined) {
      where.push('action = ?');
      args.push(query.action);
    }
    if (query.before !== undefined) {
      where.push('id < ?');
      args.push(query.before);
    }
    const sql = `SELECT id, at, actor, action, target, address, details FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, query.limit + 1) as AuditRow[];
    const page = rows.slice(0, query.limit);
    return {
      entries: page.map((r) => ({ ...r, details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>) })),
      next: rows.length > query.limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }

  /** Drops entries beyond the most kept (at each new entry) and past the retention (at most once a minute). */
  private prune(): void {
    this.db.prepare('DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)').run(this.options.maxEntries);
    const now = this.options.now();
    if (now - this.lastPruneAt < PRUNE_INTERVAL_MS) return;
    this.lastPruneAt = now;
    this.db.prepare('DELETE FROM audit WHERE at < ?').run(now - this.options.retentionDays * 24 * HOUR_MS);
  }
}
