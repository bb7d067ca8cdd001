/**
 * Schedules in SQLite: table `schedules` (one row each, with `cursor`: the latest firing time
 * handled, fired or passed over) and `schedule_firings`, whose UNIQUE (schedule_id, fire_time)
 * row is written, with the cursor, before the firing's run is queued: a firing time is used at
 * most once, also across a crash or a restart.
 */
import { openStoreDb } from '../store/openDb.js';
import Database from 'better-sqlite3';
import type { RunOptions } from '../../shared/api.js';
import type { FiringView, MissedPolicy } from '../../shared/scheduleApi.js';
import type { Size } from '../../shared/types.js';

export const SCHEDULE_SCHEMA = `
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  owner_role TEXT NOT NULL,
  name TEXT NOT NULL,
  template TEXT NOT NULL,
  run TEXT NOT NULL,
  cron TEXT,
  timezone TEXT NOT NULL,
  interval_seconds INTEGER,
  anchor INTEGER NOT NULL,
  start_at INTEGER,
  end_at INTEGER,
  missed TEXT NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  cursor INTEGER NOT NULL,
  skipped INTEGER NOT NULL DEFAULT 0,
  last_fire_time INTEGER,
  last_fired_at INTEGER,
  last_job_id TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (user, name)
);
CREATE TABLE IF NOT EXISTS schedule_firings (
  schedule_id TEXT NOT NULL,
  fire_time INTEGER NOT NULL,
  fired_at INTEGER NOT NULL,
  job_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  job_id TEXT,
  error TEXT,
  UNIQUE (schedule_id, fire_time)
);
`;

/** What a firing runs: a run request without its template (the schedule's own column). */
export interface ScheduledRun {
  parameters: Record<string, unknown>;
  target?: string;
  size?: Size;
  options?: RunOptions;
  callbackUrl?: string;
}

