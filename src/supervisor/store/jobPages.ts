/**
 * Pages of the job list (`GET /api/jobs`), read from the database a page at a time: newest run
 * first, by (queued_at, id), the order an index gives without sorting. One index per filter the
 * list takes, for the owner's list (user first) and the admin's list of everyone's jobs, each
 * ending in (queued_at, id), so a page is one range of one index read backwards from the
 * cursor and stops after `limit` rows, however many jobs the database holds.
 *
 * Which index drives a query is named (INDEXED BY), not left to the planner: (user,) status
 * when a status is asked for, else (user,) the order alone; template, target and the dates are
 * checked on the rows read, in order. Indexes of their own for template and target were
 * measured and left out: every index is rewritten by each job upsert (the store saves the whole
 * row), and 8 list indexes made an upsert 2.5-3x slower than none (4: about 1.8x). Several
 * statuses are one query per status (each an index range in order), merged here: SQLite would
 * otherwise read every matching row and sort them (a temp b-tree) to return the first page.
 */
import type Database from 'better-sqlite3';
import type { Status } from '../../shared/types.js';

/** What a list shows: jobs of one user (or everyone's), by status, template, target and when the current run was queued. */
export interface JobFilter {
  /** Only this user's jobs; everyone's when absent (admins). */
  user?: string;
  statuses?: Status[];
  template?: string;
  target?: string;
  /** queued_at >= since (ms). */
  since?: number;
  /** queued_at < until (ms). */
  until?: number;
}

/** Where a page starts: just after (older than) this job in the list's order. */
export interface PageKey {
  queuedAt: number;
  id: string;
}

export interface PageQuery extends JobFilter {
  after?: PageKey;
  limit: number;
}

/** The list's indexes: [name, columns]; `user_` ones serve the owner's list, the others the admin's. */
export const LIST_INDEXES: [string, string][] = [
  ['jobs_page_user', 'user, queued_at, id'],
  ['jobs_page_all', 'queued_at, id'],
  ['jobs_page_user_status', 'user, status, queued_at, id'],
  ['jobs_page_status', 'status, queued_at, id'],
];

export function addListIndexes(db: Database.Database): void {
  for (const [name, columns] of LIST_INDEXES) db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON jobs (${columns})`);
  // jobs_page_status starts with status: it serves what this older index did (the active jobs at start-up).
  db.exec('DROP INDEX IF EXISTS jobs_status');
}

type Params = Record<string, string | number>;

/** The WHERE clause and index of one query (one status at most). */
function plan(f: JobFilter & { status?: Status }, after: PageKey | undefined): { index: string; where: string; params: Params } {
  const conds: string[] = [];
  const params: Params = {};
  const eq = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    conds.push(`${column} = @${column}`);
    params[column] = value;
  };
  eq('user', f.user);
  eq('status', f.status);
  eq('template', f.template);
  eq('target', f.target);
  const index = f.user !== undefined ? (f.status !== undefined ? 'jobs_page_user_status' : 'jobs_page_user') : f.status !== undefined ? 'jobs_page_status' : 'jobs_page_all';
  if (f.since !== undefined) {
    conds.push('queued_at >= @since');
    params.since = f.since;
  }
  if (f.until !== undefined) {
    conds.push('queued_at < @until');
    params.until = f.until;
  }
  if (after) {
    // A row value: the rows strictly after the cursor in (queued_at DESC, id DESC) order.
    conds.push('(queued_at, id) < (@afterQueued, @afterId)');
    params.afterQueued = after.queuedAt;
    params.afterId = after.id;
  }
  return { index, where: conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : '', params };
}

const byListOrder = (a: { queued_at: number; id: string }, b: { queued_at: number; id: string }) => b.queued_at - a.queued_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class SqliteJobPages {
  /** Statements by SQL text: a handful of shapes (which filters are given), each prepared once. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    addListIndexes(db);
  }

  /** Up to `limit + 1` raw rows of the page (one more than asked says there is a next page). */
  page<Row extends { queued_at: number; id: string }>(q: PageQuery): Row[] {
    const n = q.limit + 1;
    const one = (status: Status | undefined) => {
      const p = plan({ ...q, status }, q.after);
      return this.prepare(`SELECT * FROM jobs INDEXED BY ${p.index} ${p.where} ORDER BY queued_at DESC, id DESC LIMIT ${n}`).all(p.params) as Row[];
    };
    const statuses = q.statuses ?? [];
    if (statuses.length <= 1) return one(statuses[0]);
    return statuses.flatMap((s) => one(s)).sort(byListOrder).slice(0, n);
  }

  /** How many jobs match the filter. */
  count(f: JobFilter): number {
    const one = (status: Status | undefined) => {
      const p = plan({ ...f, status }, undefined);
      return (this.prepare(`SELECT count(*) AS n FROM jobs INDEXED BY ${p.index} ${p.where}`).get(p.params) as { n: number }).n;
    };
    const statuses = f.statuses ?? [];
    return statuses.length <= 1 ? one(statuses[0]) : statuses.reduce((sum, s) => sum + one(s), 0);
  }

  /** The query plans (EXPLAIN QUERY PLAN details) of a page's queries: tests check that each reads one index, in order. */
  explain(q: PageQuery): string[] {
    const statuses = q.statuses && q.statuses.length > 0 ? q.statuses : [undefined];
    return statuses.flatMap((status) => {
      const p = plan({ ...q, status }, q.after);
      const rows = this.db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM jobs INDEXED BY ${p.index} ${p.where} ORDER BY queued_at DESC, id DESC LIMIT ${q.limit + 1}`).all(p.params) as { detail: string }[];
      return rows.map((r) => r.detail);
    });
  }

  private prepare(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}
