/**
 * The pool of enrolled workers: checks each worker at upgrade against its enrollment token
 * (not revoked nor expired, naming a `workers` target, labels within those the token allows),
 * manages each worker process as an agent (AgentManager), and places runs on the connected
 * workers of their target whose labels, slots and free memory fit, picking the one with the
 * most free slots. While none fits, the run waits and says why.
 *
 * A worker is known by its id (kept in its work folder's state file); each of its processes is
 * an agent of its own, `<worker id>.<session>`, so a restarted worker numbers its updates anew,
 * and the runs of its previous process end at once.
 */
import { createHash } from 'node:crypto';
import { JobvisorError } from '../../shared/errors.js';
import { mergeRequires, unmet, type Labels, type Requires } from '../../shared/labels.js';
import type { Logger } from '../../shared/logger.js';
import type { Op, WorkerClaim, WorkerFree } from '../../shared/protocol.js';
import type { Template } from '../../shared/template.js';
import type { WorkerView } from '../../shared/workersApi.js';
import type { Driver } from '../../drivers/driver.js';
import type { AgentManager, ManagedAgent } from '../agents.js';
import { Slots, type Release } from '../slots.js';
import type { JobRow } from '../store.js';
import type { EnrollmentRow, SqliteWorkerStore } from '../store/workers.js';

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** One process of a worker, as the pool knows it. */
interface Session {
  agentId: string;
  workerId: string;
  enrollmentId: string;
  target: string;
  claim: WorkerClaim;
  slots: Slots;
  free: WorkerFree;
}

export interface WorkerPoolDeps {
  store: SqliteWorkerStore;
  agents: AgentManager;
  drivers: ReadonlyMap<string, Driver>;
  log: Logger;
  heartbeatMs: number;
  /** Active runs, to show which run on which worker. */
  activeRuns(): JobRow[];
  now?: () => number;
}

export interface Placed {
  agent: ManagedAgent;
  worker: string;
  release: Release;
}

type Refusal = { code: 'ENROLLMENT_REFUSED' | 'WORKER_CLAIM_REFUSED'; message: string };

export class WorkerPool {
  private readonly sessions = new Map<string, Session>();
  /** The agent id of each worker's latest process (its session), by worker id: the admin view and file ops find it without a scan. */
  private readonly latest = new Map<string, string>();
  /** The last heartbeat written to the database, by worker id (heartbeats are written once per interval for all: writeSeen). */
  private readonly seenWritten = new Map<string, number>();
  private readonly seenTimer: NodeJS.Timeout;
  /** Closed (the supervisor stops): nothing more is written. */
  private closed = false;
  /** Slots of sessions a restarted supervisor holds runs of before their worker reconnects. */
  private readonly early = new Map<string, Slots>();
  /** Worker processes given up (lost past the grace, revoked, replaced): refused if they come back, their runs having ended. */
  private readonly givenUp = new Set<string>();
  private wake: { promise: Promise<void>; resolve: () => void };
  private readonly now: () => number;

  constructor(private readonly deps: WorkerPoolDeps) {
    this.now = deps.now ?? Date.now;
    this.wake = this.newWake();
    this.seenTimer = setInterval(() => this.writeSeen(this.sessions.values()), deps.heartbeatMs);
    this.seenTimer.unref();
  }

  /** Writes the heartbeats not yet written (at close, and at the supervisor's stop). */
  close(): void {
    clearInterval(this.seenTimer);
    this.writeSeen(this.sessions.values());
    this.closed = true;
  }

  /**
   * Writes the last heartbeat of these workers' processes where it moved since it was last
   * written, all in one transaction: called once per heartbeat interval for every worker, and
   * for one worker when it disconnects or is given up, so the admin view shows when a worker
   * was last heard even after a restart (a supervisor killed loses at most one interval).
   */
  private writeSeen(sessions: Iterable<Session>): void {
    if (this.closed) return;
    const seen: { id: string; lastSeen: number }[] = [];
    for (const s of sessions) {
      const at = this.deps.agents.get(s.agentId)?.lastHeartbeat;
      if (at === null || at === undefined || at <= (this.seenWritten.get(s.workerId) ?? 0)) continue;
      seen.push({ id: s.workerId, lastSeen: at });
    }
    try {
      this.deps.store.saveSeen(seen);
      for (const x of seen) this.seenWritten.set(x.id, x.lastSeen);
    } catch (err) {
      // Not written: tried again at the next interval (the admin view of connected workers is in memory).
      this.deps.log.warn({ err: (err as Error).message, workers: seen.length }, 'the workers\' last heartbeats could not be written');
    }
  }

