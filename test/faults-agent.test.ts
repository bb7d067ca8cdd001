/**
 * Faults of commands and agents, against the real processes.
 *
 * - A command killed by SIGKILL ends its run as error naming the signal (local: `kill -9` of the
 *   group its agent recorded); one that the kernel's out-of-memory killer ends says so (docker:
 *   a command allocating beyond its container's memory limit). The agent goes on.
 * - An agent that stops answering (SIGSTOP) loses its connection at the supervisor's heartbeat;
 *   reads and cancels answer with a reason instead of hanging; once it has stayed away for the
 *   grace (agentLostMs) the supervisor stops it, its run ends as error saying why, its commands
 *   are gone and its slot is free. A SIGCONT within the grace lets it carry on (every line once);
 *   after it, there is nothing left to resurrect.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectLogEvents } from './helpers/events.js';
import { processesUnder, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { pidAlive, waitFor } from './helpers/wait.js';

const FAULT_TEMPLATES = path.join(ROOT, 'test', 'fixtures', 'faults-templates');
const ended = (status: string) => status !== 'pending' && status !== 'running';
const linesOf = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

/** The one agent process of a local jobvisor (its working folder is its own, under agents/). */
function agentPid(jv: Jobvisor): number {
  const pids = processesUnder(path.join(jv.dataDir, 'agents'));
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

async function agentStates(admin: Client): Promise<string[]> {
  return ((await admin.get('/api/agents')).body.agents as { state: string }[]).map((a) => a.state);
}

describe('a command killed by SIGKILL, on the local target', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '1' } });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('ends its run as error naming the signal; the agent stays and the next run takes the slot', async () => {
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const agent = agentPid(jv);
    // The cmd's process group, as its agent recorded it in its own folder.
    const [agentDir] = readdirSync(path.join(jv.dataDir, 'agents'));
    const groups = path.join(jv.dataDir, 'agents', agentDir!, 'cmd-groups');
    await waitFor(() => readdirSync(groups).length === 1, { what: 'the cmd group to be recorded' });
    const cmd = Number(readdirSync(groups)[0]);
    expect(processesUnder(path.join(jv.dataDir, 'runs', 'admin', job.jobId))).toContain(cmd);
    process.kill(cmd, 'SIGKILL');

    const done = await admin.waitJob(job.jobId, (j) => ended(j.status), 20_000, 'the run to end');
    expect([done.status, done.reason]).toEqual(['error', 'the command was killed by SIGKILL']);
    expect(agentPid(jv)).toBe(agent);
    const next = await admin.run({ template: 'sleep', jobKey: 'next', parameters: { seconds: 0, lines: 1 } });
    const nextDone = await admin.waitJob(next.jobId, (j) => ended(j.status), 30_000, 'the next run');
    expect([nextDone.status, nextDone.logLines]).toEqual(['completed', 2]);
    expect(agentPid(jv)).toBe(agent);
  });
});

describe('a command out of memory, on a docker target with a memory limit', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    // Far above what the agent and its spawner use (about 90 MB together): when the limit is hit,
    // the hog is by far the largest process in the container, so the kernel's choice of whom to
    // end cannot fall on the agent (at 160 MiB the hog and the agent were of a size, and in CI
    // the agent was ended once).
    const limits = { sequential: { cpus: 1, memoryMb: 512 }, parallel: { cpus: 1, memoryMb: 512 } };
    const targets = [{ name: 'docker', driver: 'docker', stopTimeoutSeconds: 2, limits, engines: [{ name: 'local', socketPath: '/var/run/docker.sock', slots: { sequential: 1, parallel: 1 } }] }];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) }, extraTemplates: FAULT_TEMPLATES });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('ends its run as error, killed by SIGKILL and out of memory, naming the limit; the agent goes on', async () => {
    const job = await admin.run({ template: 'hog', parameters: { mb: 1024, seconds: 60 } });
    const done = await admin.waitJob(job.jobId, (j) => ended(j.status), 90_000, 'the hog to end');
    expect(done.status).toBe('error');
    expect(done.reason).toBe('the command was killed by SIGKILL: out of memory (its memory limit is 512 MiB)');
    const log = (await admin.get(`/api/jobs/${job.jobId}/log?offset=0&limit=65536`)).body.text as string;
    expect(log).toMatch(/^hog started\nallocated 16 MiB\n/);
    expect(log).not.toContain('hog holds');

    // The same agent (its container) runs the next run.
    const agents = (await admin.get('/api/agents')).body.agents as { agentId: string }[];
    const next = await admin.run({ template: 'sleep', jobKey: 'after-hog', parameters: { seconds: 0, lines: 1 } });
    const nextDone = await admin.waitJob(next.jobId, (j) => ended(j.status), 60_000, 'the next run');
    expect([nextDone.status, nextDone.logLines]).toEqual(['completed', 2]);
    expect(((await admin.get('/api/agents')).body.agents as { agentId: string }[]).map((a) => a.agentId)).toEqual(agents.map((a) => a.agentId));
  });
});

