/**
 * One job event per job per turn of the event loop. A run's steps often follow one another
 * within one turn (queued, agent there, run-dir slot free, CPU slot free: each a state the job
 * view shows): each would be an event, journaled, relayed and parsed by every client, though
 * only the last was ever true for longer than a few microseconds. So a job's view is held until
 * the end of the turn (`setImmediate`: after the I/O callbacks of this turn, never a timer), and
 * a newer view of the same run replaces the one held. Nothing else waits: the first event of a
 * turn goes out in the same turn, which keeps an agent's "exited" to the client's `completed`
 * free of any delay.
 *
 * The order of what clients see stays the order of the changes: any other event (a log, a
 * deletion, a pipeline) first sends what is held; a view is never merged into one of another
 * run (serial) or one of an ended run (a run ended and replaced in one turn shows both), and a
 * view carrying its history (an earlier run's files changed) is sent as it is.
 */
import type { JobEvent } from '../shared/api.js';
import { isActive } from '../shared/types.js';

type JobViewEvent = Extract<JobEvent, { type: 'job' }>;

export interface EventCoalescer {
  /**
   * `quiet`: a step not worth an event of its own (see ComputeJob.setWaiting): it replaces the
   * view of the same run held this turn, if any (so the one event of the turn is the latest
   * state), else it is dropped.
   */
  emit(event: JobEvent, quiet?: boolean): void;
  /** Sends what is held now (the supervisor stops; a test). */
  flush(): void;
}

/**
 * `onError` hears what publishing a held event threw: it runs at the end of the turn, where
 * nobody would catch it (the events after it are still published).
 */
export function coalesceJobEvents(
  publish: (event: JobEvent) => void,
  onError: (err: unknown, event: JobEvent) => void,
  schedule: (fn: () => void) => void = (fn) => void setImmediate(fn),
): EventCoalescer {
  let held = new Map<string, JobViewEvent>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (held.size === 0) return;
    const out = held;
    held = new Map();
    for (const e of out.values()) {
      try {
        publish(e);
      } catch (err) {
        onError(err, e);
      }
    }
  };
  const mergeable = (e: JobViewEvent): boolean => {
    if (e.job.history.length > 0) return false;
    const before = held.get(e.job.jobId);
    return before === undefined || (before.job.serial === e.job.serial && isActive(before.job.status));
  };
  return {
    emit(event, quiet = false) {
      if (quiet) {
        if (event.type === 'job' && held.has(event.job.jobId) && mergeable(event)) held.set(event.job.jobId, event);
        return;
      }
      if (event.type !== 'job' || !mergeable(event)) {
        flush();
        publish(event);
        return;
      }
      // A Map keeps the place of a key that is set again: the job keeps its turn in the order.
      held.set(event.job.jobId, event);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}
