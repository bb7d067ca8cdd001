/**
 * The agents the supervisor runs: one per (target, user, size), or one per (target, user) on a
 * target whose agents start with the user's login (they serve every size); on a target of several
 * pools (Docker engines) a user may have one in each pool that a run's labels or free slots
 * send it to. Starts them through their
 * driver on demand (one start at a time per key, bounded by a start timeout), keeps them while
 * something leases them, stops them after an idle time, and re-adopts the agents a previous
 * supervisor started.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AgentView, TargetLoginBody } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { delay, type RetryPolicy } from '../shared/retry.js';
import { storageError } from '../shared/storageErrors.js';
import type { Logger } from '../shared/logger.js';
import type { Size } from '../shared/types.js';
import type { Op } from '../shared/protocol.js';
import type { AgentHandle, Driver } from '../drivers/driver.js';
import type { AgentRow, JobStore } from './store.js';

export type AgentState = 'starting' | 'connected' | 'disconnected' | 'stopping';

export interface ManagedAgent {
  id: string;
  user: string;
  target: string;
  /** The size it serves; null when it serves every size. */
  size: Size | null;
  driver: string;
  handle: AgentHandle;
  state: AgentState;
  since: number;
  lastHeartbeat: number | null;
  leases: number;
  idleTimer: NodeJS.Timeout | null;
  /** Fires when an agent has been disconnected too long (hung, or unreachable), or its login runs out. */
  lostTimer: NodeJS.Timeout | null;
  /** Why its connection last ended. */
  lostWhy: string | null;
  /** Why the supervisor ended it, when it did so on its own (its runs are told). */
  endedBecause: string | null;
  /** Resolved each time the agent (re)connects. */
  connectedWaiters: Set<() => void>;
}

export interface AgentManagerDeps {
  store: JobStore;
  /** The drivers of the targets, by target name. */
  drivers: ReadonlyMap<string, Driver>;
  supervisorUrl: () => string;
  freeSlots(target: string, size: Size, pool: string): number;
  startTimeoutMs: number;
  idleMs: number;
  /** How long an agent may stay disconnected before it is stopped, unless its driver says (AgentHandle.lostAfterMs). */
  lostAfterMs?: number;
  log: Logger;
  now?: () => number;
  /** Asks a connected agent to end by itself (best effort), before its driver stops it. */
  sendShutdown(agentId: string, reason: string): Promise<void>;
  /** Called once an agent has ended for good, so its runs can be settled. */
  onAgentGone(agentId: string, reason: string): void;
  onChange(): void;
  /** The one agent an op must go to on targets of many shared agents (an enrolled worker holding a run's files), if any. */
  pinned?(target: string, op: Op): ManagedAgent | undefined;
}

/** How an ended agent whose end could not be stored is tried again. */
const GONE_RETRY: RetryPolicy = { baseMs: 500, maxMs: 10_000, jitter: 0.2 };

const hash = (token: string) => createHash('sha256').update(token).digest();
const seconds = (ms: number) => String(Math.round(ms / 100) / 10);

