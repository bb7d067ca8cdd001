/**
 * `GET /api/jobs/:jobId` answers the job as it is now after each kind of change, although the
 * supervisor keeps its answer between changes (src/supervisor/jobAnswers.ts): a new run (serial,
 * history), an earlier run's files archived by retention, the run's own states, a cancel, a
 * delete. Each answer is compared with the job list's view of the same job, built anew.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('GET /api/jobs/:jobId after changes', () => {
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    const retention = { default: { archiveAfter: '2s', deleteAfter: '1d' }, roles: { admin: {} } };
    jv = await startJobvisor({ env: { JOBVISOR_RETENTION: JSON.stringify(retention), JOBVISOR_RETENTION_SWEEP_SECONDS: '3600' } });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
  });

  /** The job by GET, twice (the second from what the supervisor kept), checked against the list's view of it. */
  const job = async (jobId: string): Promise<JobView> => {
    const a = await alice.job(jobId);
    const b = await alice.job(jobId);
    expect(b).toEqual(a);
    const listed = (await alice.get<{ jobs: JobView[] }>('/api/jobs?limit=500')).body.jobs.find((j) => j.jobId === jobId);
    expect({ ...a, history: [] }).toEqual(listed);
    return a;
  };
  const sleepJob = (jobKey: string, seconds: number) => alice.run({ template: 'sleep', jobKey, parameters: { seconds, lines: 1 } });

  it('shows each new run, its history, a cancel, archived files of an earlier run and a delete', async () => {
    const first = await sleepJob('answers', 0);
    await alice.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'the first run to complete');
    const done = await job(first.jobId);
    expect([done.serial, done.status, done.history]).toEqual([1, 'completed', []]);

    await sleepJob('answers', 60);
    const running = await alice.waitJob(first.jobId, (j) => j.status === 'running', 30_000, 'the second run to run');
    expect(running.serial).toBe(2);
    const again = await job(first.jobId);
    expect(again.history.map((r) => [r.serial, r.status, r.files])).toEqual([[1, 'completed', 'kept']]);

    // Past archiveAfter, a sweep archives the earlier run and leaves the running one: only the history changes.
    await waitFor(() => Date.now() > (again.history[0]!.endedAt ?? 0) + 2500, { timeoutMs: 10_000, what: 'the first run to age' });
    expect((await (await jv.login()).post('/api/admin/retention/sweep')).status).toBe(200);
    const archived = await job(first.jobId);
    expect([archived.status, archived.history.map((r) => [r.serial, r.files])]).toEqual(['running', [[1, 'archived']]]);

    expect((await alice.post(`/api/jobs/${first.jobId}/cancel`, { serial: 2 })).status).toBe(200);
    await alice.waitJob(first.jobId, (j) => j.status === 'canceled', 30_000, 'the second run to be canceled');
    const canceled = await job(first.jobId);
    expect([canceled.serial, canceled.status, canceled.history.length]).toEqual([2, 'canceled', 1]);

    expect((await alice.request('DELETE', `/api/jobs/${first.jobId}`)).status).toBe(204);
    expect((await alice.get(`/api/jobs/${first.jobId}`)).body.error.code).toBe('JOB_NOT_FOUND');
  }, 120_000);
});
