/**
 * An agent's updates are bounded in bytes: a run that prints more at once than the agent
 * websocket takes is sent in several updates, a very long line is cut with a marker, and an
 * update the supervisor keeps refusing is not resent forever.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';
import { MAX_WS_PAYLOAD, type AgentMessage, type Op } from '../src/shared/protocol.js';
import { AgentHub } from '../src/supervisor/agentHub.js';
import { cutLine, MAX_LOG_LINE_BYTES, MAX_UPDATE_BYTES, Outbox } from '../src/agent/outbox.js';
import { collectLogEvents } from './helpers/events.js';
import { processesUnder, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');
const pad = (text: string, width: number, fill: string) => text + fill.repeat(Math.max(0, width - text.length));

describe('a run that prints more at once than the agent websocket takes', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: FIXTURES });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('delivers every line once (a very long one cut, with a marker), answers log reads while it runs, and does not lock its agent in a reconnect loop', async () => {
    const events = collectLogEvents(jv.serverUrl, admin.token as string);
    await waitFor(() => events.types.includes('hello'), { what: 'the event stream to open' });
    const lines = 4000;
    const job = await admin.run({ template: 'chatty', parameters: { lines, width: 2200, longLine: 300_000, seconds: 5 } });

    // 4,000 lines of 2.2 KB and one of 300 KB, all in one write: about 9 MB within one flush.
    const flooded = await admin.waitJob(job.jobId, (j) => j.logLines >= lines + 1, 30_000, 'the flood of lines to arrive');
    expect(flooded.status).toBe('running');
    const log = await admin.get(`/api/jobs/${job.jobId}/log?offset=0&limit=4096`);
    expect(log.status).toBe(200);
    expect(log.body.text.startsWith('chatty line 1 xxx')).toBe(true);

    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'the chatty run to complete');
    expect(done.logLines).toBe(lines + 2);
    await waitFor(() => events.lines.length >= lines + 2, { what: 'every log line as an event' });
    const marker = ' … [line cut: 300000 bytes]';
    const expected = [
      ...Array.from({ length: lines }, (_, i) => pad(`chatty line ${i + 1} `, 2200, 'x')),
      pad('long line ', 16 * 1024 - Buffer.byteLength(marker), 'y') + marker,
      'chatty done',
    ];
    expect(events.lines.length).toBe(expected.length);
    expect(events.lines.findIndex((l, i) => l !== expected[i])).toBe(-1);
    events.stop();

    // The agent connected once and stayed connected (at most one reconnection is tolerated).
    const connected = jv.logs().split('\n').filter((l) => l.includes('"msg":"agent connected"')).length;
    expect(connected).toBeGreaterThanOrEqual(1);
    expect(connected).toBeLessThanOrEqual(2);
  });
});

describe("the agent's outbox", () => {
  it('cuts a line longer than the cap to the cap, marker included, without splitting a character', () => {
    expect(cutLine('short')).toBe('short');
    const long = 'é'.repeat(20_000);
    const cut = cutLine(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    expect(cut.endsWith(' … [line cut: 40000 bytes]')).toBe(true);
    expect(cut).not.toContain('\ufffd');
    expect(cutLine(cut)).toBe(cut);
  });

  it('splits a log update into messages that each stay within the byte limit, keeping every line once and in order', () => {
    const outbox = new Outbox();
    const lines = Array.from({ length: 3000 }, (_, i) => pad(`line ${i} `, 2200, 'x'));
    const msgs = outbox.add('job1', 1, { kind: 'log', lines });
    expect(msgs.length).toBeGreaterThan(1);
    for (const m of msgs) expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(MAX_UPDATE_BYTES);
    expect(MAX_UPDATE_BYTES).toBeLessThanOrEqual(MAX_WS_PAYLOAD / 4);
    expect(msgs.flatMap((m) => (m.update.kind === 'log' ? m.update.lines : []))).toEqual(lines);
    expect(msgs.map((m) => m.seq)).toEqual(msgs.map((_, i) => i + 1));
    expect(outbox.size).toBe(msgs.length);
  });

  it('gives each message as the JSON it measured, and a replaced head as its new JSON', () => {
    const outbox = new Outbox();
    const msgs = [...outbox.add('job1', 1, { kind: 'started', pid: 42 }), ...outbox.add('job1', 1, { kind: 'log', lines: ['a', 'b'] })];
    for (const m of msgs) expect(outbox.textOf(m)).toBe(JSON.stringify(m));
    const head = outbox.replaceHead({ kind: 'exit', status: 'error', exitCode: null, signal: null, reason: 'refused' });
    expect(head && JSON.parse(outbox.textOf(head))).toEqual({ ...msgs[0], update: { kind: 'exit', status: 'error', exitCode: null, signal: null, reason: 'refused' } });
  });
});

describe('an update the supervisor keeps refusing', () => {
  let server: http.Server;
  let hub: AgentHub;
  let url: string;
  let agent: ChildProcess | undefined;
  let dir: string;
  let connections = 0;
  const refused: number[] = [];
  const applied: Extract<AgentMessage, { type: 'update' }>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-refused-'));
    hub = new AgentHub(
      {
        authenticate: (id, token) => id === 'refused-agent' && token === 'refused-token',
        onConnect: () => void connections++,
        onHello: async () => undefined,
        onUpdate: async (_id, u) => {
          if (u.update.kind === 'log' && u.update.lines.some((l) => l.includes('poison'))) {
            refused.push(u.seq);
            throw new Error('this test refuses the update');
          }
          applied.push(u);
        },
        onDisconnect: () => undefined,
        onHeartbeat: () => undefined,
      },
      createLogger('test', 'silent'),
      60_000,
    );
    server = http.createServer();
    server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    agent?.kill('SIGKILL');
    hub?.close();
    await new Promise((r) => server?.close(r));
    for (const pid of processesUnder(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('is sent again a bounded number of times, then reported as its run\'s error (the run is ended), and the agent goes on', async () => {
    agent = spawn(process.execPath, [path.join(ROOT, 'dist', 'jobvisor-agent.mjs')], {
      cwd: dir,
      env: { PATH: process.env.PATH, JOBVISOR_AGENT_ID: 'refused-agent', JOBVISOR_AGENT_URL: url, JOBVISOR_LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    agent.stdin?.end('refused-token\n');
    await waitFor(() => hub.isConnected('refused-agent'), { what: 'the agent to connect' });

    const runDir = path.join(dir, 'run');
    const op: Op = {
      kind: 'run',
      jobId: 'poisoned',
      serial: 1,
      runDir,
      argv: [process.execPath, '-e', "console.log('a poison line'); setInterval(() => {}, 1000)"],
      parameters: {},
      progress: { kind: 'none' },
      timeLimitSeconds: 120,
    };
    await hub.send('refused-agent', op);
    const exit = () => applied.find((u) => u.jobId === 'poisoned' && u.update.kind === 'exit');
    await waitFor(() => exit() !== undefined, { timeoutMs: 30_000, what: () => `the refused update to be reported (refused ${refused.length} times so far; applied ${JSON.stringify(applied.map((u) => [u.seq, u.update.kind]))})` });

    const first = refused[0];
    expect(refused.every((s) => s === first)).toBe(true);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeLessThanOrEqual(10);
    expect(exit()).toMatchObject({ seq: first, update: { kind: 'exit', status: 'error' } });
    const reason = (exit()?.update as { reason?: string }).reason ?? '';
    expect(reason).toMatch(new RegExp(`update ${first} \\(log, \\d+ bytes\\) could not be delivered: the supervisor closed ${refused.length} connections in a row without acknowledging it`));
    // The run whose update could not be delivered is ended; the agent stays and serves.
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: 'the run\'s command to end' });
    const before = connections;
    let status: unknown;
    await waitFor(async () => JSON.stringify((status = await hub.send('refused-agent', { kind: 'runStatus' }))) === '{"runs":[]}', { what: () => `the agent to forget the run (runStatus: ${JSON.stringify(status)})` });
    expect(connections).toBe(before);
    expect(hub.isConnected('refused-agent')).toBe(true);
  });
});
