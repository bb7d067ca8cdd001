/**
 * How the job store writes job rows (store/jobWrites.ts: the changed columns of a row it wrote
 * before, the whole row otherwise) and counts each user's jobs (store/jobCounts.ts: triggers).
 * What matters is what the database holds afterwards: read back through a fresh store on the
 * same file, and against `count(*)`. A real SQLite file per test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import type { JobRow } from '../src/supervisor/store.js';

let dir: string;
let file: string;
const open: SqliteJobStore[] = [];
const legacy = () => ({ target: 'local', driver: 'local', size: 'sequential' as const });
const openStore = () => {
  const s = new SqliteJobStore(file, legacy);
  open.push(s);
  return s;
};
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-store-writes-'));
  file = path.join(dir, 'jobs.db');
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function row(i: number, over: Partial<JobRow> = {}): JobRow {
  return {
    id: `job${i}`, user: `u${i % 2}`, jobKey: `k${i}`, template: 'true', target: 'local', driver: 'local', size: 'sequential', serial: 1, status: 'pending',
    parameters: { i }, options: null, progress: null, progressMessage: null, reason: null, queuedAt: 1000 + i, startedAt: null, endedAt: null, updatedAt: 1000 + i,
    logLines: 0, agentId: null, pid: null, sent: false, externalId: null, logOffset: 0, scheduler: null, phase: null, phaseTimes: {}, inputs: [], cause: null,
    notify: null, callbackUrl: null, stale: null, runDir: '/runs/x', files: null, bytes: null, ownerRole: 'user', scheduleId: null, scheduleName: null, ...over,
  };
}

const counted = (user: string) => (new Database(file, { readonly: true }).prepare('SELECT count(*) AS n FROM jobs WHERE user = ?').get(user) as { n: number }).n;

describe('job rows written by their changed columns', () => {
  it('stores every step of a run as a whole-row save would', () => {
    const store = openStore();
    store.saveAgent({ id: 'a1', tokenHash: 'h', user: 'u1', target: 'local', size: 'sequential', driver: 'local', host: 'h', pid: 1, lastSeq: 0, startedAt: 0 });
    let r = row(1);
    store.saveJob(r);
    r = { ...r, sent: true, agentId: 'a1', updatedAt: 2000 };
    store.saveJob(r);
    r = { ...r, status: 'running', pid: 42, startedAt: 2001, updatedAt: 2001 };
    store.saveJobAndSeq(r, 'a1', 1);
    r = { ...r, phase: 'running', phaseTimes: { running: 2002 }, updatedAt: 2002 };
    store.saveJobAndSeq(r, 'a1', 2);
    store.saveJobAndSeq(r, 'a1', 3); // nothing changed: the sequence number only
    r = { ...r, status: 'completed', reason: null, cause: 'user', progress: 1, endedAt: 2003, updatedAt: 2003 };
    store.saveJobAndSeq(r, 'a1', 4);
    expect(openStore().getJob('job1')).toEqual(r);
    expect(openStore().getAgent('a1')?.lastSeq).toBe(4);
  });

  it('a save that fails leaves what the next save writes whole', () => {
    const store = openStore();
    const r = row(1);
    store.saveJob(r);
    // A row that breaks a constraint (a second job with the same user and job key) is refused in its transaction...
    expect(() => store.saveBatch([{ next: { ...r, status: 'running', pid: 7 } }, { next: row(3, { user: r.user, jobKey: r.jobKey }) }])).toThrow();
    expect(openStore().getJob('job1')?.status).toBe('pending');
    // ...and the next save of the first row still writes what changed since the database's copy.
    const next = { ...r, status: 'running' as const, pid: 7, startedAt: 5 };
    store.saveJob(next);
    expect(openStore().getJob('job1')).toEqual(next);
  });

  it('writes a row again whole after it was deleted', () => {
    const store = openStore();
    const r = row(1);
    store.saveJob(r);
    store.deleteJob(r.id);
    store.saveJob({ ...r, status: 'running' });
    expect(openStore().getJob('job1')).toEqual({ ...r, status: 'running' });
  });

  it('a job row written by another store on the same file is not overwritten with an old copy', () => {
    const a = openStore();
    const r = row(1);
    a.saveJob(r);
    a.deleteJob(r.id);
    const b = openStore();
    b.saveJob({ ...r, reason: 'from b' });
    // `a` forgot the row at its delete: its next save is whole (an UPDATE of changed columns only would keep b's reason).
    a.saveJob({ ...r, status: 'canceled' });
    expect(openStore().getJob('job1')).toEqual({ ...r, status: 'canceled' });
  });
});

describe("each user's job count", () => {
  it('follows new jobs, batches, re-runs and deletes', () => {
    const store = openStore();
    for (let i = 0; i < 5; i++) store.saveJob(row(i));
    expect([store.countJobs('u0'), store.countJobs('u1'), store.countJobs('nobody')]).toEqual([3, 2, 0]);
    store.saveBatch([{ next: row(10) }, { next: row(11) }, { previous: row(1), next: row(1, { serial: 2 }) }]);
    store.archiveAndSave(row(2), row(2, { serial: 2 }));
    expect([store.countJobs('u0'), store.countJobs('u1')]).toEqual([4, 3]);
    store.deleteJob('job0');
    store.deleteJob('job0');
    expect([store.countJobs('u0'), store.countJobs('u1')]).toEqual([counted('u0'), counted('u1')]);
    expect(store.countJobs('u0')).toBe(3);
  });

  it('is counted again when the database is opened (rows written without the triggers)', () => {
    const store = openStore();
    for (let i = 0; i < 4; i++) store.saveJob(row(i));
    store.close();
    open.splice(0);
    const raw = new Database(file);
    raw.exec('DROP TRIGGER job_counts_insert');
    raw.exec("INSERT INTO jobs SELECT 'x' || id, user, 'x' || job_key, template, target, driver, size, serial, status, parameters, options, progress, progress_message, reason, queued_at, started_at, ended_at, updated_at, log_lines, agent_id, pid, sent, external_id, log_offset, scheduler, cause, notify, callback_url, stale, schedule_id, schedule_name, phase, phase_times, inputs, run_dir, files, bytes, owner_role FROM jobs");
    raw.close();
    const again = openStore();
    expect([again.countJobs('u0'), again.countJobs('u1')]).toEqual([4, 4]);
    again.saveJob(row(20));
    expect(again.countJobs('u0')).toBe(5);
  });
});
