/**
 * The faults a soak injects, each a function that does it for real and says what it did:
 * SIGKILL the supervisor or the server and start it again on its port, cut every agent's
 * websocket at the TCP proxy between agents and supervisor, SIGKILL an agent (a local one, or a
 * cluster login's on the login node) or a run's command, stop a cluster's scheduler daemon for
 * a while. Before killing an agent or a command, the runs it may end are marked as exposed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TcpProxy } from '../../test/helpers/tcpProxy.js';
import type { FaultKind, Run } from './ledger.js';
import { ROOT, sleep, type SoakJobvisor } from './jobvisor.js';

/** A seeded random source (mulberry32): the same seed gives the same choices. */
export class Random {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return Math.floor(this.between(lo, hi + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export type ClusterKind = 'slurm' | 'sge';

export interface FaultContext {
  jv: SoakJobvisor;
  proxy: TcpProxy;
  dataDir: string;
  /** The login node folder of the soak's cluster targets (relative to the cluster user's home). */
  clusterHome: string;
  remoteDir: string;
  /** Runs submitted and not yet ended. */
  active: () => Run[];
  /** A cluster target whose agent was killed needs a new login. */
  loginLost: (target: string) => void;
  rng: Random;
}

/** What a fault did, for the timeline; null when there was nothing to do it to. */
export type FaultResult = string | null;

export async function supervisorKill(c: FaultContext): Promise<FaultResult> {
  const pid = c.jv.supervisor?.child.pid;
  await c.jv.supervisor?.kill();
  const downMs = Math.round(c.rng.between(300, 4000));
  await sleep(downMs);
  const t0 = Date.now();
  await c.jv.restart('supervisor');
  return `pid ${pid} killed, down ${downMs} ms, listening again after ${Date.now() - t0} ms`;
}

export async function serverRestart(c: FaultContext): Promise<FaultResult> {
  const pid = c.jv.server?.child.pid;
  await c.jv.server?.kill();
  const downMs = Math.round(c.rng.between(0, 2500));
  await sleep(downMs);
  await c.jv.restart('server');
  return `pid ${pid} killed, down ${downMs} ms`;
}

export async function linkCut(c: FaultContext): Promise<FaultResult> {
  const ms = Math.round(c.rng.between(500, 8000));
  c.proxy.cut();
  await sleep(ms);
  c.proxy.restore();
  return `agents' websockets cut for ${ms} ms`;
}

interface ProcInfo {
  pid: number;
  cmdline: string;
  cwd: string;
}

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({ pid: Number(entry), cmdline, cwd: readlinkSync(`/proc/${entry}/cwd`) });
    } catch {
      /* gone */
    }
  }
  return out;
}

const killPid = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
};

/** SIGKILL one agent: a local one (its runs end as error), or a cluster login's (the target needs a new login). */
export async function agentKill(c: FaultContext, clusterTargets: string[]): Promise<FaultResult> {
  const agentsDir = path.join(c.dataDir, 'agents') + '/';
  const local = processes().filter((p) => p.cwd.startsWith(agentsDir) && p.cmdline.includes('jobvisor-agent'));
  const clusters = clusterTargets.map((t) => ({ target: t, pid: clusterAgentPid(c, t) })).filter((a) => a.pid !== null);
  const useCluster = clusters.length > 0 && (local.length === 0 || c.rng.next() < 0.3);
  if (useCluster) {
    const a = c.rng.pick(clusters);
    for (const r of c.active().filter((r) => r.target === a.target)) r.exposures.push({ kind: 'agent-kill', at: Date.now(), detail: `cluster agent ${a.pid}` });
    execFileSync('kill', ['-KILL', String(a.pid)], { stdio: 'ignore' });
    c.loginLost(a.target);
    return `cluster agent of ${a.target} (pid ${a.pid} on the login node)`;
  }
  if (local.length === 0) return null;
  const p = c.rng.pick(local);
  const agentId = path.basename(p.cwd);
  const m = /^(.+)-admin-(sequential|parallel|all)-[0-9a-f]{8}$/.exec(agentId);
  const exposed = c.active().filter((r) => m && r.target === m[1] && (m[2] === 'all' || r.size === m[2]));
  for (const r of exposed) r.exposures.push({ kind: 'agent-kill', at: Date.now(), detail: agentId });
  if (!killPid(p.pid)) return null;
  return `local agent ${agentId} (pid ${p.pid}; ${exposed.length} active runs of its target and size)`;
}

function clusterAgentPid(c: FaultContext, target: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(c.clusterHome, c.remoteDir, `agent-${target}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** SIGKILL the command of one running run (on whichever target: the command is a process on this machine). */
export async function cmdKill(c: FaultContext): Promise<FaultResult> {
  const running = c.active().filter((r) => r.status === 'running' && r.jobId);
  const cmds = processes().filter((p) => p.cmdline.includes('sleep.mjs'));
  const candidates = running.flatMap((r) => cmds.filter((p) => p.cwd.endsWith(`/${r.jobId}`) || p.cwd.includes(`/${r.jobId}/`)).map((p) => ({ r, p })));
  if (candidates.length === 0) return null;
  const { r, p } = c.rng.pick(candidates);
  r.exposures.push({ kind: 'cmd-kill', at: Date.now(), detail: `pid ${p.pid}` });
  if (!killPid(p.pid)) return null;
  return `command of ${r.target} run ${r.jobId} (${r.key}; pid ${p.pid})`;
}

const script = (kind: ClusterKind) => path.join(ROOT, 'src', 'drivers', kind, 'test-cluster.sh');

export async function schedulerDaemon(kind: ClusterKind, action: 'stop' | 'start'): Promise<void> {
  await promisify(execFile)('bash', [script(kind), `${action}-scheduler`], { timeout: 180_000 });
}

/** Whether other engineers' tests run now: then the shared scheduler daemons must not stop. */
export function testsRunning(): boolean {
  try {
    return execFileSync('pgrep', ['-f', 'vitest'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

/** Stops one cluster's scheduler for 10-60 s, then starts it again. */
export async function schedulerOutage(c: FaultContext, kind: ClusterKind): Promise<FaultResult> {
  const ms = Math.round(c.rng.between(10_000, 60_000));
  const t0 = Date.now();
  await schedulerDaemon(kind, 'stop');
  try {
    await sleep(ms);
  } finally {
    await schedulerDaemon(kind, 'start');
  }
  return `${kind} scheduler down ${Math.round((Date.now() - t0) / 1000)} s (asked for ${Math.round(ms / 1000)} s)`;
}

export const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'supervisor-kill': 2,
  'server-restart': 2,
  'link-cut': 3,
  'agent-kill': 1.5,
  'cmd-kill': 2,
  'scheduler-outage': 1,
};
