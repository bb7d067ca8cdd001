/**
 * The job store in SQLite (WAL): one row per job with its current run, the history of earlier
 * runs, and the agents the supervisor started (so a restarted supervisor can let them back in).
 * A database of jobvisor 0.1 is migrated when it is opened (migrate.ts).
 */
import Database from 'better-sqlite3';
import type { RunOptions, RunSummary } from '../../shared/api.js';
import type { RunFiles } from '../../shared/retention.js';
import type { Size, Status } from '../../shared/types.js';
import type { StaleFlag } from '../../shared/api.js';
import type { Phase, RunCause } from '../../shared/protocol.js';
import type { AgentRow, EndedRunTimes, JobRow, JobStore, JournalRange, JournaledEvent, LegacyPlacement, RunCount, RunFilesPatch, RunInput, RunNotify, RunRecord, SchedulerState, UsageRow } from '../store.js';
import { migrate, SCHEMA_VERSION } from './migrate.js';
import { addPhaseColumns, phaseTimesOf } from './phaseColumns.js';
import { SqliteDeliveries } from './deliveries.js';
import { EndedRunPages } from './endedRuns.js';
import { SqliteJobPages, type JobFilter, type PageQuery } from './jobPages.js';
import { JobRowWriter } from './jobWrites.js';
import { addJobCounts, COUNT_JOBS } from './jobCounts.js';
import { addRunColumns, CURRENT_RUNS, EARLIER_RUNS, toRun, USAGE, type RawRun } from './runColumns.js';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  job_key TEXT NOT NULL,
  template TEXT NOT NULL,
  target TEXT NOT NULL,
  driver TEXT NOT NULL,
  size TEXT NOT NULL,
  serial INTEGER NOT NULL,
  status TEXT NOT NULL,
  parameters TEXT NOT NULL,
  options TEXT,
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
  scheduler TEXT,
  cause TEXT,
  notify TEXT,
  callback_url TEXT,
  stale TEXT,
  UNIQUE (user, job_key)
);
CREATE TABLE IF NOT EXISTS job_runs (
  job_id TEXT NOT NULL REFERENCES jobs (id),
  serial INTEGER NOT NULL,
  status TEXT NOT NULL,
  template TEXT NOT NULL,
  target TEXT NOT NULL,
  size TEXT NOT NULL,
  parameters TEXT NOT NULL,
  reason TEXT,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  cause TEXT,
  PRIMARY KEY (job_id, serial)
);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  user TEXT NOT NULL,
  target TEXT NOT NULL,
  size TEXT,
  driver TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  data TEXT NOT NULL
);
`;

interface RawJob {
  id: string;
  user: string;
  job_key: string;
  template: string;
  target: string;
  driver: string;
  size: Size;
  serial: number;
  status: Status;
  parameters: string;
  options: string | null;
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
  scheduler: string | null;
  phase: string | null;
  phase_times: string | null;
  inputs: string | null;
  cause: RunCause | null;
  notify: string | null;
  callback_url: string | null;
  stale: string | null;
  run_dir: string | null;
  files: RunFiles | null;
  bytes: number | null;
  owner_role: string | null;
  schedule_id?: string | null;
  schedule_name?: string | null;
}

/** Columns added after schema 2 (notifications, callbacks, stale runs): added to a database that lacks them. */
const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
  ['jobs', 'cause', 'TEXT'],
  ['jobs', 'notify', 'TEXT'],
  ['jobs', 'callback_url', 'TEXT'],
  ['jobs', 'stale', 'TEXT'],
  ['job_runs', 'cause', 'TEXT'],
  // Schedules (schedules/): the schedule whose firing made the job.
  ['jobs', 'schedule_id', 'TEXT'],
  ['jobs', 'schedule_name', 'TEXT'],
];

function addMissingColumns(db: Database.Database, added: [string, string, string][]): void {
  for (const [table, column, type] of added) {
    const has = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
    if (!has) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

interface RawAgent {
  id: string;
  token_hash: string;
  user: string;
  target: string;
  size: Size | null;
  driver: string;
  host: string;
  pid: number | null;
  last_seq: number;
  started_at: number;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function toJob(r: RawJob): JobRow {
  return {
    id: r.id,
    user: r.user,
    jobKey: r.job_key,
    template: r.template,
    target: r.target,
    driver: r.driver,
    size: r.size,
    serial: r.serial,
    status: r.status,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    options: json<RunOptions>(r.options),
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
    scheduler: json<SchedulerState>(r.scheduler),
    phase: r.phase as Phase | null,
    phaseTimes: phaseTimesOf(r.phase_times),
    inputs: json<RunInput[]>(r.inputs ?? null) ?? [],
    cause: r.cause ?? null,
    notify: json<RunNotify>(r.notify ?? null),
    callbackUrl: r.callback_url ?? null,
    stale: json<StaleFlag>(r.stale ?? null),
    runDir: r.run_dir,
    files: r.files,
    bytes: r.bytes,
    ownerRole: r.owner_role,
    scheduleId: r.schedule_id ?? null,
    scheduleName: r.schedule_name ?? null,
  };
}

export function fromJob(j: JobRow): RawJob {
  return {
    id: j.id,
    user: j.user,
    job_key: j.jobKey,
    template: j.template,
    target: j.target,
    driver: j.driver,
    size: j.size,
    serial: j.serial,
    status: j.status,
    parameters: JSON.stringify(j.parameters),
    options: j.options ? JSON.stringify(j.options) : null,
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
    scheduler: j.scheduler ? JSON.stringify(j.scheduler) : null,
    phase: j.phase ?? null,
    phase_times: j.phaseTimes && Object.keys(j.phaseTimes).length > 0 ? JSON.stringify(j.phaseTimes) : null,
    inputs: j.inputs?.length ? JSON.stringify(j.inputs) : null,
    cause: j.cause ?? null,
    notify: j.notify ? JSON.stringify(j.notify) : null,
    callback_url: j.callbackUrl ?? null,
    stale: j.stale ? JSON.stringify(j.stale) : null,
    run_dir: j.runDir ?? null,
    files: j.files ?? null,
    bytes: j.bytes ?? null,
    owner_role: j.ownerRole ?? null,
    schedule_id: j.scheduleId ?? null,
    schedule_name: j.scheduleName ?? null,
  };
}

const JOB_COLUMNS = Object.keys(fromJob({ parameters: {} } as JobRow));
const upsertSql = (table: string) => {
  const cols = JOB_COLUMNS.join(', ');
  const vals = JOB_COLUMNS.map((c) => '@' + c).join(', ');
  const sets = JOB_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ');
  return `INSERT INTO ${table} (${cols}) VALUES (${vals}) ON CONFLICT (id) DO UPDATE SET ${sets}`;
};
export const INSERT_RUN = `INSERT OR REPLACE INTO job_runs (job_id, serial, status, template, target, size, parameters, reason, queued_at, started_at, ended_at, phase_times, cause, run_dir, files, bytes, owner_role)
  VALUES (@id, @serial, @status, @template, @target, @size, @parameters, @reason, @queued_at, @started_at, @ended_at, @phase_times, @cause, @run_dir, @files, @bytes, @owner_role)`;

export const INSERT_AGENT = `INSERT OR REPLACE INTO agents (id, token_hash, user, target, size, driver, host, pid, last_seq, started_at)
  VALUES (@id, @tokenHash, @user, @target, @size, @driver, @host, @pid, @lastSeq, @startedAt)`;

/** Adds a column an older database lacks (idempotent: nothing when it is there). */
export function addColumnIfMissing(db: Database.Database, table: string, column: string, type: string): void {
  const cols = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  if (!cols.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;
  private readonly statements;
  readonly deliveries: SqliteDeliveries;
  private readonly pages: SqliteJobPages;
  private readonly endedPages: EndedRunPages;
  /** Bumped by every write to job_runs (the history of jobs): see JobStore.runsVersion. */
  private runsWrites = 0;
  private readonly rows: JobRowWriter;

  /** Opens (or makes) the database; `legacy` places the runs of a jobvisor 0.1 database on today's targets. */
  constructor(file: string, legacy: LegacyPlacement) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, SCHEMA, legacy);
    addPhaseColumns(this.db);
    addColumnIfMissing(this.db, 'jobs', 'inputs', 'TEXT');
    addMissingColumns(this.db, ADDED_COLUMNS);
    this.deliveries = new SqliteDeliveries(this.db);
    addRunColumns(this.db);
    this.pages = new SqliteJobPages(this.db);
    addJobCounts(this.db);
    this.endedPages = new EndedRunPages(this.db);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const prepare = (sql: string) => this.db.prepare(sql);
    this.statements = {
      upsertJob: prepare(upsertSql('jobs')),
      insertRun: prepare(INSERT_RUN),
      saveSeq: prepare('UPDATE agents SET last_seq = ? WHERE id = ? AND last_seq < ?'),
      getJob: prepare('SELECT * FROM jobs WHERE id = ?'),
      findJob: prepare('SELECT * FROM jobs WHERE user = ? AND job_key = ?'),
      listUser: prepare('SELECT * FROM jobs WHERE user = ? ORDER BY queued_at DESC'),
      listAll: prepare('SELECT * FROM jobs ORDER BY queued_at DESC'),
      countUser: prepare(COUNT_JOBS),
      active: prepare("SELECT * FROM jobs WHERE status IN ('pending', 'running')"),
      history: prepare('SELECT * FROM job_runs WHERE job_id = ? ORDER BY serial DESC'),
      getRun: prepare(`${EARLIER_RUNS} WHERE r.job_id = ? AND r.serial = ?`),
      endedRuns: prepare(
        `SELECT * FROM (${EARLIER_RUNS} UNION ALL ${CURRENT_RUNS}) WHERE status NOT IN ('pending', 'running', 'purged', 'missing') AND coalesce(files, 'kept') IN ('kept', 'archived') ORDER BY job_id, serial`,
      ),
      saveRunFiles: prepare('UPDATE job_runs SET files = @files, status = coalesce(@status, status), bytes = CASE WHEN @setBytes = 1 THEN @bytes ELSE bytes END WHERE job_id = @jobId AND serial = @serial'),
      usage: prepare(USAGE),
      saveAgent: prepare(INSERT_AGENT),
      getAgent: prepare('SELECT * FROM agents WHERE id = ?'),
      agentIds: prepare('SELECT id FROM agents'),
      deleteAgent: prepare('DELETE FROM agents WHERE id = ?'),
      endedRunTimes: prepare(`SELECT template, target, queued_at, started_at, ended_at, phase_times FROM jobs WHERE ended_at >= @since AND ended_at < @until
        UNION ALL SELECT template, target, queued_at, started_at, ended_at, phase_times FROM job_runs WHERE ended_at >= @since AND ended_at < @until`),
      deleteRuns: prepare('DELETE FROM job_runs WHERE job_id = ?'),
      deleteJob: prepare('DELETE FROM jobs WHERE id = ?'),
      appendEvent: prepare('INSERT INTO events (id, type, data) VALUES (?, ?, ?)'),
      eventsAfter: prepare('SELECT id, type, data FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      latestEvent: prepare("SELECT seq AS id FROM sqlite_sequence WHERE name = 'events'"),
      oldestEvent: prepare('SELECT min(id) AS id FROM events'),
      pruneEvents: prepare('DELETE FROM events WHERE id <= ?'),
    };
    this.rows = new JobRowWriter(this.db, 'jobs', this.statements.upsertJob);
  }

  appendEvents(events: readonly JournaledEvent[], keep: number): void {
    const first = events[0]?.id;
    const last = events.at(-1)?.id;
    if (first === undefined || last === undefined) return;
    this.db.transaction(() => {
      for (const e of events) this.statements.appendEvent.run(e.id, e.type, e.data);
      // Pruned in steps (a delete whenever the numbers pass a multiple of `keep / 10`), so the journal holds keep..1.1·keep.
      const step = Math.max(1, Math.floor(keep / 10));
      if (Math.floor(last / step) > Math.floor((first - 1) / step)) this.statements.pruneEvents.run(last - keep);
    })();
  }

  eventsAfter(id: number, limit: number): JournaledEvent[] {
    return this.statements.eventsAfter.all(id, limit) as JournaledEvent[];
  }

  countRuns(): RunCount[] {
    return this.db.prepare('SELECT status, target, template, count(*) AS n FROM jobs GROUP BY status, target, template').all() as RunCount[];
  }

  ping(): void {
    this.db.prepare('SELECT count(*) AS n FROM sqlite_master').get();
  }

  eventRange(): JournalRange {
    const latest = (this.statements.latestEvent.get() as { id: number } | undefined)?.id ?? 0;
    const oldest = (this.statements.oldestEvent.get() as { id: number | null }).id ?? latest + 1;
    return { oldest, latest };
  }

  /** Job rows are written by `this.rows` (jobWrites.ts): the columns that changed, once it knows the row. */
  saveJob(job: JobRow): void {
    const raw = fromJob(job);
    this.rows.write(raw);
    this.rows.committed(raw);
  }

  saveJobAndSeq(job: JobRow | undefined, agentId: string, seq: number): void {
    const raw = job && fromJob(job);
    this.db.transaction(() => {
      if (raw) this.rows.write(raw);
      this.statements.saveSeq.run(seq, agentId, seq);
    })();
    if (raw) this.rows.committed(raw);
  }

  get runsVersion(): number {
    return this.runsWrites;
  }

  archiveAndSave(previous: JobRow, next: JobRow): void {
    this.runsWrites++;
    const raw = fromJob(next);
    this.db.transaction(() => {
      this.statements.insertRun.run(fromJob(previous));
      this.rows.write(raw);
    })();
    this.rows.committed(raw);
  }

  saveBatch(runs: { previous?: JobRow; next: JobRow }[]): void {
    this.runsWrites++;
    const raws = runs.map((r) => fromJob(r.next));
    this.db.transaction(() => {
      runs.forEach(({ previous }, i) => {
        if (previous) this.statements.insertRun.run(fromJob(previous));
        this.rows.write(raws[i]!);
      });
    })();
    for (const raw of raws) this.rows.committed(raw);
  }

  getJob(id: string): JobRow | undefined {
    const r = this.statements.getJob.get(id) as RawJob | undefined;
    return r && toJob(r);
  }

  findJob(user: string, jobKey: string): JobRow | undefined {
    const r = this.statements.findJob.get(user, jobKey) as RawJob | undefined;
    return r && toJob(r);
  }

  listJobs(user?: string): JobRow[] {
    const rows = user ? this.statements.listUser.all(user) : this.statements.listAll.all();
    return (rows as RawJob[]).map(toJob);
  }

  pageJobs(q: PageQuery): { rows: JobRow[]; more: boolean } {
    const raw = this.pages.page<RawJob>(q);
    return { rows: raw.slice(0, q.limit).map(toJob), more: raw.length > q.limit };
  }

  countMatching(f: JobFilter): number {
    return this.pages.count(f);
  }

  explainPage(q: PageQuery): string[] {
    return this.pages.explain(q);
  }

  countJobs(user: string): number {
    return (this.statements.countUser.get(user) as { n: number }).n;
  }

  activeJobs(): JobRow[] {
    return (this.statements.active.all() as RawJob[]).map(toJob);
  }

  history(jobId: string): RunSummary[] {
    const rows = this.statements.history.all(jobId) as RawJob[];
    return rows.map((r) => ({
      serial: r.serial,
      status: r.status,
      template: r.template,
      target: r.target,
      size: r.size,
      parameters: JSON.parse(r.parameters) as Record<string, unknown>,
      reason: r.reason,
      queuedAt: r.queued_at,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      phaseTimes: phaseTimesOf(r.phase_times),
      cause: r.cause ?? null,
      files: r.files ?? 'kept',
      bytes: r.bytes,
    }));
  }

  endedRunTimes(since: number, until: number): EndedRunTimes[] {
    const rows = this.statements.endedRunTimes.all({ since, until }) as { template: string; target: string; queued_at: number; started_at: number | null; ended_at: number; phase_times: string | null }[];
    return rows.map((r) => ({ template: r.template, target: r.target, queuedAt: r.queued_at, startedAt: r.started_at, endedAt: r.ended_at, finishingAt: phaseTimesOf(r.phase_times).finishing ?? null }));
  }

  getRun(jobId: string, serial: number): RunRecord | undefined {
    const r = this.statements.getRun.get(jobId, serial) as RawRun | undefined;
    return r && toRun(r);
  }

  endedRuns(): RunRecord[] {
    return (this.statements.endedRuns.all() as RawRun[]).map(toRun);
  }

  endedRunsPage(after: string, jobs: number): { runs: RunRecord[]; last: string } | undefined {
    return this.endedPages.page(after, jobs);
  }

  saveRunFiles(jobId: string, serial: number, patch: RunFilesPatch): void {
    this.runsWrites++;
    this.statements.saveRunFiles.run({ jobId, serial, files: patch.files, status: patch.status ?? null, setBytes: patch.bytes === undefined ? 0 : 1, bytes: patch.bytes ?? null });
  }

  usage(user?: string): UsageRow[] {
    return this.statements.usage.all({ user: user ?? null }) as UsageRow[];
  }

  saveAgent(a: AgentRow): void {
    this.statements.saveAgent.run(a);
  }

  getAgent(id: string): AgentRow | undefined {
    const r = this.statements.getAgent.get(id) as RawAgent | undefined;
    return (
      r && {
        id: r.id,
        tokenHash: r.token_hash,
        user: r.user,
        target: r.target,
        size: r.size,
        driver: r.driver,
        host: r.host,
        pid: r.pid,
        lastSeq: r.last_seq,
        startedAt: r.started_at,
      }
    );
  }

  listAgentIds(): string[] {
    return (this.statements.agentIds.all() as { id: string }[]).map((r) => r.id);
  }

  deleteAgent(id: string): void {
    this.statements.deleteAgent.run(id);
  }

  deleteJob(id: string): void {
    this.runsWrites++;
    this.db.transaction(() => {
      this.statements.deleteRuns.run(id);
      this.statements.deleteJob.run(id);
    })();
    this.rows.forget(id);
  }

  close(): void {
    this.db.close();
  }
}
