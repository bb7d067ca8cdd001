/**
 * The local driver: each agent is a child process on this machine, in its own folder and its
 * own process group, started detached so that it outlives a supervisor restart. Stopped with
 * SIGTERM (the agent then ends its cmds), then SIGKILL. However an agent ends, its cmds end
 * with it: the agent records their process groups in its folder, and once the agent is gone
 * the driver kills what is left of them (an agent killed outright cannot end them itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CMD_GROUPS_DIR } from '../../shared/protocol.js';
import type { Size } from '../../shared/types.js';
import type { Logger } from '../../shared/logger.js';
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
  /** Where to say that the target serves several users as one OS user. */
  log?: Logger;
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

/** Field 22 of /proc/<pid>/stat (start time), undefined if there is no such process (or no /proc). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Kills, with SIGKILL, the process groups an agent recorded in its folder for its cmds, then
 * forgets them; returns how many were still there. A group whose leader's pid now belongs to
 * another process (started at another time) is left alone: the id was reused.
 */
export function killRecordedCmds(agentDir: string): number {
  const dir = path.join(agentDir, CMD_GROUPS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let killed = 0;
  for (const name of names) {
    const pgid = Number(name);
    const file = path.join(dir, name);
    try {
      const recorded = readFileSync(file, 'utf8').trim();
      const now = startTime(pgid);
      const reused = now !== undefined && recorded !== '' && now !== recorded;
      if (Number.isInteger(pgid) && pgid > 1 && !reused) {
        process.kill(-pgid, 'SIGKILL');
        killed++;
      }
    } catch {
      /* the group is gone, or its record is */
    }
    rmSync(file, { force: true });
  }
  return killed;
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

function watchPid(pid: number, dir: string): Promise<AgentExit> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!processAlive(pid)) {
        clearInterval(timer);
        killRecordedCmds(dir);
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

function exitOf(child: ChildProcess, dir: string): Promise<AgentExit> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve({ reason: `agent could not start: ${err.message}` }));
    child.once('exit', (code, signal) => {
      killRecordedCmds(dir);
      resolve({ reason: signal ? `agent process was killed by ${signal}` : `agent process exited with code ${code}` });
    });
  });
}

export function createLocalDriver(opts: LocalDriverOptions): Driver {
  // Every command runs as the supervisor's own OS user: once a second jobvisor user runs here, say what that means.
  const users = new Set<string>();
  const warnIfShared = (user: string) => {
    users.add(user);
    if (users.size !== 2) return;
    opts.log?.warn(
      { target: opts.name, users: [...users], uid: process.getuid?.() },
      'this local target runs the commands of several jobvisor users as one OS user (the supervisor\'s own): each command can read the others\' run directories and jobvisor\'s data folder (databases, supervisor-secret). The local driver is for a single trusted user; keep users apart with a docker or cluster target',
    );
  };
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
      warnIfShared(spec.user);
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
      const exited = exitOf(child, dir);
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
      if (saved.host !== host) return undefined;
      const dir = path.join(opts.agentsDir, saved.agentId);
      if (saved.pid === null || !processAlive(saved.pid)) {
        // It died while no supervisor watched it: its cmds must not go on alone.
        killRecordedCmds(dir);
        return undefined;
      }
      const pid = saved.pid;
      const exited = watchPid(pid, dir);
      return track({
        host,
        pool: 'local',
        pid,
        exited,
        stop: () => stopPid(pid, exited, graceMs),
        logTail: () => tail(path.join(dir, 'agent.log')),
      });
    },

    /** Agents of earlier supervisors that are not kept: none of their cmds goes on. */
    async removeLeftovers(keep) {
      if (!existsSync(opts.agentsDir)) return;
      for (const id of readdirSync(opts.agentsDir)) if (!keep.has(id)) killRecordedCmds(path.join(opts.agentsDir, id));
    },

    async close() {
      await Promise.all([...handles].map((h) => h.stop()));
    },
  };
}
