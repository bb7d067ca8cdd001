/**
 * The op loop of DESIGN.md: an op acquires what it needs (a connected agent, then slots),
 * re-checks its assumptions after every await, sends, awaits the reply, and retries from the
 * top a bounded number of times when the agent's connection goes away under it.
 */
import { JobvisorError } from '../shared/errors.js';
import { delay, sleep, type RetryPolicy } from '../shared/retry.js';
import type { Op } from '../shared/protocol.js';
import type { Size } from '../shared/types.js';
import type { AgentHub } from './agentHub.js';
import type { AgentManager, ManagedAgent } from './agents.js';

export const OP_RETRY: RetryPolicy = { baseMs: 100, maxMs: 2000, jitter: 0.3 };
export const OP_ATTEMPTS = 4;

/** Whose agent an op goes to: an agent of this target and user, for this size (and in one of these pools, when given). */
export interface OpTarget {
  target: string;
  user: string;
  size: Size;
  pools?: readonly string[];
}

export interface OpContext {
  agents: AgentManager;
  hub: AgentHub;
}

/**
 * Thrown by a re-check that finds the op no longer wanted (job canceled, newer run). It is how
 * an op stops, not a fault: it carries no stack (capturing one cost about as much as the rest
 * of a run's end, and every run that ends before its run op's answer makes one).
 */
export class OpAbandoned extends Error {
  constructor(why: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(why);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'OpAbandoned';
  }
}

/** The abort reason of `AbortSignal.timeout()`. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

export function isRetryable(err: unknown): boolean {
  return err instanceof JobvisorError && err.code === 'AGENT_LOST';
}

/**
 * Sends `op` to a connected agent of `target` and returns the agent's result, starting an
 * agent if needed. `recheck` runs after every await and throws to abandon the op.
 * `onAgent` hears the agent chosen before each send (so a caller can lease it).
 */
export function sendOp(
  ctx: OpContext,
  target: OpTarget,
  op: Op,
  signal: AbortSignal,
  hooks: { recheck?: () => void; onAgent?: (agent: ManagedAgent) => void } = {},
): Promise<unknown> {
  return timed(ctx, op, sendOpLoop(ctx, target, op, signal, hooks));
}

/** Observes how long the op took and how it ended (the hub's op metrics, when it has them). */
async function timed(ctx: OpContext, op: Op, result: Promise<unknown>): Promise<unknown> {
  const metrics = ctx.hub.opMetrics;
  if (!metrics) return result;
  const started = performance.now();
  try {
    const value = await result;
    metrics.op(op.kind, 'ok', (performance.now() - started) / 1000);
    return value;
  } catch (err) {
    metrics.op(op.kind, opOutcome(err), (performance.now() - started) / 1000);
    throw err;
  }
}

function opOutcome(err: unknown): 'failed' | 'timeout' | 'abandoned' {
  if (isTimeout(err) || (err instanceof JobvisorError && err.code === 'OP_TIMEOUT')) return 'timeout';
  if (err instanceof OpAbandoned || (err instanceof JobvisorError && err.code === 'JOB_NOT_ACTIVE')) return 'abandoned';
  return 'failed';
}

async function sendOpLoop(
  ctx: OpContext,
  target: OpTarget,
  op: Op,
  signal: AbortSignal,
  hooks: { recheck?: () => void; onAgent?: (agent: ManagedAgent) => void },
): Promise<unknown> {
  const recheck = () => {
    if (signal.aborted) throw signal.reason ?? new OpAbandoned('aborted');
    hooks.recheck?.();
  };
  for (let attempt = 0; ; attempt++) {
    recheck();
    const agent = ctx.agents.pinnedFor(target.target, op) ?? await ctx.agents.connected(target.target, target.user, target.size, signal, target.pools).catch((err: unknown) => {
      throw isTimeout(err) ? new JobvisorError('OP_TIMEOUT', `no agent was ready for the ${op.kind} op in time`) : err;
    });
    recheck();
    hooks.onAgent?.(agent);
    try {
      return await ctx.hub.send(agent.id, op, signal);
    } catch (err) {
      if (isTimeout(err)) throw new JobvisorError('OP_TIMEOUT', `the agent did not answer the ${op.kind} op in time`);
      if (!isRetryable(err) || attempt + 1 >= OP_ATTEMPTS) throw err;
      ctx.hub.opMetrics?.opRetried(op.kind);
      await sleep(delay(attempt, OP_RETRY), signal);
    }
  }
}

/** Like sendOp, but the op must go to one agent (the one that runs the cmd); waits for it to reconnect. */
export function sendToAgent(ctx: OpContext, agentId: string, op: Op, signal: AbortSignal, waitMs: number): Promise<unknown> {
  return timed(ctx, op, sendToAgentLoop(ctx, agentId, op, signal, waitMs));
}

async function sendToAgentLoop(ctx: OpContext, agentId: string, op: Op, signal: AbortSignal, waitMs: number): Promise<unknown> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw signal.reason ?? new OpAbandoned('aborted');
    const agent = ctx.agents.get(agentId);
    if (!agent) throw new JobvisorError('AGENT_LOST', 'the agent that ran this job has ended');
    if (ctx.hub.isConnected(agentId)) {
      try {
        return await ctx.hub.send(agentId, op, signal);
      } catch (err) {
        if (!isRetryable(err)) throw err;
        ctx.hub.opMetrics?.opRetried(op.kind);
      }
    }
    if (Date.now() >= deadline) throw new JobvisorError('AGENT_LOST', `the agent that runs this job did not answer within ${Math.round(waitMs / 1000)} s`);
    await sleep(Math.min(delay(attempt, OP_RETRY), Math.max(0, deadline - Date.now())), signal);
  }
}
