/**
 * How the job store writes a job row: only the columns that changed since this connection last
 * wrote the row, else (a row it has not written yet) the whole row, upserted.
 *
 * A run's step changes two to six of the row's ~40 columns (sent + agent; status + pid + start;
 * phase; status + reason + end), and a run makes several of them. The upsert of a whole row
 * sets every column, so SQLite rewrites every index of the table (four list indexes, the job
 * key) and checks the insert first: about 2.5 times the cost of an UPDATE of what changed.
 *
 * What was last written is kept per job id (the most recent `limit` jobs), and only once the
 * write is committed (`committed`): a write whose transaction rolls back leaves the kept row as
 * the database still has it. Every write of a job row goes through this writer (and deletes
 * `forget` it), so the kept row is the row in the database.
 */
import type Database from 'better-sqlite3';

/** A row as bound to its statements: column name to value. */
export interface RawRow {
  id: string;
}

export class JobRowWriter {
  private readonly written = new Map<string, RawRow>();
  /** One UPDATE statement per set of changed columns (a handful of sets in practice). */
  private readonly updates = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
    private readonly upsert: Database.Statement,
    private readonly limit = 10_000,
  ) {}

  /** Writes `raw` (in the caller's transaction, if any); call `committed(raw)` once that is committed. */
  write(raw: RawRow): void {
    const before = this.written.get(raw.id);
    if (before === undefined || !this.updateChanged(before, raw)) this.upsert.run(raw);
  }

  committed(raw: RawRow): void {
    this.written.delete(raw.id);
    this.written.set(raw.id, raw);
    if (this.written.size > this.limit) this.written.delete(this.written.keys().next().value as string);
  }

  forget(id: string): void {
    this.written.delete(id);
  }

  /** False when the row is not there (deleted meanwhile): it is upserted whole. */
  private updateChanged(before: RawRow, raw: RawRow): boolean {
    const [now, then] = [raw as unknown as Record<string, unknown>, before as unknown as Record<string, unknown>];
    const changed = Object.keys(now).filter((c) => c !== 'id' && now[c] !== then[c]);
    if (changed.length === 0) return true;
    const key = changed.join(',');
    let statement = this.updates.get(key);
    if (!statement) {
      if (this.updates.size >= 256) this.updates.clear();
      statement = this.db.prepare(`UPDATE ${this.table} SET ${changed.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`);
      this.updates.set(key, statement);
    }
    return statement.run(raw).changes > 0;
  }
}
