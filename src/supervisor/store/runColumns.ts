/**
 * Columns of the runs' folders (added to a database of any earlier version when missing, so no
 * schema version is needed): each run's folder (`run_dir`; null in rows of versions whose runs
 * all used the job's own folder), what its files are now (`files`: kept, archived, purged,
 * missing; null = kept), the bytes they took when last measured, and the role its owner had when
 * it was requested (`owner_role`: the retention policy it follows).
 */
import type Database from 'better-sqlite3';

const RUN_COLUMNS: [string, string][] = [
  ['run_dir', 'TEXT'],
  ['files', 'TEXT'],
  ['bytes', 'INTEGER'],
  ['owner_role', 'TEXT'],
];

export function addRunColumns(db: Database.Database): void {
  for (const table of ['jobs', 'job_runs']) {
    const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    for (const [name, type] of RUN_COLUMNS) if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}
