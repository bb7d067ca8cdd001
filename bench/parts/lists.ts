/**
 * Part `lists` (issue 13, targets 4 and 8b): the job list with 100,000 jobs and 500,000 runs.
 *
 * Seeds a fresh data folder (the supervisor makes the schema, then rows go in with
 * better-sqlite3: lists/seed.ts), then measures through the server, one keep-alive connection,
 * one request at a time:
 * - start-up: spawn of the supervisor to its `supervisor listening` line, on that database;
 *   floor: the same on an empty database;
 * - owner list and admin list (`all=1`), first page, deep pages (cursors from a walk through
 *   the list) and with filters, p50/p99 of N requests each; floor: the same page read with the
 *   same SQL (store/jobPages.ts) directly with better-sqlite3 in this process, plus its JSON;
 * - supervisor + server RSS before, at the peak of and after paging through all the jobs.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client as HttpClient } from 'undici';
import { decodeCursor } from '../../src/supervisor/jobCursor.js';
import { SqliteJobPages, type JobFilter } from '../../src/supervisor/store/jobPages.js';
import type { Status } from '../../src/shared/types.js';
import { median, percentile, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { SEED_TARGETS_SETTING, SEED_USERS, seedJobs } from './lists/seed.js';
import { ADMIN_PASSWORD, BenchJobvisor } from './lists/launch.js';

const P99_TARGET_MS = 20;
const STARTUP_TARGET_S = 2;
const RSS_GROWTH_MB = 50;

interface Series {
  name: string;
  token: string;
  /** The query of every request but the cursor. */
  query: Record<string, string>;
  filter: JobFilter;
  limit: number;
  /** Cursors to cycle through (deep pages), or none (first page). */
  cursors: (string | undefined)[];
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

type Page = { jobs: { jobId: string }[]; nextCursor?: string; total?: number };

/** A GET, timed; once more if the kept-alive connection was closed meanwhile (the server closes idle ones after 5 s). */
async function getJson(http: HttpClient, token: string, pathAndQuery: string): Promise<{ ms: number; body: Page }> {
  try {
    return await getOnce(http, token, pathAndQuery);
  } catch (err) {
    if ((err as { code?: string }).code !== 'UND_ERR_SOCKET') throw err;
    return getOnce(http, token, pathAndQuery);
  }
}

async function getOnce(http: HttpClient, token: string, pathAndQuery: string): Promise<{ ms: number; body: Page }> {
  const t0 = performance.now();
  const res = await http.request({ method: 'GET', path: pathAndQuery, headers: { authorization: `Bearer ${token}` } });
  const text = await res.body.text();
  const ms = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`GET ${pathAndQuery}: ${res.statusCode} ${text.slice(0, 300)}`);
  return { ms, body: JSON.parse(text) as never };
}

const withQuery = (q: Record<string, string>, cursor: string | undefined) => `/api/jobs?${new URLSearchParams(cursor === undefined ? q : { ...q, cursor }).toString()}`;

/** Walks a list from its first page to its last (or `maxPages`): the cursors of its pages, and a callback per page. */
async function walk(http: HttpClient, token: string, q: Record<string, string>, maxPages: number, onPage?: (n: number) => void): Promise<{ cursors: string[]; jobs: number }> {
  const cursors: string[] = [];
  let cursor: string | undefined;
  let jobs = 0;
  for (let page = 0; page < maxPages; page++) {
    const { body } = await getJson(http, token, withQuery(q, cursor));
    jobs += body.jobs.length;
    onPage?.(page);
    if (!body.nextCursor) break;
    cursors.push((cursor = body.nextCursor));
  }
  return { cursors, jobs };
}

async function timeSeries(http: HttpClient, s: Series, requests: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < requests; i++) out.push((await getJson(http, s.token, withQuery(s.query, s.cursors[i % s.cursors.length]))).ms);
  return out;
}

