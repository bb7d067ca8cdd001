/**
 * Columns of the runs' folders (added to a database of any earlier version when missing, so no
 * schema version is needed): each run's folder (`run_dir`; null in rows of versions whose runs
 * all used the job's own folder), what its files are now (`files`: kept, archived, purged,
 * missing; null = kept), the bytes they took when last measured, and the role its owner had when
 * it was requested (`owner_role`: the retention policy it follows).
 */
import type Database from 'better-sqlite3';
import type { RunFiles } from '../../shared/retention.js';
import type { Size, Status } from '../../shared/types.js';
import type { RunRecord } from '../store.js';

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

/** Run records of earlier runs (job_runs joined with their job's user), and of current ones. */
export const EARLIER_RUNS = `SELECT r.job_id, j.user, r.serial, 0 AS current, r.status, r.template, r.target, r.size, r.parameters, r.started_at, r.ended_at, r.run_dir, r.files, r.bytes, r.owner_role
  FROM job_runs r JOIN jobs j ON j.id = r.job_id`;
export const CURRENT_RUNS = `SELECT id AS job_id, user, serial, 1 AS current, status, template, target, size, parameters, started_at, ended_at, run_dir, files, bytes, owner_role FROM jobs`;
export const USAGE = `SELECT user, target, count(*) AS runs, coalesce(sum(bytes), 0) AS bytes,
  coalesce(sum(CASE WHEN files = 'archived' THEN bytes ELSE 0 END), 0) AS archivedBytes, sum(CASE WHEN files = 'archived' THEN 1 ELSE 0 END) AS archivedRuns
  FROM (${EARLIER_RUNS} UNION ALL ${CURRENT_RUNS})
  WHERE coalesce(files, 'kept') IN ('kept', 'archived') AND bytes IS NOT NULL AND (@user IS NULL OR user = @user) GROUP BY user, target ORDER BY user, target`;

export interface RawRun {
  job_id: string;
  user: string;
  serial: number;
  current: number;
  status: Status;
  template: string;
  target: string;
  size: Size;
  parameters: string;
  started_at: number | null;
  ended_at: number | null;
  run_dir: string | null;
  files: RunFiles | null;
  bytes: number | null;
  owner_role: string | null;
}

export const toRun = (r: RawRun): RunRecord => ({
  jobId: r.job_id,
  user: r.user,
  serial: r.serial,
  current: r.current === 1,
  status: r.status,
  template: r.template,
  target: r.target,
  size: r.size,
  parameters: JSON.parse(r.parameters) as Record<string, unknown>,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  runDir: r.run_dir,
  files: r.files,
  bytes: r.bytes,
  ownerRole: r.owner_role,
});
