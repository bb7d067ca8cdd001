/**
 * The process engine starts its cmds from a spawner process of its own (cmds/spawner.ts), and
 * the agent's connection writes what it sends in one turn as one socket write. Real processes
 * and a real websocket: the cmds' parent is the spawner, their groups are recorded and ended as
 * before, a spawner killed outright fails its runs with the reason and ends their groups, the
 * next run gets a new spawner; several messages sent at once arrive in order, in one write.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { CmdGroups } from '../src/agent/cmdGroups.js';
import { Connection } from '../src/agent/connection.js';
import { ProcessEngine } from '../src/agent/engines/process.js';
import { SMALL_FOLDER_ENTRIES } from '../src/cmds/files.js';
import { spawnerMain, type SpawnerReply, type SpawnerRequest } from '../src/cmds/spawnerProcess.js';
import { createLogger } from '../src/shared/logger.js';
import { PROTOCOL_VERSION, type AgentMessage, type Update } from '../src/shared/protocol.js';
import { pidAlive, waitFor } from './helpers/wait.js';

const log = createLogger('test', 'silent');
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function engine() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-spawner-'));
  const updates: { jobId: string; update: Update }[] = [];
  let seq = 0;
  const groupsDir = path.join(root, 'groups');
  const processes = new ProcessEngine({
    push: (jobId, _serial, update) => {
      updates.push({ jobId, update });
      return ++seq;
    },
    env: { PATH: process.env.PATH },
    groups: new CmdGroups(groupsDir, log),
    log,
    flushMs: 10,
  });
  cleanups.push(async () => {
    await processes.stop('test ends');
    rmSync(root, { recursive: true, force: true });
  });
  const start = (jobId: string, script: string) =>
    processes.start({ kind: 'run', jobId, serial: 1, runDir: path.join(root, jobId), argv: ['sh', '-c', script], parameters: {}, progress: { kind: 'none' }, timeLimitSeconds: 30 });
  const exitOf = (jobId: string) => updates.find((u) => u.jobId === jobId && u.update.kind === 'exit')?.update as Extract<Update, { kind: 'exit' }> | undefined;
  const linesOf = (jobId: string) => updates.flatMap((u) => (u.jobId === jobId && u.update.kind === 'log' ? u.update.lines : []));
  return { processes, start, exitOf, linesOf, groupsDir, root };
}

/** Gone, or a zombie (killed, waiting for whoever adopted it to reap it). */
function gone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The parent pid of a process (field 4 of /proc/<pid>/stat). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('the process engine\'s spawner', () => {
  it('starts cmds as its own children, in their own groups, recorded while they run; output and end as before', async () => {
    const e = engine();
    const { pid } = await e.start('a', 'echo out; echo err >&2; sleep 0.3; echo last');
    const spawner = e.processes.spawner.pid;
    expect(spawner).toBeDefined();
    expect(spawner).not.toBe(process.pid);
    expect(parentOf(pid)).toBe(spawner);
    // Its own process group (pgid = its pid), recorded before the start was said.
    expect(readdirSync(e.groupsDir)).toEqual([String(pid)]);
    // Out of memory, the kernel picks the cmd before the agent and the spawner.
    expect(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('500');
    await waitFor(() => e.exitOf('a') !== undefined, { timeoutMs: 10_000, what: 'the run to end' });
    expect(e.exitOf('a')).toMatchObject({ status: 'completed', exitCode: 0 });
    expect([...e.linesOf('a')].sort()).toEqual(['err', 'last', 'out']);
    expect(readFileSync(path.join(e.root, 'a', 'run.log'), 'utf8').split('\n').sort()).toEqual(['', 'err', 'last', 'out']);
    // The exit says the folder's size (run.log and parameters.json), measured after the last line.
    const files = readdirSync(path.join(e.root, 'a'));
    expect(e.exitOf('a')?.bytes).toBe(files.reduce((n, f) => n + statSync(path.join(e.root, 'a', f)).size, 0));
    await waitFor(() => readdirSync(e.groupsDir).length === 0, { timeoutMs: 5000, what: 'the group record to go' });
    // One spawner for every cmd.
    await e.start('b', 'true');
    expect(e.processes.spawner.pid).toBe(spawner);
    await waitFor(() => e.exitOf('b') !== undefined, { timeoutMs: 10_000, what: 'the second run to end' });
  });

  it('leaves a big run folder\'s size to the supervisor\'s size op: no long walk at the end', async () => {
    const e = engine();
    await e.start('many', `mkdir d; for i in $(seq 1 ${SMALL_FOLDER_ENTRIES}); do : > d/f$i; done`);
    await e.start('few', 'mkdir d; : > d/f; printf 12345 > g');
    await waitFor(() => e.exitOf('many') !== undefined && e.exitOf('few') !== undefined, { timeoutMs: 10_000, what: 'the runs to end' });
    expect(e.exitOf('many')).toMatchObject({ status: 'completed' });
    expect(e.exitOf('many')?.bytes).toBeUndefined();
    expect(e.exitOf('few')?.bytes).toBe(5 + statSync(path.join(e.root, 'few', 'parameters.json')).size);
  });

  it('ends a canceled run\'s whole process group, and says why', async () => {
    const e = engine();
    const { pid } = await e.start('c', 'sleep 30 & echo child $!; wait');
    await waitFor(() => e.linesOf('c').length > 0, { timeoutMs: 10_000, what: 'the child line' });
    const child = Number(e.linesOf('c')[0]?.split(' ')[1]);
    expect(await e.processes.cancel('c', 1, 'asked by a test')).toEqual({ known: true });
    expect(e.exitOf('c')).toMatchObject({ status: 'canceled', reason: 'asked by a test' });
    await waitFor(() => gone(pid) && gone(child), { timeoutMs: 10_000, what: 'no process of the group' });
  });

  it('refuses a run whose program does not exist, with the reason', async () => {
    const e = engine();
    await expect(e.processes.start({ kind: 'run', jobId: 'd', serial: 1, runDir: path.join(e.root, 'd'), argv: ['/no/such/program'], parameters: {}, progress: { kind: 'none' }, timeLimitSeconds: 30 })).rejects.toThrow(/cannot start \/no\/such\/program: .*ENOENT/);
    expect(e.processes.has('d', 1)).toBe(false);
  });

  it('fails the runs of a spawner killed outright with the reason, ends their groups, and starts a new one for the next run', async () => {
    const e = engine();
    const { pid } = await e.start('e', 'sleep 30 & wait');
    const first = e.processes.spawner.pid as number;
    process.kill(first, 'SIGKILL');
    await waitFor(() => e.exitOf('e') !== undefined, { timeoutMs: 10_000, what: 'the run to end' });
    expect(e.exitOf('e')).toMatchObject({ status: 'error', exitCode: null, signal: null });
    expect(e.exitOf('e')?.reason).toBe("the agent's spawner process ended (killed by SIGKILL); the command's process group was ended");
    await waitFor(() => gone(pid), { timeoutMs: 10_000, what: 'the cmd to be gone' });
    expect(e.processes.busy).toBe(false);

    await e.start('f', 'echo again');
    await waitFor(() => e.exitOf('f') !== undefined, { timeoutMs: 10_000, what: 'the next run to end' });
    expect(e.exitOf('f')).toMatchObject({ status: 'completed' });
    expect(e.linesOf('f')).toEqual(['again']);
    expect(e.processes.spawner.pid).not.toBe(first);
  });

  it('ends with the engine: the spawner process exits, nothing is left', async () => {
    const e = engine();
    await e.start('g', 'true');
    const spawner = e.processes.spawner.pid as number;
    await waitFor(() => e.exitOf('g') !== undefined, { timeoutMs: 10_000, what: 'the run to end' });
    await e.processes.stop('test');
    await waitFor(() => gone(spawner), { timeoutMs: 10_000, what: 'the spawner to exit' });
    expect(existsSync(path.join(e.groupsDir, String(spawner)))).toBe(false);
  });
});

describe('the spawner process', () => {
  it('sends the replies of one turn as one message, in order', async () => {
    const proc = spawn(process.execPath, ['-e', `(${spawnerMain.toString()})(require)`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced', cwd: '/' });
    cleanups.push(() => void proc.disconnect());
    const messages: SpawnerReply[][] = [];
    proc.on('message', (m: SpawnerReply[]) => messages.push(m));
    const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-spawner-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    // Sent while the new process is still starting: it reads them in one go, so both cmds start
    // in the same turn, and their two `spawned` replies go together.
    const requests: SpawnerRequest[] = [
      { t: 'env', env: { PATH: process.env.PATH } },
      { t: 'spawn', id: 1, cmd: 'sh', args: ['-c', 'echo one'], cwd: root },
      { t: 'spawn', id: 2, cmd: 'sh', args: ['-c', 'echo two >&2'], cwd: root },
    ];
    for (const r of requests) proc.send(r);
    const replies = () => messages.flat();
    await waitFor(() => replies().filter((r) => r.t === 'exit').length === 2, { timeoutMs: 10_000, what: 'both cmds to exit' });
    await waitFor(() => replies().filter((r) => r.t === 'end').length === 4, { timeoutMs: 10_000, what: 'the ends of their output' });
    expect(messages.every((m) => Array.isArray(m))).toBe(true);
    expect(messages[0]?.map((r) => [r.t, r.id])).toEqual([
      ['spawned', 1],
      ['spawned', 2],
    ]);
    expect(messages.length).toBeLessThan(replies().length);
    for (const id of [1, 2]) {
      const own = replies().filter((r) => r.id === id);
      expect(own[0]?.t).toBe('spawned');
      expect(own.filter((r) => r.t === 'out').map((r) => Buffer.from((r as { data: Uint8Array }).data).toString())).toEqual([id === 1 ? 'one\n' : 'two\n']);
      expect(own.find((r) => r.t === 'exit')).toMatchObject({ code: 0, signal: null });
    }
  });
});

describe('the agent connection', () => {
  it('writes the messages it sends in one turn as one socket write, all of them, in order', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    const received: AgentMessage[] = [];
    const opened = new Promise<void>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (data) => received.push(JSON.parse(data.toString()) as AgentMessage));
        resolve();
      }),
    );
    const hello: AgentMessage = { v: PROTOCOL_VERSION, type: 'hello', runs: [], pendingUpdates: 0 };
    const conn = new Connection({
      url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`,
      agentId: 'a1',
      token: 't',
      log,
      silenceMs: 60_000,
      onOpen: () => [hello],
      onMessage: () => undefined,
      onRefused: () => undefined,
    });
    const running = conn.run();
    cleanups.push(async () => {
      conn.stop();
      await running;
    });
    await opened;
    await waitFor(() => received.length === 1, { what: 'the hello' });

    // Every write of a net.Socket, whatever its path, goes through _writeGeneric.
    const proto = net.Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = proto._writeGeneric;
    let writes = 0;
    proto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
    cleanups.push(() => void (proto._writeGeneric = original));
    const update = (seq: number): AgentMessage => ({ v: PROTOCOL_VERSION, type: 'update', seq, jobId: 'j', serial: 1, update: { kind: 'log', lines: [`line ${seq}`] } });
    conn.send(update(1));
    conn.send(update(2));
    await Promise.resolve();
    conn.send(update(3));
    await waitFor(() => received.length === 4, { what: 'the three updates' });
    expect(received.slice(1).map((m) => (m.type === 'update' ? m.seq : 0))).toEqual([1, 2, 3]);
    expect(writes).toBe(1);
  });
});
