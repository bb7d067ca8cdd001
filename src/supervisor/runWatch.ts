/**
 * What the supervisor checks about active runs by itself, instead of trusting their agents to
 * report them, once per interval:
 *
 * - a run past its time limit plus a grace (its agent should have ended it at the limit) is
 *   canceled; an agent that does not answer the cancel is stopped, and its cmds with it;
 * - each connected agent with runs is asked for the runs it has, with ONE runStatus op (not one
 *   per run); a run the agent should have (running, or submitted to its scheduler) that it no
 *   longer has ends as error.
 *
 * Runs on a batch scheduler are left out of the first check: their scheduler holds them to the
 * time limit (the batch script asks for it), and their agent ends them when it cannot be asked.
 */
import type { Logger } from '../shared/logger.js';
import { RunStatusResult } from '../shared/protocol.js';
import type { AgentHub } from './agentHub.js';
import type { ComputeJob } from './computeJob.js';

/** How long past its time limit a run may still be reported ended by its agent. */
export const RUN_END_GRACE_MS = 30_000;
export const LOST_RUN_REASON = 'its agent no longer has this run (asked by the supervisor)';

export interface RunWatchDeps {
  /** The jobs whose run is active. */
  active(): Iterable<ComputeJob>;
  hub: AgentHub;
  /** A run's time limit, as its run op gave it. */
  timeLimitSeconds(job: ComputeJob): number;
  graceMs: number;
  intervalMs: number;
  /** How long an agent may take to answer a runStatus op. */
  opTimeoutMs: number;
  log: Logger;
  now(): number;
}

export class RunWatch {
  private readonly timer: NodeJS.Timeout;
  /** Agents asked and not answered yet: never two runStatus ops to one agent at once. */
  private readonly asking = new Set<string>();

  constructor(private readonly deps: RunWatchDeps) {
    this.timer = setInterval(() => this.check(), deps.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const active = [...this.deps.active()];
    for (const job of active) {
      try {
        this.checkTimeLimit(job);
      } catch (err) {
        this.deps.log.warn({ jobId: job.id, err: (err as Error).message }, 'time limit of a run could not be checked');
      }
    }
    for (const [agentId, runs] of this.runsByAgent(active)) this.ask(agentId, runs);
  }

  private checkTimeLimit(job: ComputeJob): void {
    const r = job.row;
    if (r.status !== 'running' || r.externalId !== null || r.startedAt === null) return;
    const limit = this.deps.timeLimitSeconds(job);
    if (this.deps.now() - r.startedAt <= limit * 1000 + this.deps.graceMs) return;
    job.overdue(`time limit of ${limit} s exceeded; the agent did not end the run within ${Math.round(this.deps.graceMs / 1000)} s of it`);
  }

  /** The runs each agent should have: sent to it, and running or submitted to its scheduler. */
  private runsByAgent(active: ComputeJob[]): Map<string, { job: ComputeJob; serial: number }[]> {
    const out = new Map<string, { job: ComputeJob; serial: number }[]>();
    for (const job of active) {
      const r = job.row;
      if (!r.sent || r.agentId === null || (r.status !== 'running' && r.externalId === null)) continue;
      out.set(r.agentId, [...(out.get(r.agentId) ?? []), { job, serial: r.serial }]);
    }
    return out;
  }

  private ask(agentId: string, runs: { job: ComputeJob; serial: number }[]): void {
    if (this.asking.has(agentId) || !this.deps.hub.isConnected(agentId)) return;
    this.asking.add(agentId);
    this.deps.hub
      .send(agentId, { kind: 'runStatus' }, AbortSignal.timeout(this.deps.opTimeoutMs))
      .then((result) => {
        const has = new Set(RunStatusResult.parse(result).runs.map((run) => `${run.jobId}/${run.serial}`));
        for (const { job, serial } of runs) {
          if (has.has(`${job.id}/${serial}`)) continue;
          this.deps.log.warn({ jobId: job.id, serial, agentId }, 'the agent does not have a run it should have');
          job.lostByAgent(agentId, serial, LOST_RUN_REASON);
        }
      })
      .catch((err: unknown) => this.deps.log.debug({ agentId, err: (err as Error).message }, 'runStatus op failed'))
      .finally(() => this.asking.delete(agentId));
  }
}
