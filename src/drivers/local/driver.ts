/**
 * The local driver: each agent is a child process on this machine, in its own folder and its
 * own process group, started detached so that it outlives a supervisor restart. Stopped with
 * SIGTERM (the agent then ends its cmds), then SIGKILL. However an agent ends, its cmds end
 * with it: the agent records their process groups in its folder, and once the agent is gone
 * the driver kills what is left of them (an agent killed outright cannot end them itself).
 * Agents run as the supervisor's own OS user, or with `runAs` as the OS user the target gives
 * their jobvisor user (runAs.ts), in folders made for that user out of the data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Size } from '../../shared/types.js';
import type { Logger } from '../../shared/logger.js';
import { AGENT_BUNDLE, refuseOptions } from '../common.js';
import type { AgentExit, AgentHandle, AgentSpec, Driver, TargetInfo } from '../driver.js';
import type { SizeLimitsResolved } from '../targetSettings.js';
import { groupOwners, killRecordedCmds, processAlive } from './processes.js';
import type { OsUser, RunAs } from './runAs.js';

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
  /** The OS users agents run as (with runsDir and agentsDir in its work folder); unset: the supervisor's own. */
  runAs?: RunAs;
}

/** The environment an agent gets: enough to run cmds, none of the supervisor's secrets. */
export function agentEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

/**
 * Node options for the agents, from the supervisor's JOBVISOR_AGENT_NODE_ARGS (space-separated):
 * a debug switch, to profile them (`--cpu-prof --cpu-prof-dir=/tmp/prof`, which Node refuses in
 * NODE_OPTIONS). Unset: none.
 */
function agentNodeArgs(): string[] {
  return (process.env.JOBVISOR_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/**
 * The last lines of an agent's log. The agent's OS user may have put anything in its place: only
 * a regular file of the folder's owner is read, never through a link, never waiting on a FIFO.
 */
async function tail(file: string, maxBytes = 4096): Promise<string> {
  try {
    const owner = lstatSync(path.dirname(file)).uid;
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.uid !== owner) return '';
      const { size } = st;
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

/**
 * Says once that a target runs the commands of several jobvisor users as one OS user: the
 * supervisor's own (they can read each other's runs and the data folder), or one of runAs
 * (they can read each other's runs). Users with OS users of their own share nothing.
 */
function sharedUserWarning(opts: LocalDriverOptions): (user: string, osUser: OsUser | undefined) => void {
  const byOsUser = new Map<string, Set<string>>();
  return (user, osUser) => {
    const key = osUser?.name ?? '';
    const users = byOsUser.get(key) ?? new Set<string>();
    byOsUser.set(key, users.add(user));
    if (users.size !== 2) return;
    if (!osUser) {
      opts.log?.warn(
        { target: opts.name, users: [...users], uid: process.getuid?.() },
        'this local target runs the commands of several jobvisor users as one OS user (the supervisor\'s own): each command can read the others\' run directories and jobvisor\'s data folder (databases, supervisor-secret). The local driver is for a single trusted user; keep users apart with runAs, a docker or a cluster target',
      );
    } else {
      opts.log?.warn(
        { target: opts.name, users: [...users], osUser: osUser.name, uid: osUser.uid },
        `this local target runs the commands of several jobvisor users as one OS user (${osUser.name}, from runAs): each command can read the others' run directories. Give each user an OS user of their own in runAs to keep them apart`,
      );
    }
  };
}

/** The real uid of a process (from /proc), undefined if there is none. */
function uidOf(pid: number): number | undefined {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/** An agent's folder and its open log: the supervisor's own, or under runAs one made for the agent's OS user. */
async function agentFolder(opts: LocalDriverOptions, spec: AgentSpec, osUser: OsUser | undefined): Promise<{ dir: string; logFd: number }> {
  if (opts.runAs && osUser) return opts.runAs.agentFolder(spec.user, spec.agentId, osUser);
  const dir = path.join(opts.agentsDir, spec.agentId);
  mkdirSync(dir, { recursive: true });
  return { dir, logFd: openSync(path.join(dir, 'agent.log'), 'a') };
}

export function createLocalDriver(opts: LocalDriverOptions): Driver {
  const warnIfShared = sharedUserWarning(opts);
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
    // Beside the runs folder; with runAs in the user's own runs folder (the OS user may write nowhere else).
    archiveDir: (user, jobId) => (opts.runAs ? path.join(opts.runsDir, user, '.archive', jobId) : path.join(path.dirname(opts.runsDir), 'archive', user, jobId)),
    templatesDir: () => opts.templatesDir,
    checkRun: (run) => refuseOptions(info, run.options),

    async startAgent(spec: AgentSpec): Promise<AgentHandle> {
      const osUser = opts.runAs ? await opts.runAs.osUserOf(spec.user) : undefined;
      warnIfShared(spec.user, osUser);
      const { dir, logFd } = await agentFolder(opts, spec, osUser);
      const logFile = path.join(dir, 'agent.log');
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [...agentNodeArgs(), AGENT_BUNDLE], {
          cwd: dir,
          detached: true,
          stdio: ['pipe', logFd, logFd],
          // Under runAs: the OS user's uid and primary gid (node drops every supplementary group).
          ...(osUser ? { uid: osUser.uid, gid: osUser.gid } : {}),
          env: agentEnvironment({
            ...(osUser ? { HOME: osUser.home, USER: osUser.name, LOGNAME: osUser.name } : {}),
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
      let owner: number | undefined;
      try {
        owner = lstatSync(dir).uid;
      } catch {
        /* no folder: nothing of it to end */
      }
      if (saved.pid === null || !processAlive(saved.pid) || (owner !== undefined && uidOf(saved.pid) !== owner)) {
        // It died while no supervisor watched it (or its pid is another user's now): its cmds must not go on alone.
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
      const owners = groupOwners();
      for (const id of readdirSync(opts.agentsDir)) if (!keep.has(id)) killRecordedCmds(path.join(opts.agentsDir, id), owners);
    },

    async close() {
      await Promise.all([...handles].map((h) => h.stop()));
    },
  };
}
