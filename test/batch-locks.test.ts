/**
 * Batches take the job keys' locks a single run takes: a batch that names a job key while a
 * single request holds it (a delete removing its files, a run replacing its run) waits for it
 * and then answers what it would have answered after it; single runs racing a batch on the same
 * keys never make two active runs of one key, and each answer is the one of some serial order.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

interface Refusal {
  error: { code: string; details?: { errors: { index: number; code: string }[] } };
}

describe('batches and the job keys lock', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'batch-templates'), env: { JOBVISOR_SLOTS_SEQUENTIAL: '16' } });
    admin = await jv.login();
  }, 60_000);

  afterAll(async () => {
    await jv?.stop();
  });

  it('waits for a delete of one of its job keys under way, then runs that key anew instead of calling it active', async () => {
    for (let round = 0; round < 4; round++) {
      const key = `del-${round}`;
      const first = await admin.run({ template: 'batch-echo', jobKey: key, parameters: { n: round } });
      await admin.waitJob(first.jobId, (j) => j.status === 'completed', 60_000, 'first run');
      const [deleted, batch] = await Promise.all([
        admin.request('DELETE', `/api/jobs/${first.jobId}`),
        admin.post<{ jobs: { jobId: string; jobKey: string; serial: number }[] } & Refusal>('/api/jobs/batch', { runs: [{ template: 'batch-echo', jobKey: key, parameters: { n: 7 } }] }),
      ]);
      expect(deleted.status).toBe(204);
      expect([batch.status, batch.body.error]).toEqual([200, undefined]);
      const entry = batch.body.jobs[0]!;
      expect(entry.jobKey).toBe(key);
      // After the delete: a new job (a new id, run 1), or, had the batch come first, the old job's run 2 deleted with it.
      if (entry.jobId === first.jobId) {
        expect(entry.serial).toBe(2);
        expect((await admin.get(`/api/jobs/${first.jobId}`)).status).toBe(404);
      } else {
        expect(entry.serial).toBe(1);
        const done = await admin.waitJob(entry.jobId, (j) => j.status === 'completed', 60_000, 'the batch run');
        expect(done.history).toEqual([]);
      }
    }
  }, 120_000);

  it('single runs racing a batch on the same keys: one active run per key, answers of one serial order', async () => {
    for (let round = 0; round < 3; round++) {
      const keys = [0, 1, 2, 3].map((i) => `race-${round}-${i}`);
      const sleep = (jobKey: string) => ({ template: 'sleep', jobKey, parameters: { seconds: 30, lines: 0 } });
      const [batch, ...singles] = await Promise.all([
        admin.post<{ jobs: { jobId: string; jobKey: string; serial: number }[] } & Refusal>('/api/jobs/batch', { runs: keys.map(sleep) }),
        ...keys.map((k) => admin.post<{ job: JobView }>('/api/jobs', sleep(k))),
      ]);
      for (const s of singles) expect(s.status).toBe(200);
      const listed = (await admin.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs.filter((j) => keys.includes(j.jobKey));
      const all = await Promise.all(listed.map((j) => admin.job(j.jobId)));
      // One job per key, its current run the one active run of that key.
      expect(all.map((j) => j.jobKey).sort()).toEqual([...keys].sort());
      for (const j of all) {
        expect(['pending', 'running']).toContain(j.status);
        expect(j.history.every((h) => h.status !== 'pending' && h.status !== 'running')).toBe(true);
      }
      if (batch.status === 200) {
        // The batch went first on every key (it holds them all at once): every single run replaced its run.
        for (const s of singles) expect(s.body.job.serial).toBe(2);
        for (const j of all) expect(j.history.map((h) => [h.serial, h.status])).toEqual([[1, 'canceled']]);
      } else {
        // Some single run went first: the batch names exactly those keys as active, and stored nothing.
        expect([batch.status, batch.body.error.code]).toEqual([400, 'BATCH_INVALID']);
        const refused = batch.body.error.details!.errors;
        expect(refused.length).toBeGreaterThan(0);
        for (const e of refused) expect(e.code).toBe('JOB_ACTIVE');
        for (const s of singles) expect(s.body.job.serial).toBe(1);
      }
      for (const j of all) await admin.post(`/api/jobs/${j.jobId}/cancel`, {});
    }
  }, 120_000);
});