function timeFloor(pages: SqliteJobPages, s: Series, requests: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < requests; i++) {
    const c = s.cursors[i % s.cursors.length];
    const t0 = performance.now();
    const rows = pages.page({ ...s.filter, after: c === undefined ? undefined : decodeCursor(c, s.filter), limit: s.limit });
    JSON.stringify(rows);
    out.push(performance.now() - t0);
  }
  return out;
}

async function timeStart(jv: BenchJobvisor): Promise<number> {
  const t0 = performance.now();
  await jv.startSupervisor();
  return (performance.now() - t0) / 1000;
}

export const listsPart: BenchPart = {
  name: 'lists',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const jobs = ctx.quick ? 10_000 : 100_000;
    const runsPerJob = 5;
    const requests = ctx.quick ? 40 : 200;
    const jv = new BenchJobvisor({ JOBVISOR_TARGETS: SEED_TARGETS_SETTING });
    let http: HttpClient | undefined;
    let floorDb: Database.Database | undefined;
    try {
      mkdirSync(jv.dataDir, { recursive: true });
      await jv.startSupervisor();
      await jv.stopSupervisor();
      const emptyStarts: number[] = [];
      for (let r = 0; r < ctx.repeats; r++) {
        emptyStarts.push(await timeStart(jv));
        await jv.stopSupervisor();
      }
      ctx.log(`seeding ${jobs} jobs, ${jobs * runsPerJob} runs`);
      const t0 = performance.now();
      const span = seedJobs(path.join(jv.dataDir, 'jobs.sqlite'), jobs, runsPerJob);
      ctx.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const starts: number[] = [];
      for (let r = 0; r < ctx.repeats; r++) {
        if (r > 0) await jv.stopSupervisor();
        starts.push(await timeStart(jv));
      }
      // The retention sweep at start goes through every run in the background: measured, then waited for.
      const sweepStart = performance.now();
      await jv.supervisor!.line('retention sweep done', 600_000);
      const sweepSeconds = (performance.now() - sweepStart) / 1000;
      await jv.startServer();
      const admin = await jv.login('admin', ADMIN_PASSWORD);
      const owner = await jv.addUser(admin, SEED_USERS[3]!);
      http = new HttpClient(jv.serverUrl, { keepAliveTimeout: 60_000 });
      const supPid = jv.supervisor?.child.pid;
      const srvPid = jv.server?.child.pid;
      const rss = () => rssMb(supPid) + rssMb(srvPid);

      // Warm both processes up (JIT, statements), then the RSS before paging.
      await walk(http, owner, { limit: '100' }, 5);
      await walk(http, admin, { all: '1', limit: '100' }, 5);
      const rssBefore = rss();
      let rssPeak = rssBefore;
      ctx.log('paging through every job as admin (limit 500)');
      const all = await walk(http, admin, { all: '1', limit: '500' }, Infinity, () => (rssPeak = Math.max(rssPeak, rss())));
      const rssAfter = rss();
      if (all.jobs !== jobs) throw new Error(`paging through the admin list gave ${all.jobs} jobs, not ${jobs}`);

      const since = new Date(span.first + (span.last - span.first) / 2).toISOString();
      const ownerFilter = { status: 'error,canceled', template: 'pywave' };
      const adminFilter = { all: '1', status: 'completed', target: 'big', since };
      const ownerWalk = await walk(http, owner, { limit: '100' }, Infinity);
      const ownerFilterWalk = await walk(http, owner, { ...ownerFilter, limit: '100' }, Infinity);
      const adminFilterWalk = await walk(http, admin, { ...adminFilter, limit: '100' }, 100);
      const user = SEED_USERS[3]!;
      const statuses = (s: string) => s.split(',') as Status[];
      const series: Series[] = [
        { name: 'owner list, first page', token: owner, query: {}, filter: { user }, limit: 100, cursors: [undefined] },
        { name: 'owner list, deep pages (cursor)', token: owner, query: {}, filter: { user }, limit: 100, cursors: ownerWalk.cursors },
        { name: 'owner list, status + template filter', token: owner, query: ownerFilter, filter: { user, statuses: statuses(ownerFilter.status), template: ownerFilter.template }, limit: 100, cursors: [undefined, ...ownerFilterWalk.cursors] },
        { name: 'admin list, first page', token: admin, query: { all: '1' }, filter: {}, limit: 100, cursors: [undefined] },
        { name: 'admin list, deep pages (cursor)', token: admin, query: { all: '1' }, filter: {}, limit: 100, cursors: all.cursors },
        { name: 'admin list, status + target + since', token: admin, query: adminFilter, filter: { statuses: ['completed'], target: 'big', since: Date.parse(since) }, limit: 100, cursors: [undefined, ...adminFilterWalk.cursors] },
        { name: 'owner list, total=true', token: owner, query: { total: 'true' }, filter: { user }, limit: 100, cursors: [undefined] },
      ];
      floorDb = new Database(path.join(jv.dataDir, 'jobs.sqlite'));
      const pages = new SqliteJobPages(floorDb);
      const rows: BenchRow[] = [];
      rows.push({
        measure: `4. start-up, ${jobs / 1000} k jobs / ${(jobs * runsPerJob) / 1000} k runs`,
        peer: `empty database: ${median(emptyStarts).toFixed(2)} s`,
        jobvisor: `${median(starts).toFixed(2)} s`,
        ratio: `${(median(starts) / STARTUP_TARGET_S).toFixed(2)} of the target`,
        target: `< ${STARTUP_TARGET_S} s`,
        pass: median(starts) < STARTUP_TARGET_S,
        note: `spawn to "supervisor listening", median of ${ctx.repeats}: ${starts.map((s) => s.toFixed(2)).join(', ')} s; the retention sweep of every run then took ${sweepSeconds.toFixed(1)} s more in the background`,
      });
      for (const s of series) {
        const p50s: number[] = [];
        const p99s: number[] = [];
        const f50s: number[] = [];
        const f99s: number[] = [];
        for (let r = 0; r < ctx.repeats; r++) {
          const t = await timeSeries(http, s, requests);
          p50s.push(percentile(t, 50));
          p99s.push(percentile(t, 99));
          const f = timeFloor(pages, s, requests);
          f50s.push(percentile(f, 50));
          f99s.push(percentile(f, 99));
        }
        const p99 = median(p99s);
        rows.push({
          measure: `4. ${s.name}`,
          peer: `SQL direct p50 ${median(f50s).toFixed(2)} ms, p99 ${median(f99s).toFixed(2)} ms`,
          jobvisor: `p50 ${median(p50s).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
          ratio: `p99 ${(p99 / P99_TARGET_MS).toFixed(2)} of the target`,
          target: `p99 < ${P99_TARGET_MS} ms`,
          pass: p99 < P99_TARGET_MS,
          note: `${requests} requests x ${ctx.repeats}, limit ${s.limit}, one keep-alive connection; ${s.cursors.length} distinct page(s)`,
        });
      }
      const growth = rssPeak - rssBefore;
      rows.push({
        measure: `8. RSS paging through ${jobs / 1000} k jobs`,
        peer: `before ${rssBefore.toFixed(0)} MB`,
        jobvisor: `peak ${rssPeak.toFixed(0)} MB, after ${rssAfter.toFixed(0)} MB`,
        ratio: `+${growth.toFixed(0)} MB`,
        target: `growth < ${RSS_GROWTH_MB} MB`,
        pass: growth < RSS_GROWTH_MB,
        note: `supervisor + server RSS, admin list, limit 500, ${all.cursors.length + 1} pages`,
      });
      return rows;
    } finally {
      floorDb?.close();
      await http?.close();
      await jv.stop();
    }
  },
};
