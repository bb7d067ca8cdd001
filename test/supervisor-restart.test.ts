import { afterEach, describe, expect, it } from 'vitest';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('a supervisor restart', () => {
  let jv: Jobvisor | undefined;
  afterEach(async () => {
    await jv?.stop();
    jv = undefined;
  });

  it('keeps every completed job, its history and its files after a restart while idle', async () => {
    jv = await startJobvisor();
    const admin = await jv.login();
    const first = await admin.run({ template: 'quick', parameters: { samples: 1000, batches: 1 } });
    await admin.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'first run');
    await admin.run({ template: 'quick', parameters: { samples: 2000, batches: 1 } });
    const second = await admin.waitJob(first.jobId, (j) => j.status === 'completed' && j.serial === 2, 30_000, 'second run');
    const other = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 3 } });
    await admin.waitJob(other.jobId, (j) => j.status === 'completed', 30_000, 'sleep run');

    await jv.stopSupervisor();
    const down = await admin.get('/api/jobs');
    expect(down.status).toBe(502);
    expect(down.body.error.code).toBe('SUPERVISOR_UNAVAILABLE');
    await jv.startSupervisor();

    const jobs = (await admin.get('/api/jobs')).body.jobs as { jobId: string; status: string }[];
    expect(jobs.map((j) => [j.jobId, j.status]).sort()).toEqual([[first.jobId, 'completed'], [other.jobId, 'completed']].sort());
    const after = await admin.job(first.jobId);
    expect(after).toMatchObject({ serial: 2, status: 'completed', logLines: second.logLines });
    expect(after.history.map((h) => h.serial)).toEqual([1]);
    const result = await admin.get(`/api/jobs/${first.jobId}/files/result.json`);
    expect(result.status).toBe(200);
    const log = await admin.get(`/api/jobs/${other.jobId}/log`);
    expect(log.body.text).toBe('line 1\nPROGRESS 0.333333\nline 2\nPROGRESS 0.666667\nline 3\nPROGRESS 1.000000\n');
  });

  it('takes back a run whose agent kept going while the supervisor was down', async () => {
    jv = await startJobvisor();
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 4, lines: 20 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines > 2, 20_000, 'running');
    await jv.stopSupervisor('SIGKILL');
    await jv.startSupervisor();
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'completed after restart');
    expect(done.logLines).toBe(40);
    expect(done.reason).toBeNull();
  });

  it('ends as error, with the reason, a run whose agent died while the supervisor was down', async () => {
    jv = await startJobvisor();
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 60, lines: 60 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const agents = (await admin.get('/api/agents')).body.agents as { agentId: string }[];
    expect(agents).toHaveLength(1);
    await jv.stopSupervisor('SIGKILL');
    const { processesUnder } = await import('./helpers/jobvisor.js');
    for (const pid of processesUnder(`${jv.dataDir}/agents`)) process.kill(pid, 'SIGKILL');
    await waitFor(() => processesUnder(`${jv!.dataDir}/agents`).length === 0, { what: 'agent gone' });
    await jv.startSupervisor();
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 20_000, 'error after restart');
    expect(ended.reason).toMatch(/agent ended while the supervisor was down/);
  });
});
