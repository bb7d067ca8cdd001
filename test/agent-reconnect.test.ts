import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jobvisor, type Client } from './helpers/jobvisor.js';
import { TcpProxy } from './helpers/tcpProxy.js';
import { collectLogEvents } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';

describe('an agent whose websocket is cut mid-run', () => {
  let jv: Jobvisor;
  let admin: Client;
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = new TcpProxy(() => Number(new URL(jv.supervisorUrl).port));
    const proxyPort = await proxy.listen();
    jv = new Jobvisor({ env: { JOBVISOR_AGENT_URL: `ws://127.0.0.1:${proxyPort}` } });
    await jv.start();
    admin = await jv.login();
  });
  afterAll(async () => {
    await proxy?.close();
    await jv?.stop();
  });

  it('keeps the cmd running and delivers every update exactly once after reconnecting', async () => {
    const lines = 60;
    const events = collectLogEvents(jv.serverUrl, admin.token as string);
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 4, lines } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 10, 20_000, 'running with some lines');

    proxy.cut();
    const agentState = async () => ((await admin.get('/api/agents')).body.agents as { state: string }[]).map((a) => a.state);
    await waitFor(async () => (await agentState()).includes('disconnected'), { what: 'the supervisor to see the agent gone' });
    const before = (await admin.job(job.jobId)).logLines;
    // While cut, the cmd goes on writing: its run log grows although no update can arrive.
    const runLog = path.join(jv.dataDir, 'runs', 'admin', job.jobId, '1', 'run.log');
    await waitFor(() => readFileSync(runLog, 'utf8').split('\n').length > before + 20, { what: 'the cmd to go on while cut' });
    expect((await admin.job(job.jobId)).logLines).toBe(before);
    proxy.restore();

    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'completed');
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(done.logLines).toBe(lines * 2);
    await waitFor(() => events.lines.length >= lines * 2, { what: 'all log events' });
    const logged = events.lines.filter((l) => l.startsWith('line '));
    expect(logged).toEqual(Array.from({ length: lines }, (_, i) => `line ${i + 1}`));
    events.stop();
  });
});
