/**
 * Whose fault a run's end is. The supervisor's own end paths (the agent died or did not
 * reconnect, the run could not start, its scheduler lost it) pass their cause where they end
 * the run; an agent's exit update carries its cause when its engine knows it (a scheduler's
 * node failure), else it is read from the exit's code and signal here.
 */
import type { RunCause, RunEnd, Update } from '../../shared/protocol.js';

/** The cause of an end the supervisor makes itself: a cancel is the user's (or an admin's, or the time limit's), an error the system's. */
export function defaultCause(status: RunEnd): RunCause | null {
  if (status === 'completed') return null;
  return status === 'canceled' ? 'user' : 'system';
}

/**
 * The cause of an agent's exit update: the engine's word if it gave one; else a cancel (by a
 * user, an admin, the time limit) is the user's, a command that exited with a non-zero code is
 * the user's, and a command killed by a signal or an end without any exit code (the agent
 * ended the run itself) is the system's.
 */
export function causeOfExit(update: Pick<Extract<Update, { kind: 'exit' }>, 'status' | 'exitCode' | 'signal' | 'cause'>): RunCause | null {
  if (update.status === 'completed') return null;
  if (update.cause) return update.cause;
  if (update.status === 'canceled') return 'user';
  return update.exitCode !== null && update.signal === null ? 'user' : 'system';
}
