/**
 * Batch submission (`POST /api/jobs/batch`): a batch of 1000 runs with one bad entry is refused
 * whole, naming that entry, with nothing stored; the same batch fixed is stored and queued at
 * once and every run completes on this machine; the supervisor answers other requests while it
 * checks and stores the batch; job keys, uploads and quotas are checked for the batch as a whole.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { upload } from './helpers/inputs.js';

const N = 1000;
const BAD = 537;

interface Refusal {
  error: { code: string; message: string; details: { errors: { index: number; code: string; message: string }[] } };
}

describe('batch submission', () => {
  let jv: Jobvisor;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    jv = await startJobvisor({
      extraTemplates: path.join(ROOT, 'test', 'fixtures', 'batch-templates'),
      env: {
        JOBVISOR_SLOTS_SEQUENTIAL: '16',
        JOBVISOR_ROLES: JSON.stringify(['small']),
        JOBVISOR_QUOTAS: JSON.stringify({ user: { activeRuns: 2000 }, small: { activeRuns: 3, storedJobs: 5 } }),
        JOBVISOR_LOG_LEVEL: 'info',
      },
    });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    const created = await admin.post('/api/users', { username: 'bob', password: 'bob-password', role: 'small' });
    expect(created.status).toBe(201);
    bob = await jv.login('bob', 'bob-password');
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  const entries = (n: number, bad?: number) =>
    Array.from({ length: n }, (_, i) => ({ template: 'batch-echo', parameters: { n: i === bad ? -1 : i } }));

  it('refuses a batch of 1000 with one bad entry whole, naming it; then stores the fixed batch at once and all 1000 complete', async () => {
    const refused = await alice.post<Refusal>('/api/jobs/batch', { runs: entries(N, BAD) });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('BATCH_INVALID');
    expect(refused.body.error.details.errors).toEqual([{ index: BAD, code: 'INVALID_INPUT', message: expect.stringContaining('parameters of batch-echo') }]);
    expect((await alice.get('/api/jobs')).body.jobs).toEqual([]);

    // The supervisor keeps answering while it checks and stores the batch (its health is asked through the server).
    let busy = true;
    let slowest = 0;
    const probe = (async () => {
      while (busy) {
        const t = Date.now();
        expect((await alice.get('/api/health')).body.supervisor).toBe('up');
        slowest = Math.max(slowest, Date.now() - t);
      }
    })();
    const started = Date.now();
    const accepted = await alice.post<{ jobs: { index: number; jobId: string; jobKey: string; serial: number }[] }>('/api/jobs/batch', { runs: entries(N) });
    const answeredMs = Date.now() - started;
    busy = false;
    await probe;
    expect(accepted.status).toBe(200);
    const jobs = accepted.body.jobs;
    expect(jobs.map((j) => j.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(new Set(jobs.map((j) => j.jobId)).size).toBe(N);
    expect(new Set(jobs.map((j) => j.jobKey)).size).toBe(N);
    expect(jobs.every((j) => j.serial === 1)).toBe(true);
    console.log(`batch of ${N}: answered in ${answeredMs} ms; slowest health answer meanwhile ${slowest} ms`);
    expect(answeredMs).toBeLessThan(15_000);
    expect(slowest).toBeLessThan(2_000);

    // The list is paged: the count of completed jobs comes from its total, a job not completed from a filtered page.
    let completed = 0;
    let other: JobView | undefined;
    const t0 = Date.now();
    await waitFor(
      async () => {
        completed = (await alice.get<{ total: number }>('/api/jobs?status=completed&total=true&limit=1')).body.total;
        if (completed < N) other = (await alice.get<{ jobs: JobView[] }>('/api/jobs?status=pending,running,error,canceled&limit=1')).body.jobs[0];
        return completed === N;
      },
      { timeoutMs: 240_000, intervalMs: 1000, what: () => `all ${N} runs to complete (${completed} did; one other: ${JSON.stringify(other)})` },
    );
    console.log(`batch of ${N}: all completed ${Date.now() - t0} ms after the answer`);
    const one = await alice.job(jobs[BAD]!.jobId);
    expect(one.parameters).toEqual({ n: BAD });
    const out = await alice.get(`/api/jobs/${one.jobId}/files/out.txt`);
    expect(String(out.body).trim()).toBe(String(BAD));
  }, 300_000);

  it('refuses duplicate job keys, unknown templates and bad entries at every index; runs again an ended job of the same key', async () => {
    const bad = await alice.post<Refusal>('/api/jobs/batch', {
      runs: [
        { template: 'batch-echo', jobKey: 'k1' },
        { template: 'nope', jobKey: 'k2' },
        { template: 'batch-echo', jobKey: 'k1' },
        { template: 'batch-echo', jobKey: 'k3', size: 'parallel' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'UNKNOWN_TEMPLATE'],
      [2, 'DUPLICATE_JOB_KEY'],
      [3, 'SIZE_NOT_ALLOWED'],
    ]);
    expect((await alice.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs.filter((j) => j.jobKey.startsWith('k'))).toEqual([]);

    const shape = await alice.post<Refusal>('/api/jobs/batch', { runs: [{ template: 'batch-echo' }, { template: 5 }] });
    expect([shape.status, shape.body.error.code]).toEqual([400, 'BATCH_INVALID']);
    expect(shape.body.error.details.errors.map((e) => [e.index, e.code])).toEqual([[1, 'INVALID_INPUT']]);
    const tooMany = await alice.post('/api/jobs/batch', { runs: entries(N + 1) });
    expect([tooMany.status, tooMany.body.error.code]).toEqual([413, 'BATCH_TOO_LARGE']);
    const empty = await alice.post('/api/jobs/batch', { runs: [] });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'INVALID_INPUT']);

    const first = await alice.post('/api/jobs/batch', { runs: [{ template: 'batch-echo', jobKey: 'again', parameters: { n: 1 } }] });
    expect(first.status).toBe(200);
    const id = first.body.jobs[0].jobId as string;
    await alice.waitJob(id, (j) => j.status === 'completed', 60_000, 'first run');
    const second = await alice.post('/api/jobs/batch', { runs: [{ template: 'batch-echo', jobKey: 'again', parameters: { n: 2 } }] });
    expect(second.body.jobs).toEqual([{ index: 0, jobId: id, jobKey: 'again', serial: 2 }]);
    const done = await alice.waitJob(id, (j) => j.status === 'completed' && j.serial === 2, 60_000, 'second run');
    expect(done.history.map((r) => [r.serial, r.parameters])).toEqual([[1, { n: 1 }]]);
  }, 120_000);

  it('takes input files by upload id, each upload in one entry only', async () => {
    const a = (await upload(alice, 'a.txt', 'one\ntwo\n')).body.uploadId as string;
    const b = (await upload(alice, 'b.txt', 'x\n')).body.uploadId as string;
    const twice = await alice.post<Refusal>('/api/jobs/batch', {
      runs: [{ template: 'batch-lines', inputs: { data: a } }, { template: 'batch-lines', inputs: { data: a } }, { template: 'batch-lines' }, { template: 'batch-lines', inputs: { data: 'nope' } }],
    });
    expect(twice.body.error.details.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'UPLOAD_IN_USE'],
      [2, 'INPUT_REQUIRED'],
      [3, 'UPLOAD_NOT_FOUND'],
    ]);
    const ok = await alice.post('/api/jobs/batch', { runs: [a, b].map((data) => ({ template: 'batch-lines', inputs: { data } })) });
    expect(ok.status).toBe(200);
    const counts = [];
    for (const j of ok.body.jobs as { jobId: string }[]) {
      await alice.waitJob(j.jobId, (x) => x.status === 'completed', 60_000, 'a run with an input');
      counts.push(String((await alice.get(`/api/jobs/${j.jobId}/files/out.txt`)).body).trim());
    }
    expect(counts).toEqual(['2', '1']);
  }, 120_000);

  it('names each entry beyond the quotas; an active job key is refused, not replaced', async () => {
    const sleep = (i: number) => ({ template: 'sleep', jobKey: `s${i}`, parameters: { seconds: 60, lines: 0 } });
    const over = await bob.post<Refusal>('/api/jobs/batch', { runs: [0, 1, 2, 3, 4].map(sleep) });
    expect(over.status).toBe(400);
    expect(over.body.error.details.errors.map((e) => [e.index, e.code])).toEqual([
      [3, 'QUOTA_EXCEEDED'],
      [4, 'QUOTA_EXCEEDED'],
    ]);
    expect(over.body.error.details.errors[0]!.message).toContain('quotas.small.activeRuns = 3');
    expect((await bob.get('/api/jobs')).body.jobs).toEqual([]);

    const ok = await bob.post('/api/jobs/batch', { runs: [0, 1, 2].map(sleep) });
    expect(ok.status).toBe(200);
    const more = await bob.post<Refusal>('/api/jobs/batch', { runs: [sleep(1), sleep(7)] });
    expect(more.body.error.details.errors.map((e) => [e.index, e.code])).toEqual([
      [0, 'JOB_ACTIVE'],
      [1, 'QUOTA_EXCEEDED'],
    ]);
    const mine = (await bob.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs;
    expect(mine.map((j) => [j.jobKey, j.serial]).sort()).toEqual([['s0', 1], ['s1', 1], ['s2', 1]]);
    for (const j of ok.body.jobs as { jobId: string }[]) expect((await bob.post(`/api/jobs/${j.jobId}/cancel`, {})).status).toBe(200);

    // storedJobs 5: three kept, so of three new job keys the third is over.
    const stored = await bob.post<Refusal>('/api/jobs/batch', { runs: [4, 5, 6].map((i) => ({ template: 'batch-echo', jobKey: `e${i}` })) });
    expect(stored.body.error.details.errors.map((e) => [e.index, e.code, e.message.includes('quotas.small.storedJobs = 5')])).toEqual([[2, 'QUOTA_EXCEEDED', true]]);
  }, 60_000);
});