export class AgentManager {
  private readonly agents = new Map<string, ManagedAgent>();
  private readonly starting = new Map<string, Promise<ManagedAgent>>();
  /** Agents that connected while their driver was still starting them. */
  private readonly earlyConnected = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly deps: AgentManagerDeps) {
    this.now = deps.now ?? Date.now;
  }

  get(agentId: string): ManagedAgent | undefined {
    return this.agents.get(agentId);
  }

  /** The agent once its driver has finished starting it (an agent may connect and say hello before that). */
  async whenKnown(agentId: string, timeoutMs = 30_000): Promise<ManagedAgent | undefined> {
    const deadline = this.now() + timeoutMs;
    while (!this.agents.has(agentId) && this.deps.store.getAgent(agentId) && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.agents.get(agentId);
  }

  authenticate(agentId: string, token: string): boolean {
    const row = this.deps.store.getAgent(agentId);
    if (!row) return false;
    const a = Buffer.from(row.tokenHash, 'hex');
    const b = hash(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * An enrolled worker's process that has just passed its checks at upgrade (src/supervisor/workers/):
   * managed like any agent from now on, unless it is managed already (it reconnects, or a
   * restarted supervisor adopted it). Each process of a worker is an agent of its own (its id
   * holds the process's session), so its updates are numbered from 1.
   */
  registerEnrolled(row: Omit<AgentRow, 'lastSeq' | 'startedAt' | 'pid'>, handle: () => AgentHandle): void {
    if (!this.deps.store.getAgent(row.id)) this.deps.store.saveAgent({ ...row, pid: null, lastSeq: 0, startedAt: this.now() });
    if (this.agents.has(row.id)) return;
    this.track(this.manage({ id: row.id, user: row.user, target: row.target, size: row.size, driver: row.driver }, handle(), 'disconnected'));
  }

  /** The size an agent of the target serves for a run of `size`: null on targets whose one agent per user serves every size. */
  private agentSize(target: string, size: Size): Size | null {
    return this.deps.drivers.get(target)?.info.needsLogin ? null : size;
  }

  /**
   * Resolves with a connected agent for (target, user, size), starting one if needed; with
   * `pools`, one whose pool is among them (a run's labels allow only some of the target's pools).
   */
  async connected(target: string, user: string, size: Size, signal: AbortSignal, pools?: readonly string[]): Promise<ManagedAgent> {
    const agentSize = this.agentSize(target, size);
    const agent = this.roomiest(target, user, size, pools) ?? (await this.start(target, user, agentSize ?? size, pools));
    if (agent.state === 'connected') return agent;
    await this.waitConnected(agent, signal);
    return agent;
  }

  /** Starts an agent with the user's own login, in place of the user's agent of that target if there is one. */
  async startWithLogin(target: string, user: string, credentials: TargetLoginBody, signal: AbortSignal): Promise<ManagedAgent> {
    const previous = this.find(target, user, null);
    if (previous) await this.stop(previous, 'replaced by a new login');
    const key = `${target}/${user}/*`;
    const start = this.startAgent(target, user, 'parallel', credentials).finally(() => this.starting.delete(key));
    this.starting.set(key, start);
    const agent = await start;
    if (agent.state !== 'connected') await this.waitConnected(agent, signal);
    return agent;
  }

  /** The one agent an op must go to, where its target says so (see AgentManagerDeps.pinned). */
  pinnedFor(target: string, op: Op): ManagedAgent | undefined {
    return this.deps.pinned?.(target, op);
  }

  /** The agent of (target, user, size) that is up or coming back, if any. */
  live(target: string, user: string, size: Size): ManagedAgent | undefined {
    return this.find(target, user, this.agentSize(target, size));
  }

  lease(agent: ManagedAgent): () => void {
    agent.leases++;
    this.clearIdle(agent);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      agent.leases--;
      this.armIdle(agent);
    };
  }

  onConnect(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) {
      this.earlyConnected.add(agentId);
      return;
    }
    if (agent.lostTimer) clearTimeout(agent.lostTimer);
    agent.lostTimer = null;
    agent.state = 'connected';
    agent.since = this.now();
    agent.lastHeartbeat = this.now();
    for (const w of agent.connectedWaiters) w();
    agent.connectedWaiters.clear();
    this.armIdle(agent);
    this.deps.onChange();
  }

  onDisconnect(agentId: string, why = 'its connection ended'): void {
    this.earlyConnected.delete(agentId);
    const agent = this.agents.get(agentId);
    if (!agent || agent.state === 'stopping') return;
    agent.state = 'disconnected';
    agent.lostWhy = why;
    agent.since = this.now();
    this.clearIdle(agent);
    this.armLost(agent);
    this.deps.onChange();
  }

  private armLost(agent: ManagedAgent): void {
    const after = agent.handle.lostAfterMs ?? this.deps.lostAfterMs;
    if (after === undefined || agent.lostTimer) return;
    agent.lostTimer = setTimeout(() => {
      agent.lostTimer = null;
      if (agent.state !== 'disconnected') return;
      const why = `its connection ended (${agent.lostWhy ?? 'no reason given'}) and stayed down for ${seconds(after)} s`;
      agent.endedBecause = `${why}; the supervisor stopped it`;
      void this.stop(agent, why);
    }, after);
    agent.lostTimer.unref();
  }

  onHeartbeat(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.lastHeartbeat = this.now();
  }

  /** Takes back the agents saved by a previous supervisor that still run, forgets the rest, and lets drivers remove what is left. */
  async adoptSaved(): Promise<void> {
    for (const id of this.deps.store.listAgentIds()) {
      const row = this.deps.store.getAgent(id) as AgentRow;
      const driver = this.deps.drivers.get(row.target);
      const handle = await driver?.adoptAgent?.({ agentId: id, pid: row.pid, host: row.host }).catch((err: unknown) => {
        this.deps.log.warn({ agentId: id, err: (err as Error).message }, 'agent could not be re-adopted');
        return undefined;
      });
      if (!handle) {
        this.deps.store.deleteAgent(id);
        continue;
      }
      this.deps.log.info({ agentId: id, pid: row.pid, host: handle.host }, 're-adopted agent of a previous supervisor');
      this.track(this.manage({ id, user: row.user, target: row.target, size: row.size, driver: row.driver }, handle, 'disconnected'));
      // It may have reconnected while earlier agents were being adopted: then it is connected
      // (before, it stayed 'disconnected' for good, and runs waiting for it timed out).
      if (this.earlyConnected.delete(id)) this.onConnect(id);
    }
    const keep = new Set(this.agents.keys());
    for (const driver of this.deps.drivers.values()) {
      await driver.removeLeftovers?.(keep).catch((err: unknown) => this.deps.log.warn({ target: driver.info.name, err: (err as Error).message }, 'leftovers could not be removed'));
    }
  }

  list(): AgentView[] {
    return [...this.agents.values()].map((a) => ({
      agentId: a.id,
      user: a.user,
      target: a.target,
      size: a.size,
      driver: a.driver,
      host: a.handle.host,
      pool: a.handle.pool,
      state: a.state,
      since: a.since,
      lastHeartbeat: a.lastHeartbeat,
      runs: a.leases,
    }));
  }

  async stop(agent: ManagedAgent, why: string): Promise<void> {
    if (agent.state === 'stopping') return agent.handle.exited.then(() => undefined);
    this.deps.log.info({ agentId: agent.id, why }, 'stopping agent');
    const wasConnected = agent.state === 'connected';
    agent.state = 'stopping';
    this.clearIdle(agent);
    if (agent.lostTimer) clearTimeout(agent.lostTimer);
    if (wasConnected) await this.deps.sendShutdown(agent.id, why).catch(() => undefined);
    await agent.handle.stop(why);
  }

  /** Stops idle agents; leaves agents with runs going so a restarted supervisor can take them back, and enrolled workers (started by hand, they wait for it). */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].filter((a) => a.leases === 0 && !a.handle.enrolled).map((a) => this.stop(a, 'supervisor stopping')));
    for (const a of this.agents.values()) this.clearIdle(a);
  }

  /**
   * Of the user's agents for (target, size) in the allowed pools, the one whose pool has the most
   * free slots; none when all of theirs are full while another allowed pool has room (a new agent
   * goes there: the user's agents on a target of several pools, e.g. Docker engines).
   */
  private roomiest(target: string, user: string, size: Size, pools?: readonly string[]): ManagedAgent | undefined {
    const agentSize = this.agentSize(target, size);
    const mine = [...this.agents.values()].filter((a) => a.target === target && a.user === user && a.size === agentSize && a.state !== 'stopping' && (pools === undefined || pools.includes(a.handle.pool)));
    if (mine.length <= 1 && (this.deps.drivers.get(target)?.pools(size).size ?? 1) <= 1) return mine[0];
    const free = (pool: string) => this.deps.freeSlots(target, size, pool);
    const best = mine.reduce<ManagedAgent | undefined>((a, b) => (a === undefined || free(b.handle.pool) > free(a.handle.pool) ? b : a), undefined);
    if (best && free(best.handle.pool) > 0) return best;
    const held = new Set(mine.map((a) => a.handle.pool));
    const elsewhere = [...(this.deps.drivers.get(target)?.pools(size).keys() ?? [])].some((p) => !held.has(p) && (pools === undefined || pools.includes(p)) && free(p) > 0);
    return elsewhere ? undefined : best;
  }

  private find(target: string, user: string, size: Size | null, pools?: readonly string[]): ManagedAgent | undefined {
    for (const a of this.agents.values()) {
      if (a.target === target && a.user === user && a.size === size && a.state !== 'stopping' && (pools === undefined || pools.includes(a.handle.pool))) return a;
    }
    return undefined;
  }

  private start(target: string, user: string, size: Size, pools?: readonly string[]): Promise<ManagedAgent> {
    const agentSize = this.agentSize(target, size);
    const key = `${target}/${user}/${agentSize ?? '*'}${pools === undefined ? '' : `/${[...pools].sort().join(',')}`}`;
    let p = this.starting.get(key);
    if (!p) {
      p = this.startAgent(target, user, size, undefined, pools).finally(() => this.starting.delete(key));
      this.starting.set(key, p);
    }
    return p;
  }

  private async startAgent(target: string, user: string, size: Size, credentials?: TargetLoginBody, pools?: readonly string[]): Promise<ManagedAgent> {
    const driver = this.deps.drivers.get(target);
    if (!driver) throw new JobvisorError('AGENT_START_FAILED', `no target named ${target} is configured`);
    const agentSize = this.agentSize(target, size);
    const id = `${target}-${user}-${agentSize ?? 'all'}-${randomBytes(4).toString('hex')}`;
    const token = randomBytes(32).toString('base64url');
    const row: AgentRow = { id, tokenHash: hash(token).toString('hex'), user, target, size: agentSize, driver: driver.info.kind, host: '', pid: null, lastSeq: 0, startedAt: this.now() };
    this.deps.store.saveAgent(row);
    this.deps.log.info({ agentId: id, target, driver: driver.info.kind, user, size: agentSize }, 'starting agent');
    let handle: AgentHandle;
    try {
      handle = await driver.startAgent({
        agentId: id,
        token,
        user,
        size,
        supervisorUrl: this.deps.supervisorUrl(),
        freeSlots: (pool) => this.deps.freeSlots(target, size, pool),
        ...(credentials ? { credentials } : {}),
        ...(pools ? { pools } : {}),
      });
    } catch (err) {
      this.deps.store.deleteAgent(id);
      throw err instanceof JobvisorError ? err : new JobvisorError('AGENT_START_FAILED', `agent could not be started: ${(err as Error).message}`);
    }
    this.deps.store.saveAgent({ ...row, host: handle.host, pid: handle.pid });
    const agent = this.manage({ id, user, target, size: agentSize, driver: driver.info.kind }, handle, 'starting');
    this.track(agent);
    if (this.earlyConnected.delete(id)) this.onConnect(id);
    return agent;
  }

  private manage(who: Pick<ManagedAgent, 'id' | 'user' | 'target' | 'size' | 'driver'>, handle: AgentHandle, state: AgentState): ManagedAgent {
    const agent: ManagedAgent = { ...who, handle, state, since: this.now(), lastHeartbeat: null, leases: 0, idleTimer: null, lostTimer: null, lostWhy: null, endedBecause: null, connectedWaiters: new Set() };
    const id = who.id;
    this.agents.set(id, agent);
    if (handle.expiresAt !== undefined) {
      const expiry = setTimeout(() => void this.stop(agent, 'the login expired'), Math.max(0, Math.min(handle.expiresAt - this.now(), 2 ** 31 - 1)));
      expiry.unref();
      void handle.exited.then(() => clearTimeout(expiry));
    }
    if (state === 'disconnected') this.armLost(agent);
    this.deps.onChange();
    return agent;
  }

  private track(agent: ManagedAgent): void {
    void agent.handle.exited.then(({ reason: exit }) => {
      this.clearIdle(agent);
      this.agents.delete(agent.id);
      const reason = agent.endedBecause ? `${agent.endedBecause} (${exit})` : exit;
      this.deps.log.info({ agentId: agent.id, reason }, 'agent ended');
      this.settleGone(agent.id, reason);
      this.deps.onChange();
    });
  }

  /** Forgets an ended agent and settles its runs; what cannot be stored yet (disk full, database locked) is tried again later. */
  private settleGone(agentId: string, reason: string, attempt = 0): void {
    try {
      this.deps.store.deleteAgent(agentId);
      this.deps.onAgentGone(agentId, reason);
    } catch (err) {
      const storage = storageError(err, 'the supervisor');
      if (!storage) throw err;
      this.deps.log.warn({ agentId, code: storage.code, err: storage.message, attempt }, 'an ended agent and its runs could not be stored; trying again');
      setTimeout(() => this.settleGone(agentId, reason, attempt + 1), delay(attempt, GONE_RETRY)).unref();
    }
  }

  private async waitConnected(agent: ManagedAgent, signal: AbortSignal): Promise<void> {
    const timeoutMs = this.deps.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let onConnected: (() => void) | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          onConnected = resolve;
          agent.connectedWaiters.add(resolve);
        }),
        agent.handle.exited.then(async ({ reason }) => {
          const tail = await agent.handle.logTail();
          throw new JobvisorError('AGENT_START_FAILED', `agent ended before it connected: ${reason}${tail ? `\n${tail}` : ''}`);
        }),
        new Promise<never>((_, reject) => {
          const lost = () => (agent.lostWhy !== null ? `the agent did not reconnect within ${seconds(timeoutMs)} s (${agent.lostWhy})` : undefined);
          timer = setTimeout(() => reject(new JobvisorError('AGENT_START_TIMEOUT', lost() ?? `agent did not connect within ${seconds(timeoutMs)} s`)), timeoutMs);
        }),
        new Promise<never>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      ]);
    } catch (err) {
      if (err instanceof JobvisorError && err.code === 'AGENT_START_TIMEOUT' && agent.state === 'starting') {
        void this.stop(agent, 'start timeout');
      }
      throw err;
    } finally {
      clearTimeout(timer);
      if (onConnected) agent.connectedWaiters.delete(onConnected);
    }
  }

  private armIdle(agent: ManagedAgent): void {
    this.clearIdle(agent);
    // An agent started with the user's own login (clusters) lasts as long as the login, idle or not.
    if (agent.leases > 0 || agent.state !== 'connected' || agent.handle.expiresAt !== undefined || agent.handle.enrolled) return;
    agent.idleTimer = setTimeout(() => void this.stop(agent, `idle for ${seconds(this.deps.idleMs)} s`), this.deps.idleMs);
    agent.idleTimer.unref();
  }

  private clearIdle(agent: ManagedAgent): void {
    if (agent.idleTimer) clearTimeout(agent.idleTimer);
    agent.idleTimer = null;
  }
}
