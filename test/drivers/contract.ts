/**
 * The driver contract: what every driver (local, docker, slurm, sge) promises. A driver's test
 * file calls `driverContract` with a way to build the driver; the suite runs a real agent
 * through it against a real agent websocket hub.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentHandle, Driver } from '../../src/drivers/driver.js';
import type { TargetLoginBody } from '../../src/shared/api.js';
import { createLogger } from '../../src/shared/logger.js';
import { AGENT_NODE, IoListResult, type Op, type Update } from '../../src/shared/protocol.js';
import { loadTemplates } from '../../src/shared/template.js';
import type { Size } from '../../src/shared/types.js';
import { ROOT } from '../helpers/jobvisor.js';
import { AgentHub } from '../../src/supervisor/agentHub.js';
import { waitFor } from '../helpers/wait.js';

export interface ContractSetup {
  driver: Driver;
  /** Where the example templates are, as the driver's agents see them. */
  templatesDir: string;
  /** For drivers that start agents with the user's login (clusters): a fresh one per start. */
  credentials?: () => TargetLoginBody;
  cleanup(): Promise<void>;
}

interface Seen {
  connected: Set<string>;
  hellos: Map<string, number>;
  updates: Map<string, Update[]>;
}

const SLEEP = loadTemplates(path.join(ROOT, 'templates')).get('sleep')!;