  /** A worker's process disconnected: its last heartbeat is written now. */
  onDisconnect(agentId: string): void {
    const s = this.sessions.get(agentId);
    if (s) this.writeSeen([s]);
  }

  private addSession(s: Session): void {
    this.sessions.set(s.agentId, s);
    this.latest.set(s.workerId, s.agentId);
  }

  private removeSession(agentId: string): void {
    const s = this.sessions.get(agentId);
    if (!s) return;
    this.writeSeen([s]);
    this.sessions.delete(agentId);
    if (this.latest.get(s.workerId) === agentId) this.latest.delete(s.workerId);
  }

  /** The latest process of a worker, if it has one the pool knows. */
  private sessionOf(workerId: string): Session | undefined {
    const agentId = this.latest.get(workerId);
    return agentId === undefined ? undefined : this.sessions.get(agentId);
  }

  private newWake() {
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }

  /** Something placement depends on changed (a worker came or went, slots freed, resources reported): waiting runs try again. */
  changed(): void {
    const w = this.wake;
    this.wake = this.newWake();
    w.resolve();
  }

  /** Whether a row's target is one of enrolled workers. */
  handles(row: Pick<JobRow, 'target'>): boolean {
    return this.deps.drivers.get(row.target)?.enrolled !== undefined;
  }

  // ---- at upgrade ----------------------------------------------------------------------

  /** Checks a worker's token and claim; registers its process as an agent. */
  authenticate(workerId: string, token: string, claim: WorkerClaim): { agentId: string } | Refusal {
    const e = this.deps.store.enrollmentByHash(tokenHash(token));
    if (!e) return { code: 'ENROLLMENT_REFUSED', message: 'unknown enrollment token' };
    if (e.revokedAt !== null) return { code: 'ENROLLMENT_REFUSED', message: `enrollment ${e.name} was revoked` };
    if (e.expiresAt !== null && e.expiresAt <= this.now()) return { code: 'ENROLLMENT_REFUSED', message: `enrollment ${e.name} expired` };
    const driver = this.deps.drivers.get(e.target);
    if (!driver?.enrolled) return { code: 'ENROLLMENT_REFUSED', message: `enrollment ${e.name} names target ${e.target}, which is not a workers target here` };
    const bad = labelsOutside(claim.labels, e.labels);
    if (bad.length > 0) return { code: 'WORKER_CLAIM_REFUSED', message: `labels ${bad.join(', ')} are not allowed by enrollment ${e.name} (allowed: ${Object.entries(e.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'})` };
    const known = this.deps.store.worker(workerId);
    if (known && known.enrollmentId !== e.id && this.deps.store.enrollment(known.enrollmentId)?.revokedAt === null) {
      return { code: 'WORKER_CLAIM_REFUSED', message: `worker ${workerId} joined with another enrollment token` };
    }
    const agentId = `${workerId}.${claim.session}`;
    if (this.givenUp.has(agentId)) return { code: 'WORKER_CLAIM_REFUSED', message: `this process of worker ${claim.name} was given up (its runs ended); start the worker again` };
    this.register(agentId, workerId, e, driver, claim, known?.firstSeen);
    return { agentId };
  }

  private register(agentId: string, workerId: string, e: EnrollmentRow, driver: Driver, claim: WorkerClaim, firstSeen: number | undefined): void {
    const now = this.now();
    this.deps.store.saveWorker({ id: workerId, enrollmentId: e.id, target: e.target, name: claim.name, host: claim.host, labels: claim.labels, slots: claim.slots, firstSeen: firstSeen ?? now, lastSeen: now });
    // At most one process of a worker is known: the one before this is ended.
    const before = this.sessionOf(workerId);
    if (before && before.agentId !== agentId) this.end(before.agentId, `worker ${claim.name} started again (a new process)`);
    let session = this.sessions.get(agentId);
    if (!session) {
      const slots = this.early.get(agentId) ?? new Slots(`worker ${agentId}`, claim.slots);
      this.early.delete(agentId);
      slots.resize(claim.slots);
      session = { agentId, workerId, enrollmentId: e.id, target: e.target, claim, slots, free: claim.free };
      this.addSession(session);
    }
    session.claim = claim;
    session.free = claim.free;
    const enrolled = driver.enrolled;
    if (!enrolled) return;
    this.deps.agents.registerEnrolled(
      { id: agentId, tokenHash: e.tokenHash, user: '*', target: e.target, size: null, driver: driver.info.kind, host: `${claim.name} (${claim.host})` },
      () => enrolled.handle(agentId, `${claim.name} (${claim.host})`),
    );
    const agent = this.deps.agents.get(agentId);
    void agent?.handle.exited.then(() => {
      this.givenUp.add(agentId);
      this.removeSession(agentId);
      this.changed();
    });
    this.deps.log.info({ agentId, worker: claim.name, target: e.target, labels: claim.labels, slots: claim.slots, enrollment: e.name }, 'worker joined');
  }

