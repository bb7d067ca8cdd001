/**
 * Slots: a countable permit (CPU slots of a target, pool and size; the run-dir slot of a job).
 * Waiters are served fairly between owners (users): round-robin over the owners that wait, in
 * the order each owner's first waiter came, and first come first served within one owner; so
 * one user's burst cannot starve another's single run. A waiter can be aborted, and is told
 * its place in the queue whenever it changes.
 */
import { JobvisorError } from '../shared/errors.js';

export type Release = () => void;

interface Waiter {
  owner: string;
  count: number;
  resolve: (release: Release) => void;
  reject: (err: unknown) => void;
  onPosition?: (position: number) => void;
  position: number;
  /** When it began to wait (performance.now()), for the wait observer. */
  since: number;
}

export class Slots {
  private inUse = 0;
  /** Each owner's waiters, first come first; owners in the order they came (a Map keeps insertion order). */
  private readonly queues = new Map<string, Waiter[]>();
  /** The owner served last: the next turn goes to the owner after it. */
  private lastOwner: string | null = null;
  private waiterCount = 0;

  constructor(
    readonly name: string,
    private capacity: number,
    /** Hears how many seconds each granted acquire waited (0 when the slots were free): metrics. */
    private readonly onWaited?: (seconds: number) => void,
  ) {}

  get used(): number {
    return this.inUse;
  }

  get total(): number {
    return this.capacity;
  }

  get waiting(): number {
    return this.waiterCount;
  }

  /**
   * Resolves with a release function once `count` slots are free (never more than the
   * capacity) and it is this waiter's turn. `onPosition` hears the waiter's 1-based place in
   * the order waiters will be served, first at once and again each time it moves.
   */
  acquire(signal?: AbortSignal, onPosition?: (position: number) => void, count = 1, owner = ''): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const n = Math.max(1, Math.min(count, this.capacity));
    if (this.inUse + n <= this.capacity && this.waiterCount === 0) {
      this.inUse += n;
      this.lastOwner = owner;
      this.onWaited?.(0);
      return Promise.resolve(this.releaser(n));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { owner, count: n, resolve, reject, onPosition, position: 0, since: this.onWaited ? performance.now() : 0 };
      const onAbort = () => {
        if (this.remove(waiter)) this.announcePositions();
        reject(abortError(signal));
      };
      waiter.resolve = (release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.queues.get(owner) ?? [];
      queue.push(waiter);
      this.queues.set(owner, queue);
      this.waiterCount++;
      this.announcePositions();
    });
  }

  /** Takes a slot at once, even past capacity: for a run a restarted supervisor finds already running. */
  take(count = 1): Release {
    this.inUse += count;
    return this.releaser(count);
  }

  /** Changes the capacity (configuration reload); waiters are served if room appears. */
  resize(capacity: number): void {
    this.capacity = capacity;
    this.drain();
  }

  private releaser(count: number): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= count;
      this.drain();
    };
  }

  /** The owners in the order of their next turns: those after the last served first, then the rest. */
  private turnOrder(): string[] {
    const owners = [...this.queues.keys()];
    const i = this.lastOwner === null ? -1 : owners.indexOf(this.lastOwner);
    if (i < 0) return owners;
    return [...owners.slice(i + 1), ...owners.slice(0, i + 1)];
  }

  /** Every waiter in the order it will be served: one per owner per round, in turn order. */
  private serviceOrder(): Waiter[] {
    const queues = this.turnOrder().map((o) => [...(this.queues.get(o) ?? [])]);
    const out: Waiter[] = [];
    for (let round = 0; out.length < this.waiterCount; round++) {
      for (const q of queues) if (q[round]) out.push(q[round] as Waiter);
    }
    return out;
  }

  private drain(): void {
    let served = 0;
    for (;;) {
      const next = this.serviceOrder()[0];
      if (!next || this.inUse + next.count > this.capacity) break;
      this.remove(next);
      this.inUse += next.count;
      this.lastOwner = next.owner;
      served++;
      this.onWaited?.((performance.now() - next.since) / 1000);
      next.resolve(this.releaser(next.count));
    }
    if (served > 0) this.announcePositions();
  }

  private remove(waiter: Waiter): boolean {
    const queue = this.queues.get(waiter.owner);
    const i = queue?.indexOf(waiter) ?? -1;
    if (!queue || i < 0) return false;
    queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(waiter.owner);
    this.waiterCount--;
    return true;
  }

  /** Tells every waiter whose place changed its new place. */
  private announcePositions(): void {
    this.serviceOrder().forEach((w, i) => {
      if (w.position === i + 1) return;
      w.position = i + 1;
      w.onPosition?.(i + 1);
    });
  }
}

function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new JobvisorError('JOB_NOT_ACTIVE', 'the wait was abandoned');
}
