/**
 * The supervisor's Prometheus metrics (prom-client), in a registry of its own that
 * `createSupervisorMetrics()` makes for one supervisor (no module globals: a test may run two).
 *
 * Hot paths only count and observe (a counter increment, a histogram observe); everything that
 * is a current count (runs by status, slots, agents, workers) is read when scraped, through the
 * `sources` the supervisor binds once it has built its parts.
 *
 * Its process metrics are prefixed `jobvisor_supervisor_` (the server's `jobvisor_server_`), so
 * the server can append this text to its own (GET /metrics there) without two families sharing a name.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SlotUsage, AgentView } from '../shared/api.js';
import type { WorkerView } from '../shared/workersApi.js';
import type { Size } from '../shared/types.js';

/** Seconds: from a few milliseconds (an op on a local agent) to an hour (a run queued behind others). */
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];
const OP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** How an op (through the op loop) ended. */
export type OpOutcome = 'ok' | 'failed' | 'timeout' | 'abandoned';

/** What the supervisor reads when scraped. */
export interface MetricSources {
  /** Current runs (each job's latest run) counted by status, target and template. */
  runCounts(): { status: string; target: string; template: string; n: number }[];
  slotUsage(): SlotUsage[];
  agents(): AgentView[];
  workers(): WorkerView[];
}

/** Cumulative scheduler command counts one agent reported: issued and failed, by command. */
export interface CommandCounts {
  issued: Record<string, number>;
  failed: Record<string, number>;
}

