import { afterEach, describe, expect, it } from 'vitest';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('agents', () => {
  let jv: Jobvisor | undefined;
  afterEach(async () => {
    await jv?.stop();
    jv = undefined;
  });

  it('starts a user\'s agents early on begin-session and stops them once idle', async () => {
    jv = await startJobvisor({ env: { JOBVISOR_AGENT_IDLE_MS: '1500' } });
    const admin = await jv.login();
    const alice = await jv.addUser(admin, 'alice');
    const begun = await alice.post('/api/session', { sizes: ['sequential', 'parallel'] });
    expect(begun.status).toBe(200);
    expect(begun.body.agents).toEqual([
      { target: 'local', size: 'sequential', state: 'connected' },
      { target: 'local', size: 'parallel', state: 'connected' },
    ]);
    const listed = (await admin.get('/api/agents')).body.agents;
    expect(listed.map((a: any) => [a.user, a.target, a.size, a.driver, a.state]).sort()).toEqual([
      ['alice', 'local', 'parallel', 'local', 'connected'],
      ['alice', 'local', 'sequential', 'local', 'connected'],
    ]);
    expect(listed[0].lastHeartbeat).toBeGreaterThan(0);
    expect((await alice.get('/api/agents')).status).toBe(403);
    await waitFor(async () => (await admin.get('/api/agents')).body.agents.length === 0, { timeoutMs: 15_000, what: 'idle agents to stop' });
  });

  it('keeps an agent that runs a job past its idle time', async () => {
    jv = await startJobvisor({ env: { JOBVISOR_AGENT_IDLE_MS: '500' } });
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 2.5, lines: 5 } });
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'completed');
    expect(done.logLines).toBe(10);
  });

  it('tells the user when an agent does not connect in time', async () => {
    jv = await startJobvisor({ env: { JOBVISOR_AGENT_URL: 'ws://127.0.0.1:9', JOBVISOR_AGENT_START_TIMEOUT_MS: '1500' } });
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    const seen = await admin.waitJob(job.jobId, (j) => j.status !== 'pending' || j.waitingFor === 'starting agent', 10_000, 'starting agent');
    expect(seen.waitingFor === 'starting agent' || seen.status === 'error').toBe(true);
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 20_000, 'error');
    expect(ended.reason).toBe('agent did not connect within 1.5 s');
  });
});
