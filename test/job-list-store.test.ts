/**
 * The job list's pages in the job database (store/jobPages.ts, through SqliteJobStore): order,
 * cursors, filters, counts, and the query plan of every filter (one index, read in order: no
 * temp b-tree, no scan of the table). A real SQLite database in memory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import { LIST_INDEXES, type JobFilter, type PageKey } from '../src/supervisor/store/jobPages.js';
import type { JobRow } from '../src/supervisor/store.js';
import type { Status } from '../src/shared/types.js';

const STATUSES: Status[] = ['completed', 'error', 'canceled', 'missing', 'purged'];
let store: SqliteJobStore | undefined;
afterEach(() => store?.close());

function row(i: number, over: Partial<JobRow> = {}): JobRow {
  return {
    id: `job${String(i).padStart(5, '0')}`, user: `u${i % 3}`, jobKey: `k${i}`, template: ['heat1d', 'pywave'][i % 2]!, target: ['local', 'docker', 'cluster'][i % 3]!,
    driver: 'local', size: 'sequential', serial: 1, status: STATUSES[i % STATUSES.length]!, parameters: { i }, options: null, progress: null, progressMessage: null,
    reason: null, queuedAt: 1_000_000 + Math.floor(i / 4) * 1000, startedAt: null, endedAt: null, updatedAt: 0, logLines: 0, agentId: null, pid: null, sent: false,
    externalId: null, logOffset: 0, scheduler: null, phase: null, phaseTimes: {}, inputs: [], cause: null, notify: null, callbackUrl: null, stale: null,
    runDir: null, files: null, bytes: null, ownerRole: null, scheduleId: null, scheduleName: null, ...over,
  } as JobRow;
}

function seeded(n: number): { store: SqliteJobStore; rows: JobRow[] } {
  store = new SqliteJobStore(':memory:', () => ({ target: 'local', driver: 'local', size: 'sequential' }));
  const rows = Array.from({ length: n }, (_, i) => row(i));
  for (const r of rows) store.saveJob(r);
  return { store, rows };
}

/** Every page of a list, by cursor: the ids in the order the pages gave them. */
function pageThrough(s: SqliteJobStore, f: JobFilter, limit: number): string[][] {
  const pages: string[][] = [];
  let after: PageKey | undefined;
  for (;;) {
    const { rows, more } = s.pageJobs({ ...f, after, limit });
    pages.push(rows.map((r) => r.id));
    if (!more) return pages;
    const last = rows.at(-1)!;
    after = { queuedAt: last.queuedAt, id: last.id };
  }
}

const expected = (rows: JobRow[], keep: (r: JobRow) => boolean) =>
  rows.filter(keep).sort((a, b) => b.queuedAt - a.queuedAt || (a.id < b.id ? 1 : -1)).map((r) => r.id);

describe('job list pages in the database', () => {
  it('gives every job once, newest run first (ties by id), in pages of the limit', () => {
    const { store: s, rows } = seeded(103);
    const pages = pageThrough(s, {}, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(pages.flat()).toEqual(expected(rows, () => true));
    // Four jobs share each queued time: the cursor (time, id) splits ties without losing one.
    expect(pageThrough(s, {}, 3).flat()).toEqual(expected(rows, () => true));
  });

  it('filters by user, one or several statuses, template, target and dates, each alone and together, and counts the same', () => {
    const { store: s, rows } = seeded(120);
    const filters: JobFilter[] = [
      { user: 'u1' },
      { statuses: ['error'] },
      { user: 'u2', statuses: ['completed', 'canceled', 'purged'] },
      { template: 'pywave' },
      { user: 'u0', template: 'heat1d', target: 'local' },
      { target: 'docker', statuses: ['error', 'missing'] },
      { since: 1_005_000, until: 1_020_000 },
      { user: 'u1', statuses: ['completed', 'error'], template: 'pywave', target: 'docker', since: 1_002_000, until: 1_025_000 },
      { user: 'nobody' },
    ];
    for (const f of filters) {
      const keep = (r: JobRow) =>
        (f.user === undefined || r.user === f.user) && (f.statuses === undefined || f.statuses.includes(r.status)) && (f.template === undefined || r.template === f.template) &&
        (f.target === undefined || r.target === f.target) && (f.since === undefined || r.queuedAt >= f.since) && (f.until === undefined || r.queuedAt < f.until);
      expect([f, pageThrough(s, f, 7).flat()]).toEqual([f, expected(rows, keep)]);
      expect([f, s.countMatching(f)]).toEqual([f, rows.filter(keep).length]);
    }
  });

  it('reads each page from one index in the list order: no temp b-tree, no scan of the table rows', () => {
    const { store: s } = seeded(50);
    const after = { queuedAt: 1_010_000, id: 'job00040' };
    const queries: JobFilter[] = [
      {}, { user: 'u1' }, { statuses: ['error'] }, { user: 'u1', statuses: ['error', 'completed'] }, { template: 'pywave' }, { user: 'u1', template: 'pywave' },
      { target: 'docker' }, { user: 'u1', target: 'docker' }, { since: 1, until: 2 }, { user: 'u1', since: 1 }, { statuses: ['completed'], template: 'heat1d', target: 'local', until: 5 },
    ];
    const names = new Set(LIST_INDEXES.map(([name]) => name));
    for (const f of queries) {
      for (const cursor of [undefined, after]) {
        const plan = s.explainPage({ ...f, after: cursor, limit: 100 });
        expect(plan.length).toBeGreaterThan(0);
        for (const line of plan) {
          expect([f, line]).not.toEqual([f, expect.stringMatching(/TEMP B-TREE/)]);
          const index = /USING (?:COVERING )?INDEX (\w+)/.exec(line)?.[1];
          expect([f, line, index !== undefined && names.has(index)]).toEqual([f, line, true]);
          // A list by user or status searches its index (equality prefix); the others read the order index from the cursor on.
          if (f.user !== undefined || f.statuses !== undefined) expect([f, line]).toEqual([f, expect.stringMatching(/^SEARCH /)]);
        }
      }
    }
  });

  it('keeps a cursor valid while new jobs arrive: no job seen twice or lost', () => {
    const { store: s, rows } = seeded(40);
    const seen: string[] = [];
    let after: PageKey | undefined;
    let next = 1000;
    for (;;) {
      const { rows: page, more } = s.pageJobs({ after, limit: 6 });
      seen.push(...page.map((r) => r.id));
      // New jobs between pages: newer than any (they go on top, not in the pages still to come).
      for (let k = 0; k < 2; k++) s.saveJob(row(next++, { queuedAt: 9_000_000 + next }));
      if (!more) break;
      after = { queuedAt: page.at(-1)!.queuedAt, id: page.at(-1)!.id };
    }
    expect(seen).toEqual(expected(rows, () => true));
  });
});