export function driverContract(name: string, setup: () => Promise<ContractSetup>, user = 'contract', size: Size = 'sequential'): void {
  // Job ids of this driver's own (cluster targets of several drivers may share a folder on one login node).
  const RUN = `${name}-contract-run`;
  const CANCEL = `${name}-contract-cancel`;
  describe(`driver contract: ${name}`, () => {
    let s: ContractSetup;
    let hub: AgentHub;
    let server: http.Server;
    let url: string;
    const tokens = new Map<string, string>();
    const seen: Seen = { connected: new Set(), hellos: new Map(), updates: new Map() };
    const handles: AgentHandle[] = [];
    let counter = 0;

    beforeAll(async () => {
      s = await setup();
      hub = new AgentHub(
        {
          authenticate: (id, token) => tokens.get(id) === token,
          onConnect: (id) => seen.connected.add(id),
          onHello: async (id, h) => void seen.hellos.set(id, h.runs.length),
          onUpdate: async (_id, u) => {
            const key = `${u.jobId}/${u.serial}`;
            seen.updates.set(key, [...(seen.updates.get(key) ?? []), u.update]);
          },
          onDisconnect: (id) => seen.connected.delete(id),
          onHeartbeat: () => undefined,
        },
        createLogger('contract', 'silent'),
        5_000,
      );
      server = http.createServer();
      server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await Promise.all(handles.map((h) => h.stop()));
      hub?.close();
      await new Promise((r) => server?.close(r));
      await s?.cleanup();
    });

    async function start(token = `token-${counter}`): Promise<{ id: string; handle: AgentHandle }> {
      const id = `${name}-${user}-${size}-${process.pid}-${counter++}`;
      tokens.set(id, token);
      const handle = await s.driver.startAgent({ agentId: id, token, user, size, supervisorUrl: url, freeSlots: () => 1, ...creds() });
      handles.push(handle);
      return { id, handle };
    }

    const creds = () => (s.credentials ? { credentials: s.credentials() } : {});

    function runOp(jobId: string, seconds: number, lines: number): Op {
      const runDir = s.driver.runDir(user, jobId);
      const dir = path.join(s.templatesDir, 'sleep');
      const op: Extract<Op, { kind: 'run' }> = {
        kind: 'run',
        jobId,
        serial: 1,
        runDir,
        argv: [AGENT_NODE, `${dir}/sleep.mjs`, `--seconds=${seconds}`, `--lines=${lines}`],
        parameters: { seconds, lines },
        progress: { kind: 'stdout', pattern: '^PROGRESS\\s+([0-9.eE+-]+)' },
        timeLimitSeconds: 60,
      };
      return s.driver.prepareRunOp?.(op, { jobId, serial: 1, template: SLEEP, size, options: null }) ?? op;
    }

    it('starts an agent that connects back with its id and token and says hello, in a pool with CPU slots', async () => {
      const { id, handle } = await start();
      await waitFor(() => seen.connected.has(id) && seen.hellos.has(id), { timeoutMs: 60_000, what: `${id} to connect` });
      expect(seen.hellos.get(id)).toBe(0);
      expect(handle.host).toBeTruthy();
      expect(s.driver.pools('sequential').get(handle.pool)).toBeGreaterThan(0);
      expect(s.driver.pools('parallel').get(handle.pool)).toBeGreaterThan(0);
      expect(s.driver.info.name).toBeTruthy();
    });

    it('runs a cmd in the run directory and reports started, progress, log lines and its end', async () => {
      const { id } = await start();
      await waitFor(() => seen.connected.has(id), { timeoutMs: 60_000, what: 'connect' });
      const r = (await hub.send(id, runOp(RUN, 0.3, 3))) as { pid: number; externalId?: string };
      // A run is known by its process, or by its scheduler's job id.
      expect(r.pid > 0 || /^[0-9]+$/.test(r.externalId ?? '')).toBe(true);
      await waitFor(() => (seen.updates.get(`${RUN}/1`) ?? []).some((u) => u.kind === 'exit'), { timeoutMs: 60_000, what: 'exit' });
      const ups = seen.updates.get(`${RUN}/1`)!;
      const started = ups.findIndex((u) => u.kind === 'started');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(ups.findIndex((u) => u.kind === 'log')).toBeGreaterThan(started);
      expect(ups.filter((u) => u.kind === 'log').flatMap((u) => (u.kind === 'log' ? u.lines : []))).toHaveLength(6);
      expect(ups.some((u) => u.kind === 'progress' && u.value === 1)).toBe(true);
      expect(ups.at(-1)).toMatchObject({ kind: 'exit', status: 'completed', exitCode: 0 });
      const list = IoListResult.parse(await hub.send(id, { kind: 'io', runDir: s.driver.runDir(user, RUN), action: 'list', path: '', offset: 0, length: 1 }));
      expect(list.files.map((f) => f.path)).toEqual(expect.arrayContaining(['done.txt', 'run.log', 'parameters.json']));
    });

    it('cancels a running cmd and reports it canceled with the reason', async () => {
      const { id } = await start();
      await waitFor(() => seen.connected.has(id), { timeoutMs: 60_000, what: 'connect' });
      await hub.send(id, runOp(CANCEL, 60, 60));
      const r = await hub.send(id, { kind: 'cancel', jobId: CANCEL, serial: 1, reason: 'test cancel' });
      expect(r).toEqual({ known: true });
      await waitFor(() => (seen.updates.get(`${CANCEL}/1`) ?? []).some((u) => u.kind === 'exit'), { timeoutMs: 30_000, what: 'exit' });
      expect(seen.updates.get(`${CANCEL}/1`)!.at(-1)).toMatchObject({ kind: 'exit', status: 'canceled', reason: 'test cancel' });
    });

    it('stops an agent (after the supervisor asks it to end): its exit settles and its connection ends', async () => {
      const { id, handle } = await start();
      await waitFor(() => seen.connected.has(id), { timeoutMs: 60_000, what: 'connect' });
      await hub.send(id, { kind: 'shutdown', reason: 'contract' });
      await handle.stop('contract');
      await handle.exited;
      await waitFor(() => !seen.connected.has(id), { what: 'disconnect' });
      expect(typeof (await handle.logTail())).toBe('string');
    });

    it('an agent the supervisor refuses ends itself (its start fails, its exit settles, or it never connects)', async () => {
      const id = `${name}-${user}-${size}-${process.pid}-refused`;
      tokens.set(id, 'right');
      const outcome = await s.driver
        .startAgent({ agentId: id, token: 'wrong', user, size, supervisorUrl: url, freeSlots: () => 1, ...creds() })
        .then(async (handle) => {
          handles.push(handle);
          // A driver that cannot watch the agent's process (it runs on another host) takes it for lost once it never connects.
          const wait = handle.lostAfterMs === undefined ? 30_000 : 5_000;
          const settled = await Promise.race([handle.exited.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still running'), wait))]);
          return settled === 'still running' && handle.lostAfterMs !== undefined && !seen.connected.has(id) ? 'never connected' : settled;
        })
        .catch(() => 'start failed');
      expect(outcome).not.toBe('still running');
      expect(seen.connected.has(id)).toBe(false);
    });
  });
}