  onResources(agentId: string, free: WorkerFree): void {
    const s = this.sessions.get(agentId);
    if (!s) return;
    s.free = free;
    this.changed();
  }

  /** The CPU slots of a worker's process (a restarted supervisor asks before the worker is back: then sized when it is). */
  slotsOf(agentId: string): Slots {
    const s = this.sessions.get(agentId);
    if (s) return s.slots;
    let early = this.early.get(agentId);
    if (!early) this.early.set(agentId, (early = new Slots(`worker ${agentId}`, 1)));
    return early;
  }

  // ---- enrollments -------------------------------------------------------------------

  /** Ends a worker's process as an agent (its runs end with the reason) and drops its connection. */
  private end(agentId: string, why: string): void {
    const agent = this.deps.agents.get(agentId);
    this.removeSession(agentId);
    if (agent) {
      agent.endedBecause = why;
      void this.deps.agents.stop(agent, why);
    }
    this.changed();
  }

  /** A revoked token: its workers are disconnected at once, and refused when they come back. */
  revoked(enrollmentId: string, name: string): number {
    const gone = [...this.sessions.values()].filter((s) => s.enrollmentId === enrollmentId);
    for (const s of gone) this.end(s.agentId, `its enrollment token ${name} was revoked`);
    return gone.length;
  }

  connectedOf(enrollmentId: string): number {
    return [...this.sessions.values()].filter((s) => s.enrollmentId === enrollmentId && this.isConnected(s)).length;
  }

  private isConnected(s: Session): boolean {
    return this.deps.agents.get(s.agentId)?.state === 'connected';
  }

  // ---- placement ---------------------------------------------------------------------

  /**
   * Resolves with a connected worker of the run's target that fits it, its slots taken; while
   * none fits, tells `onWaiting` why and waits for a change. Rejects when `signal` aborts.
   */
  async place(row: JobRow, template: Template, requires: Requires, signal: AbortSignal, onWaiting: (why: string) => void): Promise<Placed> {
    const need = { requires: mergeRequires(template.requires, requires), cores: template.resources.cores, memoryMb: template.resources.memoryMb };
    for (;;) {
      if (signal.aborted) throw signal.reason ?? new JobvisorError('JOB_NOT_ACTIVE', 'the wait was abandoned');
      const wake = this.wake.promise;
      const r = this.tryPlace(row, need);
      if ('agent' in r) return r;
      onWaiting(r.why);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason ?? new JobvisorError('JOB_NOT_ACTIVE', 'the wait was abandoned'));
        signal.addEventListener('abort', onAbort, { once: true });
        void wake.then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }

  private tryPlace(row: JobRow, need: { requires: Requires; cores: number; memoryMb: number | undefined }): Placed | { why: string } {
    const candidates = [...this.sessions.values()].filter((s) => s.target === row.target && this.isConnected(s) && this.takesRunsOf(s, row.user));
    const shown = (list: string[]) => list.join(', ');
    if (candidates.length === 0) {
      const wanted = unmet(need.requires, {});
      return { why: wanted.length > 0 ? `no connected worker has ${shown(wanted)}` : `no worker of ${row.target} is connected` };
    }
    const misses = candidates.map((s) => ({ s, miss: unmet(need.requires, s.claim.labels) }));
    const fitting = misses.filter((m) => m.miss.length === 0).map((m) => m.s);
    if (fitting.length === 0) {
      const closest = misses.reduce((a, b) => (b.miss.length < a.miss.length ? b : a));
      return { why: `no connected worker has ${shown(closest.miss)}` };
    }
    const bigEnough = fitting.filter((s) => s.slots.total >= need.cores);
    if (bigEnough.length === 0) return { why: `no connected worker that fits has ${need.cores} slots (the most: ${Math.max(...fitting.map((s) => s.slots.total))})` };
    const free = bigEnough.filter((s) => s.slots.total - s.slots.used >= need.cores && (need.memoryMb === undefined || s.free.memoryMb >= need.memoryMb));
    if (free.length === 0) {
      const what = need.memoryMb === undefined ? `${need.cores} free slot${need.cores > 1 ? 's' : ''}` : `${need.cores} free slot${need.cores > 1 ? 's' : ''} and ${need.memoryMb} MB free`;
      return { why: `waiting for ${what} on a worker (${bigEnough.length} fit${bigEnough.length > 1 ? '' : 's'}, all busy)` };
    }
    const best = free.reduce((a, b) => {
      const fa = a.slots.total - a.slots.used;
      const fb = b.slots.total - b.slots.used;
      return fb > fa || (fb === fa && b.free.memoryMb > a.free.memoryMb) ? b : a;
    });
    const agent = this.deps.agents.get(best.agentId);
    if (!agent) return { why: `worker ${best.claim.name} is going` };
    const taken = best.slots.take(need.cores);
    if (row.runDir !== null) this.deps.store.savePlace(row.runDir, best.workerId);
    return {
      agent,
      worker: best.claim.name,
      release: () => {
        taken();
        this.changed();
      },
    };
  }

