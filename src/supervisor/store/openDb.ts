/**
 * Opens a connection to the job database for a store of its own tables (uploads, schedules,
 * pipelines, workers): WAL, a busy timeout shared with the job store, its tables made if missing.
 */
import Database from 'better-sqlite3';

export function openStoreDb(file: string, schema: string, opts: { foreignKeys?: boolean } = {}): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  if (opts.foreignKeys) db.pragma('foreign_keys = ON');
  db.exec(schema);
  return db;
}
