/**
 * GET /api/jobs a page at a time, through the server, on a database seeded with a few hundred
 * jobs (rows written into the real schema while the supervisor is stopped): cursors, filters,
 * totals, limits, the owner's list and the admin's, bad input refused with a stable code.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import type { JobRow } from '../src/supervisor/store.js';
import type { Status } from '../src/shared/types.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const STATUSES: Status[] = ['completed', 'error', 'canceled'];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 24 * 3600_000;

function row(i: number): JobRow {
  const queuedAt = T0 + Math.floor(i / 3) * DAY; // three jobs per day: ties on the time
  return {
    id: `seed${String(i).padStart(12, '0')}`, user: ['alice', 'bob', 'carol'][i % 3]!, jobKey: `k${i}`, template: ['quick', 'sleep'][i % 2]!, target: ['local', 'docker'][(i >> 1) % 2]!,
    driver: 'local', size: 'sequential', serial: 1, status: STATUSES[(i >> 2) % 3]!, parameters: { i }, options: null, progress: null, progressMessage: null,
    reason: null, queuedAt, startedAt: queuedAt, endedAt: queuedAt + 1000, updatedAt: queuedAt + 1000, logLines: 0, agentId: null, pid: null, sent: true,
    externalId: null, logOffset: 0, scheduler: null, phase: null, phaseTimes: {}, inputs: [], cause: null, notify: null, callbackUrl: null, stale: null,
    runDir: null, files: 'purged', bytes: 0, ownerRole: 'user', scheduleId: null, scheduleName: null,
  } as JobRow;
}

describe('GET /api/jobs, paged', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  const rows = Array.from({ length: 330 }, (_, i) => row(i));
  const newestFirst = (list: JobRow[]) => [...list].sort((a, b) => b.queuedAt - a.queuedAt || (a.id < b.id ? 1 : -1)).map((r) => r.id);

  beforeAll(async () => {
    jv = await startJobvisor();
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
    await jv.stopSupervisor();
    const store = new SqliteJobStore(path.join(jv.dataDir, 'jobs.sqlite'), () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    store.saveBatch(rows.map((next) => ({ next })));
    store.close();
    await jv.startSupervisor();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  /** Every page of a list (query without cursor), following nextCursor; `between` runs after each page. */
  async function pages(client: Client, query: string, between?: () => Promise<void>) {
    const out: { jobs: { jobId: string; user: string }[]; nextCursor?: string; total?: number }[] = [];
    let cursor: string | undefined;
    do {
      const r = await client.get(`/api/jobs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect([query, r.status]).toEqual([query, 200]);
      out.push(r.body);
      cursor = r.body.nextCursor;
      await between?.();
    } while (cursor);
    return out;
  }

  it("gives the owner each of their jobs exactly once across pages while new jobs arrive, and never another user's", async () => {
    const fresh: string[] = [];
    const got = await pages(alice, 'limit=7', async () => {
      if (fresh.length < 3) fresh.push((await alice.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 }, jobKey: `fresh${fresh.length}` })).jobId);
    });
    const ids = got.flatMap((p) => p.jobs.map((j) => j.jobId));
    expect(got.every((p) => p.jobs.length <= 7)).toBe(true);
    expect(got.flatMap((p) => p.jobs.map((j) => j.user)).every((u) => u === 'alice')).toBe(true);
    // The first page came before any new job: the seeded ones, newest first, each once; the new ones are on top of a fresh first page.
    expect(ids).toEqual(newestFirst(rows.filter((r) => r.user === 'alice')));
    const first = (await alice.get('/api/jobs?limit=3')).body.jobs.map((j: { jobId: string }) => j.jobId);
    expect(first.sort()).toEqual([...fresh].sort());
    // The later tests compare whole lists before and after: the new runs must have ended first.
    for (const id of fresh) await alice.waitJob(id, (j) => j.status === 'completed', 30_000, `run ${id} to complete`);
  });

  it('gives an admin everyone\'s jobs with all=1, with the total on request only', async () => {
    const got = await pages(admin, 'all=1&limit=500&total=true');
    const users = new Set(got.flatMap((p) => p.jobs.map((j) => j.user)));
    expect([...users].sort()).toEqual(['alice', 'bob', 'carol']);
    expect(got[0]!.total).toBe(333);
    expect(got.flatMap((p) => p.jobs).length).toBe(333);
    expect((await admin.get('/api/jobs?all=1')).body.total).toBeUndefined();
    // Without all=1 an admin sees their own jobs: none here.
    expect((await admin.get('/api/jobs?total=1')).body).toEqual({ jobs: [], total: 0 });
    expect((await admin.get('/api/jobs?all=1')).body.jobs.length).toBe(100); // the default limit
  });

  it('filters by status (one or several), template, target and dates, with matching totals', async () => {
    const cases: [string, (r: JobRow) => boolean][] = [
      ['status=error', (r) => r.status === 'error'],
      ['status=error,canceled', (r) => r.status === 'error' || r.status === 'canceled'],
      ['status=error&status=completed', (r) => r.status === 'error' || r.status === 'completed'],
      ['template=sleep', (r) => r.template === 'sleep'],
      ['target=docker&status=canceled', (r) => r.target === 'docker' && r.status === 'canceled'],
      ['since=2026-02-01&until=2026-03-01T00:00:00Z', (r) => r.queuedAt >= Date.parse('2026-02-01') && r.queuedAt < Date.parse('2026-03-01')],
      ['template=quick&target=local&status=completed&since=2026-01-10T00:00:00%2B01:00', (r) => r.template === 'quick' && r.target === 'local' && r.status === 'completed' && r.queuedAt >= Date.parse('2026-01-10T00:00:00+01:00')],
    ];
    for (const [query, keep] of cases) {
      const got = await pages(bob, `${query}&limit=9&total=true`);
      const want = newestFirst(rows.filter((r) => r.user === 'bob' && keep(r)));
      expect([query, got.flatMap((p) => p.jobs.map((j) => j.jobId))]).toEqual([query, want]);
      expect([query, got[0]!.total]).toEqual([query, want.length]);
    }
  });

  it('refuses a bad limit, date, status or cursor with a stable code, and a cursor of another list', async () => {
    const before = JSON.stringify((await admin.get('/api/jobs?all=1&limit=500')).body);
    const aliceCursor = (await alice.get('/api/jobs?limit=2')).body.nextCursor as string;
    const cases: [Client, string, number, string][] = [
      [alice, 'limit=0', 400, 'INVALID_INPUT'],
      [alice, 'limit=501', 400, 'INVALID_INPUT'],
      [alice, 'limit=ten', 400, 'INVALID_INPUT'],
      [alice, 'limit=2.5', 400, 'INVALID_INPUT'],
      [alice, 'since=yesterday', 400, 'INVALID_INPUT'],
      [alice, 'until=2026-02-30', 400, 'INVALID_INPUT'],
      [alice, 'since=2026-02-01T10:00', 400, 'INVALID_INPUT'],
      [alice, 'status=done', 400, 'INVALID_INPUT'],
      [alice, 'status=', 400, 'INVALID_INPUT'],
      [alice, 'cursor=not-a-cursor', 400, 'BAD_CURSOR'],
      [alice, `cursor=${Buffer.from('[1,"x","y"]').toString('base64url')}`, 400, 'BAD_CURSOR'],
      [alice, `cursor=${aliceCursor}&status=error`, 400, 'BAD_CURSOR'],
      [bob, `cursor=${aliceCursor}`, 400, 'BAD_CURSOR'],
      [admin, `cursor=${aliceCursor}&all=1`, 400, 'BAD_CURSOR'],
      [bob, 'all=1', 403, 'FORBIDDEN'],
    ];
    for (const [client, query, status, code] of cases) {
      const r = await client.get(`/api/jobs?${query}`);
      expect([query, r.status, r.body.error?.code]).toEqual([query, status, code]);
    }
    expect((await alice.get(`/api/jobs?cursor=${aliceCursor}&limit=500`)).status).toBe(200);
    expect(JSON.stringify((await admin.get('/api/jobs?all=1&limit=500')).body)).toBe(before);
  });
});
