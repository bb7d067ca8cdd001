import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

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
});