describe('a local agent that stops answering (SIGSTOP)', () => {
  const LOST_MS = 4000;
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    jv = await startJobvisor({
      env: { JOBVISOR_SLOTS_SEQUENTIAL: '1', JOBVISOR_HEARTBEAT_MS: '500', JOBVISOR_AGENT_LOST_MS: String(LOST_MS), JOBVISOR_AGENT_START_TIMEOUT_MS: '6000' },
    });
    admin = await jv.login();
  });
  afterAll(async () => {
    // An agent left stopped would not end at SIGTERM.
    for (const pid of processesUnder(path.join(jv.dataDir, 'agents'))) process.kill(pid, 'SIGCONT');
    await jv?.stop();
  });

  it('that gets SIGCONT within the grace carries on: its run completes with every line once', async () => {
    const lines = 60;
    const events = collectLogEvents(jv.serverUrl, admin.token as string);
    const job = await admin.run({ template: 'sleep', jobKey: 'resumed', parameters: { seconds: 6, lines } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 4, 20_000, 'running with some lines');
    const agent = agentPid(jv);
    process.kill(agent, 'SIGSTOP');
    await waitFor(async () => (await agentStates(admin)).includes('disconnected'), { timeoutMs: 5000, what: 'the heartbeat to drop the hung agent' });
    process.kill(agent, 'SIGCONT');

    const done = await admin.waitJob(job.jobId, (j) => ended(j.status), 30_000, 'the run to end');
    expect([done.status, done.reason, done.logLines]).toEqual(['completed', null, lines * 2]);
    await waitFor(() => events.lines.length >= lines * 2, { what: 'all log events' });
    events.stop();
    expect(events.lines.filter((l) => l.startsWith('line '))).toEqual(linesOf(lines));
    expect(agentPid(jv)).toBe(agent);
    expect(await agentStates(admin)).toEqual(['connected']);
  });

  it('is dropped at the heartbeat, reads answer with a reason, and after the grace its run ends as error, its cmd is gone and its slot free', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'hung', parameters: { seconds: 600, lines: 6000 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 4, 20_000, 'running with some lines');
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    const agent = agentPid(jv);
    process.kill(agent, 'SIGSTOP');
    const stoppedAt = Date.now();

    const read = await admin.get(`/api/jobs/${job.jobId}/log?offset=0&limit=1024`);
    expect(read.status).toBeGreaterThanOrEqual(500);
    expect(['OP_TIMEOUT', 'AGENT_LOST', 'AGENT_START_TIMEOUT']).toContain(read.body.error.code);
    expect(read.body.error.message).toMatch(/did not answer|did not reconnect/);
    expect(Date.now() - stoppedAt).toBeLessThan(20_000);

    const done = await admin.waitJob(job.jobId, (j) => ended(j.status), 30_000, 'the run to end');
    expect(done.status).toBe('error');
    expect(done.reason).toBe(
      `the agent running this job ended: its connection ended (it did not answer the heartbeat) and stayed down for ${LOST_MS / 1000} s; the supervisor stopped it (agent process was killed by SIGKILL)`,
    );
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: 'no process of the command' });
    expect(pidAlive(agent)).toBe(false);
    expect(() => process.kill(agent, 'SIGCONT')).toThrow(/ESRCH/);
    expect(await admin.job(job.jobId)).toMatchObject({ status: 'error', logLines: done.logLines, reason: done.reason });

    const next = await admin.run({ template: 'sleep', jobKey: 'after-hung', parameters: { seconds: 0, lines: 1 } });
    const nextDone = await admin.waitJob(next.jobId, (j) => ended(j.status), 30_000, 'a run on the freed slot');
    expect([nextDone.status, nextDone.logLines]).toEqual(['completed', 2]);
  });

  it('answers a cancel of its run within the wait, stopping the agent, instead of hanging', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'cancel-hung', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    const agent = agentPid(jv);
    process.kill(agent, 'SIGSTOP');
    const started = Date.now();
    const r = await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
    expect(r.status).toBe(200);
    expect(r.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user (the agent did not answer and was stopped)' });
    expect(Date.now() - started).toBeLessThan(20_000);
    await waitFor(() => !pidAlive(agent) && processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: 'the agent and its cmd to be gone' });
  });
});
