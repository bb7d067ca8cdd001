/**
 * The supervisor checks what an agent says instead of trusting it: an update numbered past the
 * next one is refused, a run past its time limit is ended by the supervisor when its agent does
 * not end it, and a running run its connected agent no longer has is ended.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { AgentTap, connectAsAgent, type AgentSocket } from './helpers/agentTap.js';
import { Jobvisor, processesUnder, type Client } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('an agent the supervisor does not simply trust', () => {
  let jv: Jobvisor | undefined;
  let tap: AgentTap | undefined;
  const stopped: number[] = [];

  async function start(env: Record<string, string> = {}): Promise<{ jv: Jobvisor; tap: AgentTap; admin: Client }> {
    let supervisorUrl = '';
    const t = new AgentTap(() => Number(new URL(supervisorUrl).port));
    const port = await t.listen();
    const j = new Jobvisor({ env: { JOBVISOR_AGENT_URL: `ws://127.0.0.1:${port}`, ...env } });
    jv = j;
    tap = t;
    await j.start();
    supervisorUrl = j.supervisorUrl;
    return { jv: j, tap: t, admin: await j.login() };
  }

  afterEach(async () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await tap?.close();
    await jv?.stop();
    jv = undefined;
    tap = undefined;
  });

  const agentIds = async (admin: Client) => ((await admin.get('/api/agents')).body.agents as { agentId: string }[]).map((a) => a.agentId);
  const agentPids = (j: Jobvisor) => processesUnder(path.join(j.dataDir, 'agents'));
  function lastSeq(j: Jobvisor, agentId: string): number {
    const db = new Database(path.join(j.dataDir, 'jobs.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT last_seq FROM agents WHERE id = ?').get(agentId) as { last_seq: number }).last_seq;
    } finally {
      db.close();
    }
  }

  it('refuses an update numbered far ahead (AGENT_PROTOCOL, not applied, not acknowledged), so the real agent\'s later updates still count', async () => {
    const { jv, tap, admin } = await start();
    const job = await admin.run({ template: 'sleep', size: 'parallel', parameters: { seconds: 3, lines: 6 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines > 0, 20_000, 'running');
    const [agentId] = await agentIds(admin);
    const token = tap.tokens.get(agentId!);
    expect(token).toBeTruthy();

    // With the agent's token (read off the network), someone else connects as the agent while its own link is down.
    tap.cut();
    const forged: AgentSocket = await connectAsAgent(jv.supervisorUrl, agentId!, token!);
    const seq = lastSeq(jv, agentId!) + 1000;
    forged.send({ v: PROTOCOL_VERSION, type: 'update', seq, jobId: job.jobId, serial: job.serial, update: { kind: 'progress', value: 0.01, message: 'forged' } });
    const closed = await Promise.race([forged.closed, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
    forged.ws.terminate();
    tap.restore();

    // The real agent comes back; its run's later updates, and its end, are applied.
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'the real run to complete');
    expect(done.logLines).toBe(12);
    expect(done.progressMessage).not.toBe('forged');
    expect(closed?.code).toBe(1008);
    expect(closed?.reason).toMatch(/^AGENT_PROTOCOL: update \d+ skips ahead of \d+/);
    expect(forged.messages.filter((m) => m.type === 'ack')).toEqual([]);
  });

  it('ends a run past its time limit (plus a grace) when its agent does not: the agent stopped, its command gone, the slot free', async () => {
    const { jv, admin } = await start({ JOBVISOR_MAX_TIME_SEQUENTIAL: '3', JOBVISOR_RUN_END_GRACE_MS: '3000', JOBVISOR_HEARTBEAT_MS: '1000', JOBVISOR_AGENT_START_TIMEOUT_MS: '3000' });
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 20_000, 'running');
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    await waitFor(() => processesUnder(runDir).length > 0, { what: 'the command' });
    const [agentPid] = agentPids(jv);
    // The agent neither ends its run at the time limit nor answers anything.
    process.kill(agentPid!, 'SIGSTOP');
    stopped.push(agentPid!);

    const ended = await admin.waitJob(job.jobId, (j) => j.status !== 'running', 75_000, 'the supervisor to end the run');
    expect(ended.status).toBe('canceled');
    expect(ended.reason).toMatch(/^time limit of 3 s exceeded; the agent did not end the run within \d+ s of it/);
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 15_000, what: 'the command to be gone' });
    const next = await admin.run({ template: 'sleep', jobKey: 'next', parameters: { seconds: 0, lines: 1 } });
    await admin.waitJob(next.jobId, (j) => j.status === 'completed', 30_000, 'the next run to take the slot and complete');
  });

  it('asks each connected agent for its runs (one op per agent per interval) and ends a running run its agent no longer has', async () => {
    const { jv, tap, admin } = await start({ JOBVISOR_SLOTS_PARALLEL: '2', JOBVISOR_HEARTBEAT_MS: '1000' });
    const a = await admin.run({ template: 'sleep', size: 'parallel', jobKey: 'kept', parameters: { seconds: 600, lines: 0 } });
    const b = await admin.run({ template: 'sleep', size: 'parallel', jobKey: 'lost', parameters: { seconds: 600, lines: 0 } });
    await admin.waitJob(a.jobId, (j) => j.status === 'running', 20_000, 'first running');
    await admin.waitJob(b.jobId, (j) => j.status === 'running', 20_000, 'second running');
    const ids = await agentIds(admin);
    expect(ids).toHaveLength(1);
    const agentId = ids[0]!;
    const token = tap.tokens.get(agentId)!;

    // The real agent is frozen and its link cut; the test speaks for it: it says it has both runs, then forgets one.
    const [agentPid] = agentPids(jv);
    process.kill(agentPid!, 'SIGSTOP');
    stopped.push(agentPid!);
    tap.cut();
    await waitFor(async () => ((await admin.get('/api/agents')).body.agents as { state: string }[])[0]?.state === 'disconnected', { what: 'the agent to be disconnected' });
    const agent = await connectAsAgent(jv.supervisorUrl, agentId, token);
    const run = (j: { jobId: string; serial: number }) => ({ jobId: j.jobId, serial: j.serial, pid: 1, running: true });
    agent.send({ v: PROTOCOL_VERSION, type: 'hello', runs: [run(a), run(b)], pendingUpdates: 0 });
    let forget = false;
    const statusOps: { at: number; op: unknown }[] = [];
    agent.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type !== 'op') return;
      if (m.op.kind === 'runStatus') statusOps.push({ at: Date.now(), op: m.op });
      const result = m.op.kind === 'runStatus' ? { runs: forget ? [run(a)] : [run(a), run(b)] } : undefined;
      agent.send(result ? { v: PROTOCOL_VERSION, type: 'reply', opId: m.opId, ok: true, result } : { v: PROTOCOL_VERSION, type: 'reply', opId: m.opId, ok: false, error: { code: 'INTERNAL', message: 'not now' } });
    });

    await waitFor(() => statusOps.length >= 4, { timeoutMs: 15_000, what: () => `runStatus ops (got ${statusOps.length})` });
    // One op for the agent, about one per heartbeat: not one per run.
    expect(statusOps.every((s) => JSON.stringify(s.op) === '{"kind":"runStatus"}')).toBe(true);
    const span = statusOps.at(-1)!.at - statusOps[0]!.at;
    expect(span).toBeGreaterThanOrEqual((statusOps.length - 1) * 700);
    expect((await admin.job(b.jobId)).status).toBe('running');

    forget = true;
    const lost = await admin.waitJob(b.jobId, (j) => j.status !== 'running', 15_000, 'the forgotten run to end');
    expect(lost.status).toBe('error');
    expect(lost.reason).toBe('its agent no longer has this run (asked by the supervisor)');
    expect((await admin.job(a.jobId)).status).toBe('running');
    agent.ws.terminate();
  });
});
