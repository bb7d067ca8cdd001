/**
 * The local driver: each agent is a child process on this machine, in its own folder and its
 * own process group, started detached so that it outlives a supervisor restart. Stopped with
 * SIGTERM (the agent then ends its cmds), then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Size } from '../../shared/types.js';
import { AGENT_BUNDLE, refuseOptions } from '../common.js';
import type { AgentExit, AgentHandle, AgentSpec, Driver, TargetInfo } from '../driver.js';
import type { SizeLimitsResolved } from '../targetSettings.js';

export interface LocalDriverOptions {
  /** The target's name and title. */
  name: string;
  title: string;
  sizes: Record<Size, SizeLimitsResolved>;
  runsDir: string;
  agentsDir: string;
  templatesDir: string;
  logLevel: string;
  /** Milliseconds between SIGTERM and SIGKILL when an agent is stopped. */
  stopGraceMs?: number;
}

/** The environment an agent gets: enough to run cmds, none of the supervisor's secrets. */
export function agentEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

/** Whether a process runs; a zombie (ended, not yet reaped by its new parent) does not. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: trust kill(0)
  }
}

async function tail(file: string, maxBytes = 4096): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8').split('\n').slice(-20).join('\n').trim();
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

function watchPid(pid: number): Promise<AgentExit> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!processAlive(pid)) {
        clearInterval(timer);
        resolve({ reason: `agent process ${pid} ended` });
      }
    }, 500);
    timer.unref();
  });
}

async function stopPid(pid: number, exited: Promise<AgentExit>, graceMs: number): Promise<void> {
  if (!processAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
  if (!killed && processAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await exited;
  }
}

function exitOf(child: ChildProcess): Promise<AgentExit> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve({ reason: `agent could not start: ${err.message}` }));
    child.once('exit', (code, signal) =>
      resolve({ reason: signal ? `agent process was killed by ${signal}` : `agent process exited with code ${code}` }),
    );
  });
}

export function createLocalDriver(opts: LocalDriverOptions): Driver {
  const handles = new Set<AgentHandle>();
  const graceMs = opts.stopGraceMs ?? 5000;
  const host = os.hostname();

  function track(handle: AgentHandle): AgentHandle {
    handles.add(handle);
    void handle.exited.then(() => handles.delete(handle));
    return handle;
  }

  const info: TargetInfo = { name: opts.name, kind: 'local', title: opts.title, needsLogin: false, host: null, schedulerTitle: null, options: [] };
  return {
    info,
    pools: (size) => new Map([['local', opts.sizes[size].slots]]),
    maxTimeSeconds: (size) => opts.sizes[size].maxTimeSeconds,
    runDir: (user, jobId) => path.join(opts.runsDir, user, jobId),
    templatesDir: () => opts.templatesDir,
    checkRun: (run) => refuseOptions(info, run.options),

    async startAgent(spec: AgentSpec): Promise<AgentHandle> {
      const dir = path.join(opts.agentsDir, spec.agentId);
      mkdirSync(dir, { recursive: true });
      const logFile = path.join(dir, 'agent.log');
      const logFd = openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [AGENT_BUNDLE], {
          cwd: dir,
          detached: true,
          stdio: ['pipe', logFd, logFd],
          env: agentEnvironment({
            JOBVISOR_AGENT_ID: spec.agentId,
            JOBVISOR_AGENT_URL: spec.supervisorUrl,
            JOBVISOR_LOG_LEVEL: opts.logLevel,
          }),
        });
      } finally {
        closeSync(logFd);
      }
      const exited = exitOf(child);
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(spec.token + '\n');
      child.unref();
      const pid = child.pid ?? null;
      return track({
        host,
        pool: 'local',
        pid,
        exited,
        stop: () => (pid === null ? Promise.resolve() : stopPid(pid, exited, graceMs)),
        logTail: () => tail(logFile),
      });
    },

    async adoptAgent(saved) {
      if (saved.pid === null || saved.host !== host || !processAlive(saved.pid)) return undefined;
      const pid = saved.pid;
      const exited = watchPid(pid);
      return track({
        host,
        pool: 'local',
        pid,
        exited,
        stop: () => stopPid(pid, exited, graceMs),
        logTail: () => tail(path.join(opts.agentsDir, saved.agentId, 'agent.log')),
      });
    },

    async close() {
      await Promise.all([...handles].map((h) => h.stop()));
    },
  };
}
