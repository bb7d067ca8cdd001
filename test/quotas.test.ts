/**
 * Per-user quotas (the `quotas` setting, per role): runs queued or running, jobs kept, open event
 * streams. A refusal is 429 QUOTA_EXCEEDED saying which limit and what to do; nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('quotas', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;

  beforeAll(async () => {
    jv = await startJobvisor({
      env: { JOBVISOR_QUOTAS: JSON.stringify({ user: { activeRuns: 2, storedJobs: 4, eventStreams: 2, analyses: 1 } }), JOBVISOR_SLOTS_SEQUENTIAL: '4' },
      extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates'),
    });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('refuses a run past the active runs a user may have, and a new job past the jobs a user may keep; re-running a kept job is fine', async () => {
    const long = { template: 'sleep', parameters: { seconds: 60, lines: 1 } };
    const a = await alice.run({ ...long, jobKey: 'a' });
    await alice.run({ ...long, jobKey: 'b' });
    const third = await alice.post('/api/jobs', { ...long, jobKey: 'c' });
    expect([third.status, third.body.error.code]).toEqual([429, 'QUOTA_EXCEEDED']);
    expect(third.body.error.message).toBe('you have 2 runs queued or running, the most a user may (quotas.user.activeRuns = 2); wait for one to end, or cancel one');
    expect((await alice.get('/api/jobs')).body.jobs.map((j: any) => j.jobKey).sort()).toEqual(['a', 'b']); // nothing changed
    // Re-running an active job replaces its run: within the quota.
    expect((await alice.post('/api/jobs', { ...long, jobKey: 'a' })).status).toBe(200);
    // The admin's quota is the admin role's.
    expect((await admin.post('/api/jobs', { ...long, jobKey: 'admin-1' })).status).toBe(200);
    await alice.post(`/api/jobs/${a.jobId}/cancel`, {});
    const slow = await alice.run({ template: 'slow-analysis', jobKey: 'slow' });
    await alice.waitJob(slow.jobId, (j) => j.status === 'completed', 30_000, 'the slow-analysis run');
    const c = await alice.run({ template: 'sleep', jobKey: 'c', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(c.jobId, (j) => j.status === 'completed', 30_000, 'c to complete'); // one active run left (b): room for one more
    const fourth = await alice.post('/api/jobs', { template: 'sleep', jobKey: 'd', parameters: { seconds: 0, lines: 1 } });
    expect([fourth.status, fourth.body.error.code]).toEqual([429, 'QUOTA_EXCEEDED']);
    expect(fourth.body.error.message).toMatch(/^you keep 4 jobs, the most a user may \(quotas\.user\.storedJobs = 4\)/);
    expect((await alice.post('/api/jobs', { template: 'sleep', jobKey: 'a', parameters: { seconds: 0, lines: 1 } })).status).toBe(200);
    for (const j of (await alice.get('/api/jobs')).body.jobs) if (j.status === 'running' || j.status === 'pending') await alice.post(`/api/jobs/${j.jobId}/cancel`, {});
  });

  it('refuses an event stream past the streams a user may hold open, and takes one again once another closes', async () => {
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`${jv.serverUrl}/api/events`, { headers: { authorization: `Bearer ${alice.token}` }, signal: abort.signal });
      return { res, close: () => abort.abort() };
    };
    const one = await open();
    const two = await open();
    expect([one.res.status, two.res.status]).toEqual([200, 200]);
    const three = await open();
    expect(three.res.status).toBe(429);
    expect(((await three.res.json()) as any).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'eventStreams', limit: 2 } });
    one.close();
    let again: Awaited<ReturnType<typeof open>> | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      again = await open();
      if (again.res.status === 200) break;
      await again.res.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(again?.res.status).toBe(200);
    two.close();
    again?.close();
  });

  it('runs at most the analyses a user may at once on one agent; more wait their turn within their own time limit', async () => {
    const job = (await alice.get('/api/jobs')).body.jobs.find((j: any) => j.jobKey === 'slow');
    const answers = await Promise.all([0, 1, 2].map(() => alice.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'slow' })));
    expect(answers.map((a) => [a.status, a.body.data])).toEqual([0, 1, 2].map(() => [200, { ok: true }]));
    const log = (await alice.get(`/api/jobs/${job.jobId}/files/analyses.log`)).body as string;
    const times = log.trim().split('\n').map((l) => l.split(' '));
    // One at a time: every start follows the previous end.
    expect(times.map(([what]) => what)).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
  });
});
