/**
 * The rule for requirements on targets with fixed labels: a requirement the target's
 * configuration does not meet is refused at request time (nothing stored); a run already queued
 * when a restart took the label away waits, saying why in `waitingFor`, instead of running
 * where it does not fit, and runs once the configuration has the label again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const withGpu = JSON.stringify([{ name: 'local', driver: 'local', labels: { gpu: 'a100' } }]);
const without = JSON.stringify([{ name: 'local', driver: 'local', labels: { os: 'linux' } }]);

describe('requirements of targets with fixed labels', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: withGpu, JOBVISOR_SLOTS_SEQUENTIAL: '1' } });
    admin = await jv.login();
  }, 60_000);

  afterAll(async () => {
    await jv?.stop();
  });

  it('refuses at once what the target does not have; nothing is stored', async () => {
    const r = await admin.post('/api/jobs', { template: 'sleep', jobKey: 'h100', requires: { gpu: 'h100' } });
    expect([r.status, r.body.error.code, r.body.error.message]).toEqual([400, 'REQUIREMENTS_UNMET', 'target local does not have gpu=h100 (its labels: gpu=a100)']);
    expect((await admin.get('/api/jobs')).body.jobs).toEqual([]);
  });

  it('a queued run whose label a restart took away waits, saying why, and runs once the label is back', async () => {
    const long = await admin.run({ template: 'sleep', jobKey: 'long', parameters: { seconds: 60, lines: 0 } });
    await admin.waitJob(long.jobId, (j) => j.status === 'running', 30_000, 'the long run');
    const gpu = await admin.run({ template: 'sleep', jobKey: 'gpu', requires: { gpu: 'a100' }, parameters: { seconds: 0.2, lines: 1 } });
    await admin.waitJob(gpu.jobId, (j) => j.waitingFor === 'waiting for a CPU slot', 30_000, 'the gpu run queued');

    await jv.stopSupervisor();
    await jv.startSupervisor({ JOBVISOR_TARGETS: without });
    const waiting = await admin.waitJob(gpu.jobId, (j) => /does not have/.test(j.waitingFor ?? ''), 30_000, 'the gpu run waiting for its label');
    expect(waiting.status).toBe('pending');
    expect(waiting.waitingFor).toBe("target local does not have gpu=a100 (its labels: os=linux); it waits for the target's configuration to have it");
    // The slot it waited for is free now: it still does not run where it does not fit.
    await admin.post(`/api/jobs/${long.jobId}/cancel`, {});
    await admin.waitJob(long.jobId, (j) => j.status === 'canceled', 30_000, 'the long run canceled');
    const other = await admin.run({ template: 'sleep', jobKey: 'other', parameters: { seconds: 0.2, lines: 1 } });
    await admin.waitJob(other.jobId, (j) => j.status === 'completed', 30_000, 'a run without requirements');
    expect((await admin.job(gpu.jobId)).status).toBe('pending');

    await jv.stopSupervisor();
    await jv.startSupervisor({ JOBVISOR_TARGETS: withGpu });
    await admin.waitJob(gpu.jobId, (j) => j.status === 'completed', 30_000, 'the gpu run, its label back');
  }, 120_000);
});
