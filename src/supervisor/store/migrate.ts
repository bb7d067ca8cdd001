/**
 * Opens a job database of any version at today's schema. jobvisor 0.1 (schema 1, no
 * `user_version`) kept a "run mode" and a driver name per run; each becomes a target, a driver
 * and a size (`legacy`), and a cluster run's options move to `options`. Its agents speak an
 * older protocol: they are not kept, so when one connects it is refused and ends itself (a
 * cluster agent leaves its scheduler jobs running; the user's next login follows them again).
 * The whole migration is one transaction: a database is migrated completely or not at all.
 */
import type Database from 'better-sqlite3';
import type { LegacyPlacement } from '../store.js';

export const SCHEMA_VERSION = 2;

type Row = Record<string, unknown>;

const tableColumns = (db: Database.Database, table: string): Set<string> =>
  new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));

export function migrate(db: Database.Database, schema: string, legacy: LegacyPlacement): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new Error(`the job database is of a newer jobvisor (schema ${version}; this one reads up to ${SCHEMA_VERSION})`);
  const isV1 = version < 2 && tableColumns(db, 'jobs').has('run_mode');
  if (!isV1) {
    db.exec(schema);
    return;
  }
  db.transaction(() => {
    for (const t of ['jobs', 'job_runs', 'agents']) db.exec(`ALTER TABLE ${t} RENAME TO ${t}_v1`);
    db.exec('DROP INDEX IF EXISTS jobs_status');
    db.exec(schema);
    copyJobs(db, legacy);
    copyRuns(db, legacy);
    for (const t of ['job_runs', 'agents', 'jobs']) db.exec(`DROP TABLE ${t}_v1`);
  })();
}

function copyJobs(db: Database.Database, legacy: LegacyPlacement): void {
  const insert = db.prepare(`INSERT INTO jobs (id, user, job_key, template, target, driver, size, serial, status, parameters, options, progress, progress_message,
    reason, queued_at, started_at, ended_at, updated_at, log_lines, agent_id, pid, sent, external_id, log_offset, scheduler)
    VALUES (@id, @user, @job_key, @template, @target, @driver, @size, @serial, @status, @parameters, @options, @progress, @progress_message,
    @reason, @queued_at, @started_at, @ended_at, @updated_at, @log_lines, @agent_id, @pid, @sent, @external_id, @log_offset, NULL)`);
  for (const r of db.prepare('SELECT * FROM jobs_v1').all() as Row[]) {
    const place = legacy(String(r.run_mode), String(r.driver));
    insert.run({
      ...pick(r, ['id', 'user', 'job_key', 'template', 'serial', 'status', 'parameters', 'progress', 'progress_message', 'reason', 'queued_at', 'started_at', 'ended_at', 'updated_at', 'log_lines', 'agent_id', 'pid', 'sent']),
      ...place,
      // 0.1 kept a cluster run's options in a column named after its cluster kind.
      options: Object.entries(r).find(([k]) => k.endsWith('_options'))?.[1] ?? null,
      external_id: r.external_id ?? null,
      log_offset: r.log_offset ?? 0,
    });
  }
}

function copyRuns(db: Database.Database, legacy: LegacyPlacement): void {
  const drivers = new Map((db.prepare('SELECT id, driver FROM jobs_v1').all() as { id: string; driver: string }[]).map((r) => [r.id, r.driver]));
  const insert = db.prepare(`INSERT INTO job_runs (job_id, serial, status, template, target, size, parameters, reason, queued_at, started_at, ended_at)
    VALUES (@job_id, @serial, @status, @template, @target, @size, @parameters, @reason, @queued_at, @started_at, @ended_at)`);
  for (const r of db.prepare('SELECT * FROM job_runs_v1').all() as Row[]) {
    const place = legacy(String(r.run_mode), drivers.get(String(r.job_id)) ?? '');
    insert.run({ ...pick(r, ['job_id', 'serial', 'status', 'template', 'parameters', 'reason', 'queued_at', 'started_at', 'ended_at']), target: place.target, size: place.size });
  }
}

function pick(r: Row, keys: string[]): Row {
  return Object.fromEntries(keys.map((k) => [k, r[k] ?? null]));
}
