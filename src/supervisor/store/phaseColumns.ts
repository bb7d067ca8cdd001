/**
 * The columns of run phases (steps): a job's current phase and when each of its phases began
 * (JSON), and the same times for earlier runs. Added when missing, so that a database of any
 * earlier schema reads them (as null: no phase known) without a new schema version.
 */
import type Database from 'better-sqlite3';
import type { PhaseTimes } from '../../shared/api.js';

const COLUMNS: [table: string, column: string, type: string][] = [
  ['jobs', 'phase', 'TEXT'],
  ['jobs', 'phase_times', 'TEXT'],
  ['job_runs', 'phase_times', 'TEXT'],
];

export function addPhaseColumns(db: Database.Database): void {
  for (const [table, column, type] of COLUMNS) {
    const has = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
    if (!has) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

export const phaseTimesOf = (text: string | null | undefined): PhaseTimes => (text ? (JSON.parse(text) as PhaseTimes) : {});
