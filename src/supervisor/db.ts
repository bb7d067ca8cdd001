/**
 * The supervisor's database (SQLite, WAL): one row per job with its current run, the history
 * of earlier runs, and the agents it started (so a restarted supervisor can let them back in).
 * Every state change is written here before anyone is told about it.
 */
import Database from 'better-sqlite3';
import type { RunMode, Status } from '../shared/types.js';
import type { RunSummary } from '../shared/api.js';
import type { SlurmOptions } from '../shared/sbatchConfig.js';

export interface JobRow {
  id: string;
  user: string;
  jobKey: string;
  template: string;
  runMode: RunMode;
  driver: string;
  serial: number;
  status: Status;
  parameters: Record<string, unknown>;
  progress: number | null;
  progressMessage: string | null;
  reason: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  updatedAt: number;
  logLines: number;
  agentId: string | null;
  pid: number | null;
  /** True once the run op was handed to an agent: the cmd may exist even if no reply came. */
  sent: boolean;
  /** The run's id in an outside scheduler (the Slurm job id), once submitted. */
  externalId: string | null;
  /** For runs whose log an agent tails from a file: the byte offset delivered so far. */
  logOffset: number;
  /** Slurm options the run asked for (sbatch runs). */
  slurm: SlurmOptions | null;
}

