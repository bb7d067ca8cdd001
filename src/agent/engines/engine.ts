/**
 * The run engine interface: how an agent runs what its supervisor asks, on its side. Two
 * engines: processes on the agent's machine (process.ts), and a batch-scheduler engine shared
 * by every scheduler (batch.ts, with one small module per scheduler). An engine reports each
 * run's progress through `push`, which numbers the update and keeps it until acknowledged.
 */
import type { AgentRun, Op, Update } from '../../shared/protocol.js';

export type RunOp = Extract<Op, { kind: 'run' }>;
export type AttachOp = Extract<Op, { kind: 'attach' }>;

/** Sends one update of a run; returns its sequence number. */
export type Push = (jobId: string, serial: number, update: Update) => number;

export interface RunEngine {
  /** Starts a run. Asking again for a run the engine has answers with what it has (the op is idempotent). */
  start(op: RunOp): Promise<{ pid: number; externalId?: string }>;
  /** Optional: follows a run started earlier, by this agent or by one before it. */
  attach?(op: AttachOp): Promise<{ known: boolean }>;
  /** Ends a run; `known: false` when the engine has no such run. Resolves once the run has ended (or the engine gave up waiting). */
  cancel(jobId: string, serial: number, reason: string): Promise<{ known: boolean }>;
  /** The runs the engine has, for the agent's hello and runStatus. */
  runs(): AgentRun[];
  /** The supervisor has applied every update up to `seq`: runs whose end it has can be forgotten. */
  acked(seq: number): void;
  /** Whether something still runs (an agent whose runs go on does not end itself for want of a supervisor). */
  readonly busy: boolean;
  /** Sends what the engine gathered (log lines, progress) now. */
  flush(): void;
  /** Ends the engine: a process engine ends its cmds; a batch engine stops watching (the scheduler's jobs go on). */
  stop(why: string): Promise<void>;
}

export const runKey = (jobId: string, serial: number) => `${jobId}/${serial}`;
