import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('CPU slots of a target and size', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_SLOTS_PARALLEL: '2' }, extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates') });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('gives a run as many slots as its template asks for; the next run waits for one', async () => {
    const wide = await admin.run({ template: 'two-cores', parameters: { seconds: 2 } });
    await admin.waitJob(wide.jobId, (j) => j.status === 'running', 20_000, 'two-core run running');
    const narrow = await admin.run({ template: 'sleep', size: 'parallel', parameters: { seconds: 0, lines: 1 } });
    const waiting = await admin.waitJob(narrow.jobId, (j) => j.waitingFor === 'waiting for a CPU slot', 10_000, 'narrow run waiting');
    expect(waiting.queuePosition).toBe(1);
    const done = await admin.waitJob(narrow.jobId, (j) => j.status === 'completed', 30_000, 'narrow run completed');
    expect(done.startedAt!).toBeGreaterThanOrEqual((await admin.job(wide.jobId)).endedAt!);
  });

  it("serves users in turn: one user's burst does not keep another user's single run waiting behind it", async () => {
    const alice = await jv.addUser(admin, 'alice');
    const bob = await jv.addUser(admin, 'bob');
    // One sequential slot: alice queues six runs at once, then bob one.
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => alice.run({ template: 'sleep', jobKey: `burst-${i}`, parameters: { seconds: 1, lines: 1 } })));
    const views = () => Promise.all(burst.map((b) => alice.job(b.jobId)));
    await waitFor(async () => (await views()).filter((j) => j.waitingFor === 'waiting for a CPU slot').length === 5, { timeoutMs: 20_000, what: 'five of alice\'s runs to wait' });
    const single = await bob.run({ template: 'sleep', jobKey: 'single', parameters: { seconds: 0, lines: 1 } });
    const waiting = await bob.waitJob(single.jobId, (j) => j.queuePosition !== null || j.status !== 'pending', 20_000, "bob's run to wait for the slot");
    if (waiting.status === 'pending') expect(waiting.queuePosition).toBe(1); // bob's turn comes next, not after alice's five
    const done = await bob.waitJob(single.jobId, (j) => j.status === 'completed', 30_000, "bob's run to complete");
    const before = (await views()).filter((j) => j.startedAt !== null && j.startedAt < done.startedAt!);
    expect(before.length).toBe(1); // only the run alice had going when bob came
    await Promise.all(burst.map((b) => alice.waitJob(b.jobId, (j) => j.status === 'completed', 60_000, "alice's runs to complete")));
  });
});