export class SupervisorMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;
  private readonly runsFinished: Counter<'status' | 'target' | 'template'>;
  private readonly runWait: Histogram<'target' | 'pool' | 'size'>;
  private readonly slotWait: Histogram<'target' | 'pool' | 'size'>;
  private readonly opDuration: Histogram<'kind' | 'outcome'>;
  private readonly opRetries: Counter<'kind'>;
  private readonly commands: Counter<'target' | 'command'>;
  private readonly commandFailures: Counter<'target' | 'command'>;
  private readonly reconnects: Counter<'target'>;
  private readonly resent: Counter<'target'>;
  /** The last cumulative counts each agent reported, to turn them into increments. */
  private readonly reported = new Map<string, CommandCounts>();
  /** Agents that connected to this supervisor before (a next connection is a reconnect). */
  private readonly connectedBefore = new Set<string>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'jobvisor_supervisor_' });
    this.runsFinished = new Counter({ name: 'jobvisor_runs_finished_total', help: 'Runs that ended, by outcome (status), target and template.', labelNames: ['status', 'target', 'template'], registers });
    this.runWait = new Histogram({ name: 'jobvisor_run_wait_seconds', help: 'Seconds from a run being queued to it starting (running), by target, slot pool and size.', labelNames: ['target', 'pool', 'size'], buckets: WAIT_BUCKETS, registers });
    this.slotWait = new Histogram({ name: 'jobvisor_slot_wait_seconds', help: 'Seconds a run waited for its CPU slots, by target, slot pool and size (0 when they were free).', labelNames: ['target', 'pool', 'size'], buckets: WAIT_BUCKETS, registers });
    this.opDuration = new Histogram({ name: 'jobvisor_op_duration_seconds', help: 'Seconds an op took through the op loop (finding its agent, retries, the reply), by op kind and outcome.', labelNames: ['kind', 'outcome'], buckets: OP_BUCKETS, registers });
    this.opRetries = new Counter({ name: 'jobvisor_op_retries_total', help: 'Times the op loop sent an op again after its agent connection was lost, by op kind.', labelNames: ['kind'], registers });
    this.commands = new Counter({ name: 'jobvisor_scheduler_commands_total', help: 'Scheduler commands the agents of a cluster target ran (named by its backend), by target and command.', labelNames: ['target', 'command'], registers });
    this.commandFailures = new Counter({ name: 'jobvisor_scheduler_command_failures_total', help: 'Scheduler commands that failed (non-zero exit, timeout), by target and command.', labelNames: ['target', 'command'], registers });
    this.reconnects = new Counter({ name: 'jobvisor_agent_reconnects_total', help: 'Websocket connections of agents that had been connected to this supervisor before, by target.', labelNames: ['target'], registers });
    this.resent = new Counter({ name: 'jobvisor_agent_resent_updates_total', help: 'Updates agents had not had acknowledged when they (re)connected, and so sent on the new connection, by target.', labelNames: ['target'], registers });
    this.addCurrentCounts(registers);
  }

  /** What the gauges read when scraped; until bound, they read nothing. */
  bind(sources: MetricSources): void {
    this.sources = sources;
  }

  /** Prometheus text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  runEnded(row: { status: string; target: string; template: string }): void {
    this.runsFinished.inc({ status: row.status, target: row.target, template: row.template });
  }

  runStarted(row: { target: string; size: Size; queuedAt: number; startedAt: number | null }, pool: string): void {
    if (row.startedAt === null) return;
    this.runWait.observe({ target: row.target, pool, size: row.size }, Math.max(0, row.startedAt - row.queuedAt) / 1000);
  }

  /** The observer of one CPU slot pool's waits (bound to its labels once). */
  slotWaitObserver(target: string, pool: string, size: Size): (seconds: number) => void {
    const child = this.slotWait.labels({ target, pool, size });
    return (seconds) => child.observe(seconds);
  }

  op(kind: string, outcome: OpOutcome, seconds: number): void {
    this.opDuration.observe({ kind, outcome }, seconds);
  }

  opRetried(kind: string): void {
    this.opRetries.inc({ kind });
  }

  /** An agent connected: a reconnect when it was connected to this supervisor before. */
  agentConnected(agentId: string, target: string): void {
    if (this.connectedBefore.has(agentId)) this.reconnects.inc({ target });
    else this.connectedBefore.add(agentId);
  }

  /** An agent's hello: the updates it will send again on this connection. */
  agentHello(target: string, pendingUpdates: number): void {
    if (pendingUpdates > 0) this.resent.inc({ target }, pendingUpdates);
  }

  /** An agent's cumulative scheduler command counts: what grew since its last report is counted. */
  schedulerCommands(agentId: string, target: string, counts: CommandCounts): void {
    const last = this.reported.get(agentId) ?? { issued: {}, failed: {} };
    addGrowth(this.commands, target, last.issued, counts.issued);
    addGrowth(this.commandFailures, target, last.failed, counts.failed);
    this.reported.set(agentId, counts);
  }

  /** An agent that ended: nothing of it is kept. */
  agentGone(agentId: string): void {
    this.reported.delete(agentId);
    this.connectedBefore.delete(agentId);
  }

  /** Gauges read at scrape time from the bound sources. */
  private addCurrentCounts(registers: Registry[]): void {
    const sources = () => this.sources;
    new Gauge({
      name: 'jobvisor_runs', help: 'Current runs (the latest run of each job) by status, target and template.', labelNames: ['status', 'target', 'template'], registers,
      collect() {
        this.reset();
        for (const r of sources()?.runCounts() ?? []) this.set({ status: r.status, target: r.target, template: r.template }, r.n);
      },
    });
    const slotGauge = (name: string, help: string, value: (s: SlotUsage) => number) =>
      new Gauge({
        name, help, labelNames: ['target', 'pool', 'size'], registers,
        collect() {
          this.reset();
          for (const s of sources()?.slotUsage() ?? []) this.set({ target: s.target, pool: s.pool, size: s.size }, value(s));
        },
      });
    slotGauge('jobvisor_slot_queue_length', 'Runs waiting for CPU slots, by target, slot pool and size.', (s) => s.waiting);
    slotGauge('jobvisor_slots_used', 'CPU slots in use, by target, slot pool and size.', (s) => s.used);
    slotGauge('jobvisor_slots_total', 'CPU slots there are, by target, slot pool and size.', (s) => s.total);
    new Gauge({
      name: 'jobvisor_agents', help: 'Agents the supervisor knows, by target, driver and state (connected, starting, disconnected, stopping).', labelNames: ['target', 'driver', 'state'], registers,
      collect() {
        this.reset();
        const n = new Map<string, { target: string; driver: string; state: string; n: number }>();
        for (const a of sources()?.agents() ?? []) {
          const key = `${a.target}\0${a.driver}\0${a.state}`;
          const e = n.get(key) ?? { target: a.target, driver: a.driver, state: a.state, n: 0 };
          e.n++;
          n.set(key, e);
        }
        for (const e of n.values()) this.set({ target: e.target, driver: e.driver, state: e.state }, e.n);
      },
    });
    new Gauge({
      name: 'jobvisor_workers', help: 'Enrolled workers, by target and whether they are connected now.', labelNames: ['target', 'connected'], registers,
      collect() {
        this.reset();
        const n = new Map<string, number>();
        for (const w of sources()?.workers() ?? []) n.set(`${w.target}\0${w.connected}`, (n.get(`${w.target}\0${w.connected}`) ?? 0) + 1);
        for (const [key, value] of n) {
          const [target = '', connected = ''] = key.split('\0');
          this.set({ target, connected }, value);
        }
      },
    });
  }
}

/** Adds to `counter` what each command's count grew by since `before` (a count that fell: the agent restarted, all of it is new). */
function addGrowth(counter: Counter<'target' | 'command'>, target: string, before: Record<string, number>, now: Record<string, number>): void {
  for (const [command, n] of Object.entries(now)) {
    const was = before[command] ?? 0;
    const grew = n >= was ? n - was : n;
    if (grew > 0) counter.inc({ target, command }, grew);
  }
}

export function createSupervisorMetrics(): SupervisorMetrics {
  return new SupervisorMetrics();
}
