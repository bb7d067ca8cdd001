/**
 * A local agent killed outright (SIGKILL: no chance to end its commands) takes its commands with
 * it: none is left running with PID 1 as its parent, its run ends as error with the reason, and
 * the CPU slot it held is free for the next run.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesUnder, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('a local agent killed while its run\'s command runs', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '1' } });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('leaves no process of the command, ends the run as error with the reason, and frees its slot', async () => {
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    await waitFor(() => processesUnder(runDir).length > 0, { what: 'the command' });
    const agents = processesUnder(path.join(jv.dataDir, 'agents'));
    expect(agents).toHaveLength(1);
    process.kill(agents[0]!, 'SIGKILL');

    const ended = await admin.waitJob(job.jobId, (j) => j.status !== 'running', 20_000, 'the run to end');
    expect(ended.status).toBe('error');
    expect(ended.reason).toBe('the agent running this job ended: agent process was killed by SIGKILL');
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: () => `no process of the command (left: ${processesUnder(runDir).join(', ')})` });

    const next = await admin.run({ template: 'sleep', jobKey: 'next', parameters: { seconds: 0, lines: 1 } });
    const done = await admin.waitJob(next.jobId, (j) => j.status === 'completed', 30_000, 'the next run to take the slot and complete');
    expect(done.logLines).toBe(2);
  });

  it('leaves no process of the command when its agent died while the supervisor was down', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'down', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    await waitFor(() => processesUnder(runDir).length > 0, { what: 'the command' });
    await jv.stopSupervisor('SIGKILL');
    for (const pid of processesUnder(path.join(jv.dataDir, 'agents'))) process.kill(pid, 'SIGKILL');
    await waitFor(() => processesUnder(path.join(jv.dataDir, 'agents')).length === 0, { what: 'the agent to be gone' });
    await jv.startSupervisor();
    const ended = await admin.waitJob(job.jobId, (j) => j.status !== 'running', 20_000, 'the run to end after the restart');
    expect([ended.status, ended.reason]).toEqual(['error', 'its agent ended while the supervisor was down']);
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: () => `no process of the command (left: ${processesUnder(runDir).join(', ')})` });
  });
});
