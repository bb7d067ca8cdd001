/**
 * The ended runs the retention sweep goes through, a page of jobs at a time (by job id, in the
 * order of the primary keys: no sort of the whole database, and no list of every run in memory;
 * the issue 13 profile of a start-up with 500 k runs spent 8.6 s and most of its memory reading
 * them all at once). A page holds the ended runs, current and earlier, of up to `jobs` jobs
 * whose ids follow `after`, in (job id, serial) order: the pages, one after the other, give the
 * runs in the order the whole list had.
 */
import type Database from 'better-sqlite3';
import type { RunRecord } from '../store.js';
import { CURRENT_RUNS, EARLIER_RUNS, toRun, type RawRun } from './runColumns.js';

const ENDED = "status NOT IN ('pending', 'running', 'purged', 'missing') AND coalesce(files, 'kept') IN ('kept', 'archived')";

export class EndedRunPages {
  private readonly lastOfPage;
  private readonly runsOfPage;

  constructor(db: Database.Database) {
    this.lastOfPage = db.prepare('SELECT max(id) AS last FROM (SELECT id FROM jobs WHERE id > @after ORDER BY id LIMIT @jobs)');
    this.runsOfPage = db.prepare(
      `SELECT * FROM (${EARLIER_RUNS} WHERE r.job_id > @after AND r.job_id <= @last UNION ALL ${CURRENT_RUNS} WHERE id > @after AND id <= @last) WHERE ${ENDED} ORDER BY job_id, serial`,
    );
  }

  /** The ended runs of the next `jobs` jobs after job id `after` ('' for the first page), and the last job id of the page; undefined past the last job. */
  page(after: string, jobs: number): { runs: RunRecord[]; last: string } | undefined {
    const last = (this.lastOfPage.get({ after, jobs }) as { last: string | null }).last;
    if (last === null) return undefined;
    return { runs: (this.runsOfPage.all({ after, last }) as RawRun[]).map(toRun), last };
  }
}