export interface AgentRow {
  id: string;
  tokenHash: string;
  user: string;
  runMode: RunMode;
  driver: string;
  host: string;
  pid: number | null;
  lastSeq: number;
  startedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  job_key TEXT NOT NULL,
  template TEXT NOT NULL,
  run_mode TEXT NOT NULL,
  driver TEXT NOT NULL,
  serial INTEGER NOT NULL,
  status TEXT NOT NULL,
  parameters TEXT NOT NULL,
  progress REAL,
  progress_message TEXT,
  reason TEXT,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  updated_at INTEGER NOT NULL,
  log_lines INTEGER NOT NULL DEFAULT 0,
  agent_id TEXT,
  pid INTEGER,
  sent INTEGER NOT NULL DEFAULT 0,
  external_id TEXT,
  log_offset INTEGER NOT NULL DEFAULT 0,
  slurm_options TEXT,
  UNIQUE (user, job_key)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE TABLE IF NOT EXISTS job_runs (
  job_id TEXT NOT NULL REFERENCES jobs (id),
  serial INTEGER NOT NULL,
  status TEXT NOT NULL,
  template TEXT NOT NULL,
  run_mode TEXT NOT NULL,
  parameters TEXT NOT NULL,
  reason TEXT,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  PRIMARY KEY (job_id, serial)
);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  user TEXT NOT NULL,
  run_mode TEXT NOT NULL,
  driver TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL
);
`;

interface RawJob {
  id: string;
  user: string;
  job_key: string;
  template: string;
  run_mode: RunMode;
  driver: string;
  serial: number;
  status: Status;
  parameters: string;
  progress: number | null;
  progress_message: string | null;
  reason: string | null;
  queued_at: number;
  started_at: number | null;
  ended_at: number | null;
  updated_at: number;
  log_lines: number;
  agent_id: string | null;
  pid: number | null;
  sent: number;
  external_id: string | null;
  log_offset: number;
  slurm_options: string | null;
}

function toJob(r: RawJob): JobRow {
  return {
    id: r.id,
    user: r.user,
    jobKey: r.job_key,
    template: r.template,
    runMode: r.run_mode,
    driver: r.driver,
    serial: r.serial,
    status: r.status,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    progress: r.progress,
    progressMessage: r.progress_message,
    reason: r.reason,
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    updatedAt: r.updated_at,
    logLines: r.log_lines,
    agentId: r.agent_id,
    pid: r.pid,
    sent: r.sent === 1,
    externalId: r.external_id,
    logOffset: r.log_offset,
    slurm: r.slurm_options ? (JSON.parse(r.slurm_options) as SlurmOptions) : null,
  };
}

function fromJob(j: JobRow) {
  return {
    id: j.id,
    user: j.user,
    job_key: j.jobKey,
    template: j.template,
    run_mode: j.runMode,
    driver: j.driver,
    serial: j.serial,
    status: j.status,
    parameters: JSON.stringify(j.parameters),
    progress: j.progress,
    progress_message: j.progressMessage,
    reason: j.reason,
    queued_at: j.queuedAt,
    started_at: j.startedAt,
    ended_at: j.endedAt,
    updated_at: j.updatedAt,
    log_lines: j.logLines,
    agent_id: j.agentId,
    pid: j.pid,
    sent: j.sent ? 1 : 0,
    external_id: j.externalId,
    log_offset: j.logOffset,
    slurm_options: j.slurm ? JSON.stringify(j.slurm) : null,
  };
}

const JOB_COLUMNS = Object.keys(fromJob({ parameters: {} } as JobRow));

export class JobStore {
  private readonly db: Database.Database;
  private readonly upsertJob: Database.Statement;
  private readonly insertRun: Database.Statement;
  private readonly saveSeq: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
    const cols = JOB_COLUMNS.join(', ');
    const vals = JOB_COLUMNS.map((c) => '@' + c).join(', ');
    const sets = JOB_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ');
    this.upsertJob = this.db.prepare(`INSERT INTO jobs (${cols}) VALUES (${vals}) ON CONFLICT (id) DO UPDATE SET ${sets}`);
    this.insertRun = this.db.prepare(
      `INSERT OR REPLACE INTO job_runs (job_id, serial, status, template, run_mode, parameters, reason, queued_at, started_at, ended_at)
       VALUES (@id, @serial, @status, @template, @run_mode, @parameters, @reason, @queued_at, @started_at, @ended_at)`,
    );
    this.saveSeq = this.db.prepare('UPDATE agents SET last_seq = ? WHERE id = ? AND last_seq < ?');
  }

  /** Columns added after a database was made. */
  private migrate(): void {
    const cols = new Set((this.db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name));
    if (!cols.has('external_id')) this.db.exec('ALTER TABLE jobs ADD COLUMN external_id TEXT');
    if (!cols.has('log_offset')) this.db.exec('ALTER TABLE jobs ADD COLUMN log_offset INTEGER NOT NULL DEFAULT 0');
    if (!cols.has('slurm_options')) this.db.exec('ALTER TABLE jobs ADD COLUMN slurm_options TEXT');
  }

  saveJob(job: JobRow): void {
    this.upsertJob.run(fromJob(job));
  }

  /** Saves a job and, in the same transaction, the agent's last applied update number. */
  saveJobAndSeq(job: JobRow | undefined, agentId: string, seq: number): void {
    this.db.transaction(() => {
      if (job) this.upsertJob.run(fromJob(job));
      this.saveSeq.run(seq, agentId, seq);
    })();
  }

  /** Moves the job's current run into its history and saves the job's new current run. */
  archiveAndSave(previous: JobRow, next: JobRow): void {
    this.db.transaction(() => {
      this.insertRun.run(fromJob(previous));
      this.upsertJob.run(fromJob(next));
    })();
  }

  getJob(id: string): JobRow | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as RawJob | undefined;
    return r && toJob(r);
  }

  findJob(user: string, jobKey: string): JobRow | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE user = ? AND job_key = ?').get(user, jobKey) as RawJob | undefined;
    return r && toJob(r);
  }

  listJobs(user?: string): JobRow[] {
    const rows = user
      ? this.db.prepare('SELECT * FROM jobs WHERE user = ? ORDER BY queued_at DESC').all(user)
      : this.db.prepare('SELECT * FROM jobs ORDER BY queued_at DESC').all();
    return (rows as RawJob[]).map(toJob);
  }

  activeJobs(): JobRow[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE status IN ('pending', 'running')").all() as RawJob[]).map(toJob);
  }

  history(jobId: string): RunSummary[] {
    const rows = this.db.prepare('SELECT * FROM job_runs WHERE job_id = ? ORDER BY serial DESC').all(jobId) as (RawJob & { job_id: string })[];
    return rows.map((r) => ({
      serial: r.serial,
      status: r.status,
      template: r.template,
      runMode: r.run_mode,
      parameters: JSON.parse(r.parameters) as Record<string, unknown>,
      reason: r.reason,
      queuedAt: r.queued_at,
      startedAt: r.started_at,
      endedAt: r.ended_at,
    }));
  }

  saveAgent(a: AgentRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO agents (id, token_hash, user, run_mode, driver, host, pid, last_seq, started_at)
         VALUES (@id, @tokenHash, @user, @runMode, @driver, @host, @pid, @lastSeq, @startedAt)`,
      )
      .run(a);
  }

  getAgent(id: string): AgentRow | undefined {
    const r = this.db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as
      | { id: string; token_hash: string; user: string; run_mode: RunMode; driver: string; host: string; pid: number | null; last_seq: number; started_at: number }
      | undefined;
    return (
      r && {
        id: r.id,
        tokenHash: r.token_hash,
        user: r.user,
        runMode: r.run_mode,
        driver: r.driver,
        host: r.host,
        pid: r.pid,
        lastSeq: r.last_seq,
        startedAt: r.started_at,
      }
    );
  }

  listAgentIds(): string[] {
    return (this.db.prepare('SELECT id FROM agents').all() as { id: string }[]).map((r) => r.id);
  }

  deleteAgent(id: string): void {
    this.db.prepare('DELETE FROM agents WHERE id = ?').run(id);
  }

  close(): void {
    this.db.close();
  }
}