  /**
   * The worker an op about a run's files must go to (io, analysis: the worker its run was placed
   * on); undefined for other targets and ops. AGENT_LOST while that worker is not connected.
   */
  agentForOp(target: string, op: Op): ManagedAgent | undefined {
    if (!this.handles({ target }) || (op.kind !== 'io' && op.kind !== 'analysis')) return undefined;
    const archive = op.kind === 'io' && op.archive !== undefined ? op.archive.replace(/\/\d+\.tar\.gz$/, '') : undefined;
    const workerId = this.deps.store.placeOf(op.runDir) ?? (archive === undefined ? undefined : this.deps.store.placeOf(archive.replace('/archive/', '/runs/')));
    if (workerId === undefined) throw new JobvisorError('FILE_NOT_FOUND', 'this run was never placed on a worker');
    const session = this.sessionOf(workerId);
    const agent = session && this.deps.agents.get(session.agentId);
    if (!agent || agent.state !== 'connected') throw new JobvisorError('AGENT_LOST', `the worker holding this run's files (${this.deps.store.worker(workerId)?.name ?? workerId}) is not connected`);
    return agent;
  }

  private takesRunsOf(s: Session, user: string): boolean {
    const e = this.deps.store.enrollment(s.enrollmentId);
    return e !== undefined && e.revokedAt === null && (e.users === null || e.users.includes(user));
  }

  // ---- admin view --------------------------------------------------------------------

  /** Every worker the database knows, with its latest process's state (one pass: each lookup by key). */
  list(): WorkerView[] {
    const runsOf = new Map<string, string[]>();
    for (const r of this.deps.activeRuns()) {
      if (r.agentId === null) continue;
      const list = runsOf.get(r.agentId);
      if (list) list.push(r.id);
      else runsOf.set(r.agentId, [r.id]);
    }
    const enrollments = new Map(this.deps.store.enrollments().map((e) => [e.id, e]));
    const stale = 3 * this.deps.heartbeatMs;
    const now = this.now();
    return this.deps.store.workers().map((w) => {
      const session = this.sessionOf(w.id);
      const agent = session && this.deps.agents.get(session.agentId);
      const lastHeartbeat = agent?.lastHeartbeat ?? w.lastSeen;
      const connected = agent?.state === 'connected';
      const enrollment = enrollments.get(w.enrollmentId);
      return {
        id: w.id,
        name: w.name,
        target: w.target,
        enrollment: enrollment?.name ?? w.enrollmentId,
        enrollmentId: w.enrollmentId,
        revoked: enrollment?.revokedAt !== null && enrollment?.revokedAt !== undefined,
        host: w.host,
        labels: w.labels,
        slots: { used: session?.slots.used ?? 0, total: session?.slots.total ?? w.slots },
        free: session?.free ?? null,
        runs: session ? (runsOf.get(session.agentId) ?? []) : [],
        connected,
        lastHeartbeat,
        stale: now - lastHeartbeat > stale,
      };
    });
  }
}

/** The labels a worker claims that its token does not allow (a token's value "*" allows any value). */
export function labelsOutside(claimed: Labels, allowed: Labels | null): string[] {
  if (allowed === null) return [];
  return Object.entries(claimed)
    .filter(([k, v]) => allowed[k] === undefined || (allowed[k] !== '*' && allowed[k] !== v))
    .map(([k, v]) => `${k}=${v}`);
}