export interface ScheduleRow {
  id: string;
  user: string;
  ownerRole: string;
  name: string;
  template: string;
  run: ScheduledRun;
  cron: string | null;
  timezone: string;
  intervalSeconds: number | null;
  anchor: number;
  startAt: number | null;
  endAt: number | null;
  missed: MissedPolicy;
  paused: boolean;
  cursor: number;
  skipped: number;
  lastFireTime: number | null;
  lastFiredAt: number | null;
  lastJobId: string | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

interface RawSchedule {
  id: string;
  user: string;
  owner_role: string;
  name: string;
  template: string;
  run: string;
  cron: string | null;
  timezone: string;
  interval_seconds: number | null;
  anchor: number;
  start_at: number | null;
  end_at: number | null;
  missed: MissedPolicy;
  paused: number;
  cursor: number;
  skipped: number;
  last_fire_time: number | null;
  last_fired_at: number | null;
  last_job_id: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

const toRow = (r: RawSchedule): ScheduleRow => ({
  id: r.id,
  user: r.user,
  ownerRole: r.owner_role,
  name: r.name,
  template: r.template,
  run: JSON.parse(r.run) as ScheduledRun,
  cron: r.cron,
  timezone: r.timezone,
  intervalSeconds: r.interval_seconds,
  anchor: r.anchor,
  startAt: r.start_at,
  endAt: r.end_at,
  missed: r.missed,
  paused: r.paused === 1,
  cursor: r.cursor,
  skipped: r.skipped,
  lastFireTime: r.last_fire_time,
  lastFiredAt: r.last_fired_at,
  lastJobId: r.last_job_id,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const fromRow = (s: ScheduleRow): RawSchedule => ({
  id: s.id,
  user: s.user,
  owner_role: s.ownerRole,
  name: s.name,
  template: s.template,
  run: JSON.stringify(s.run),
  cron: s.cron,
  timezone: s.timezone,
  interval_seconds: s.intervalSeconds,
  anchor: s.anchor,
  start_at: s.startAt,
  end_at: s.endAt,
  missed: s.missed,
  paused: s.paused ? 1 : 0,
  cursor: s.cursor,
  skipped: s.skipped,
  last_fire_time: s.lastFireTime,
  last_fired_at: s.lastFiredAt,
  last_job_id: s.lastJobId,
  last_error: s.lastError,
  created_at: s.createdAt,
  updated_at: s.updatedAt,
});

const COLUMNS = Object.keys(fromRow({ run: {} } as ScheduleRow));
const UPSERT = `INSERT INTO schedules (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => '@' + c).join(', ')})
  ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ')}`;

/** A firing claimed: its time, and the cursor and skip count the schedule moves to. */
export interface Claim {
  scheduleId: string;
  fireTime: number;
  firedAt: number;
  jobKey: string;
  kind: FiringView['kind'];
  /** Firing times passed over by this claim (not run). */
  skipped: number;
}

export class SqliteScheduleStore {
  private readonly db: Database.Database;
  private readonly st;

  constructor(file: string) {
    this.db = openStoreDb(file, SCHEDULE_SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      upsert: p(UPSERT),
      get: p('SELECT * FROM schedules WHERE id = ?'),
      byName: p('SELECT * FROM schedules WHERE user = ? AND name = ?'),
      listUser: p('SELECT * FROM schedules WHERE user = ? ORDER BY created_at'),
      listAll: p('SELECT * FROM schedules ORDER BY created_at'),
      count: p('SELECT count(*) AS n FROM schedules WHERE user = ?'),
      claim: p('INSERT OR IGNORE INTO schedule_firings (schedule_id, fire_time, fired_at, job_key, kind) VALUES (@scheduleId, @fireTime, @firedAt, @jobKey, @kind)'),
      moveCursor: p('UPDATE schedules SET cursor = max(cursor, @cursor), skipped = skipped + @skipped WHERE id = @id'),
      settle: p('UPDATE schedule_firings SET job_id = @jobId, error = @error WHERE schedule_id = @scheduleId AND fire_time = @fireTime'),
      last: p('UPDATE schedules SET last_fire_time = @fireTime, last_fired_at = @firedAt, last_job_id = @jobId, last_error = @error WHERE id = @scheduleId'),
      firings: p('SELECT * FROM schedule_firings WHERE schedule_id = ? ORDER BY fire_time DESC LIMIT ?'),
      deleteFirings: p('DELETE FROM schedule_firings WHERE schedule_id = ?'),
      delete: p('DELETE FROM schedules WHERE id = ?'),
    };
  }

  save(s: ScheduleRow): void {
    this.st.upsert.run(fromRow(s));
  }

  get(id: string): ScheduleRow | undefined {
    const r = this.st.get.get(id) as RawSchedule | undefined;
    return r && toRow(r);
  }

  byName(user: string, name: string): ScheduleRow | undefined {
    const r = this.st.byName.get(user, name) as RawSchedule | undefined;
    return r && toRow(r);
  }

  list(user?: string): ScheduleRow[] {
    return ((user === undefined ? this.st.listAll.all() : this.st.listUser.all(user)) as RawSchedule[]).map(toRow);
  }

  count(user: string): number {
    return (this.st.count.get(user) as { n: number }).n;
  }

  /** Moves the cursor past times not run (skip policy, pause); no firing row. */
  passOver(id: string, cursor: number, skipped: number): void {
    this.st.moveCursor.run({ id, cursor, skipped });
  }

  /**
   * Claims a firing time: its row (UNIQUE per schedule and time) and the schedule's cursor in
   * one transaction. False when the time was claimed before (it never fires twice).
   */
  claim(c: Claim): boolean {
    return this.db.transaction(() => {
      const inserted = this.st.claim.run(c).changes === 1;
      if (inserted) this.st.moveCursor.run({ id: c.scheduleId, cursor: c.fireTime, skipped: c.skipped });
      return inserted;
    })();
  }

  /** What a claimed firing became: the job it ran, or why it could not run. */
  settle(scheduleId: string, fireTime: number, firedAt: number, jobId: string | null, error: string | null): void {
    this.db.transaction(() => {
      this.st.settle.run({ scheduleId, fireTime, jobId, error });
      this.st.last.run({ scheduleId, fireTime, firedAt, jobId, error });
    })();
  }

  firings(id: string, limit: number): FiringView[] {
    const rows = this.st.firings.all(id, limit) as { fire_time: number; fired_at: number; job_key: string; kind: FiringView['kind']; job_id: string | null; error: string | null }[];
    return rows.map((r) => ({ fireTime: r.fire_time, firedAt: r.fired_at, jobKey: r.job_key, jobId: r.job_id, error: r.error, kind: r.kind }));
  }

  delete(id: string): void {
    this.db.transaction(() => {
      this.st.deleteFirings.run(id);
      this.st.delete.run(id);
    })();
  }

  close(): void {
    this.db.close();
  }
}
