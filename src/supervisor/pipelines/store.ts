/**
 * Pipelines in SQLite: tables `pipelines` (one row per pipeline: its owner, its spec as given,
 * its state) and `pipeline_stages` (one row per stage: its state, reason, job and latest
 * serial), beside the job tables in the same database file, on a connection of their own.
 * Every change of a pipeline or a stage is written here before it is told.
 */
import { openStoreDb } from '../store/openDb.js';
import Database from 'better-sqlite3';
import type { PipelineBody, PipelineState, StageState } from '../../shared/pipelines.js';

export const PIPELINES_SCHEMA = `
CREATE TABLE IF NOT EXISTS pipelines (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  role TEXT NOT NULL,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  stage_order TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ended_at INTEGER
);
CREATE INDEX IF NOT EXISTS pipelines_user ON pipelines (user);
CREATE INDEX IF NOT EXISTS pipelines_user_page ON pipelines (user, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS pipelines_page ON pipelines (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS pipelines_state ON pipelines (state);
CREATE TABLE IF NOT EXISTS pipeline_stages (
  pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  job_id TEXT,
  serial INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (pipeline_id, name)
);
CREATE INDEX IF NOT EXISTS pipeline_stages_job ON pipeline_stages (job_id);
`;

export interface StageRow {
  name: string;
  state: StageState;
  reason: string | null;
  jobId: string | null;
  serial: number | null;
  attempts: number;
}

export interface PipelineRow {
  id: string;
  user: string;
  /** The owner's role when it was created: its stages run as the owner with this role. */
  role: string;
  name: string;
  spec: PipelineBody;
  order: string[];
  state: PipelineState;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  stages: Map<string, StageRow>;
}

export interface PipelineStore {
  /** Saves the pipeline and all its stages in one transaction. */
  save(p: PipelineRow): void;
  get(id: string): PipelineRow | undefined;
  page(f: PipelineFilter, after: { at: number; id: string } | undefined, limit: number): PipelineRow[];
  count(f: PipelineFilter): number;
  stageJobs(): { pipelineId: string; jobId: string }[];
  active(): PipelineRow[];
  delete(id: string): void;
  close(): void;
}

interface RawPipeline {
  id: string;
  user: string;
  role: string;
  name: string;
  spec: string;
  stage_order: string;
  state: PipelineState;
  reason: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
}

interface RawStage {
  pipeline_id: string;
  name: string;
  state: StageState;
  reason: string | null;
  job_id: string | null;
  serial: number | null;
  attempts: number;
}

/** Which pipelines a page holds: one user's (or everyone's), in some states (or all). */
export interface PipelineFilter {
  user?: string;
  states?: readonly PipelineState[];
}

function filterSql(f: PipelineFilter): { where: string[]; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.user !== undefined) {
    where.push('user = ?');
    args.push(f.user);
  }
  if (f.states?.length) {
    where.push(`state IN (${f.states.map(() => '?').join(', ')})`);
    args.push(...f.states);
  }
  return { where, args };
}

export class SqlitePipelineStore implements PipelineStore {
  private readonly db: Database.Database;
  private readonly s;

  constructor(file: string) {
    this.db = openStoreDb(file, PIPELINES_SCHEMA, { foreignKeys: true });
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      upsert: p(`INSERT INTO pipelines (id, user, role, name, spec, stage_order, state, reason, created_at, updated_at, ended_at)
        VALUES (@id, @user, @role, @name, @spec, @stage_order, @state, @reason, @created_at, @updated_at, @ended_at)
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at, ended_at = excluded.ended_at`),
      upsertStage: p(`INSERT INTO pipeline_stages (pipeline_id, name, state, reason, job_id, serial, attempts) VALUES (@pipeline_id, @name, @state, @reason, @job_id, @serial, @attempts)
        ON CONFLICT (pipeline_id, name) DO UPDATE SET state = excluded.state, reason = excluded.reason, job_id = excluded.job_id, serial = excluded.serial, attempts = excluded.attempts`),
      get: p('SELECT * FROM pipelines WHERE id = ?'),
      stageJobs: p('SELECT pipeline_id, job_id FROM pipeline_stages WHERE job_id IS NOT NULL'),
      active: p("SELECT * FROM pipelines WHERE state = 'running' ORDER BY created_at"),
      stages: p('SELECT * FROM pipeline_stages WHERE pipeline_id = ?'),
      deleteStages: p('DELETE FROM pipeline_stages WHERE pipeline_id = ?'),
      delete: p('DELETE FROM pipelines WHERE id = ?'),
    };
  }

  save(p: PipelineRow): void {
    this.db.transaction(() => {
      this.s.upsert.run({ id: p.id, user: p.user, role: p.role, name: p.name, spec: JSON.stringify(p.spec), stage_order: JSON.stringify(p.order), state: p.state, reason: p.reason, created_at: p.createdAt, updated_at: p.updatedAt, ended_at: p.endedAt });
      for (const st of p.stages.values()) {
        this.s.upsertStage.run({ pipeline_id: p.id, name: st.name, state: st.state, reason: st.reason, job_id: st.jobId, serial: st.serial, attempts: st.attempts });
      }
    })();
  }

  get(id: string): PipelineRow | undefined {
    const r = this.s.get.get(id) as RawPipeline | undefined;
    return r && this.toRow(r);
  }

  /**
   * One page of pipelines, newest first (creation time, then id), after `after` when given:
   * `limit + 1` are read so the caller knows whether more follow.
   */
  page(f: PipelineFilter, after: { at: number; id: string } | undefined, limit: number): PipelineRow[] {
    const { where, args } = filterSql(f);
    if (after) {
      where.push('(created_at, id) < (?, ?)');
      args.push(after.at, after.id);
    }
    const sql = `SELECT * FROM pipelines ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, limit + 1) as RawPipeline[]).map((r) => this.toRow(r));
  }

  /** How many pipelines match `f` (for `total=1`). */
  count(f: PipelineFilter): number {
    const { where, args } = filterSql(f);
    return (this.db.prepare(`SELECT count(*) AS n FROM pipelines ${where.length ? 'WHERE ' + where.join(' AND ') : ''}`).get(...args) as { n: number }).n;
  }

  /** Every (pipeline, job) pair of a stage that has a job: which job belongs to which pipeline. */
  stageJobs(): { pipelineId: string; jobId: string }[] {
    return (this.s.stageJobs.all() as { pipeline_id: string; job_id: string }[]).map((r) => ({ pipelineId: r.pipeline_id, jobId: r.job_id }));
  }

  active(): PipelineRow[] {
    return (this.s.active.all() as RawPipeline[]).map((r) => this.toRow(r));
  }

  delete(id: string): void {
    this.db.transaction(() => {
      this.s.deleteStages.run(id);
      this.s.delete.run(id);
    })();
  }

  close(): void {
    this.db.close();
  }

  private toRow(r: RawPipeline): PipelineRow {
    const stages = new Map<string, StageRow>();
    for (const s of this.s.stages.all(r.id) as RawStage[]) {
      stages.set(s.name, { name: s.name, state: s.state, reason: s.reason, jobId: s.job_id, serial: s.serial, attempts: s.attempts });
    }
    return {
      id: r.id,
      user: r.user,
      role: r.role,
      name: r.name,
      spec: JSON.parse(r.spec) as PipelineBody,
      order: JSON.parse(r.stage_order) as string[],
      state: r.state,
      reason: r.reason,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      endedAt: r.ended_at,
      stages,
    };
  }
}
