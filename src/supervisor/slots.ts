/**
 * Slots: a countable permit taken in FIFO order (CPU slots of a driver and run mode, the
 * run-dir slot of a job). A waiter can be aborted, and is told its place in the queue
 * whenever it changes.
 */
import { JobvisorError } from '../shared/errors.js';

export type Release = () => void;

interface Waiter {
  count: number;
  resolve: (release: Release) => void;
  reject: (err: unknown) => void;
  onPosition?: (position: number) => void;
}

export class Slots {
  private inUse = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly name: string,
    private capacity: number,
  ) {}

  get used(): number {
    return this.inUse;
  }

  get total(): number {
    return this.capacity;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with a release function once `count` slots are free (never more than the
   * capacity). Waiters are served strictly in order. `onPosition` hears the waiter's 1-based
   * place in the queue, first at once and again each time it moves.
   */
  acquire(signal?: AbortSignal, onPosition?: (position: number) => void, count = 1): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const n = Math.max(1, Math.min(count, this.capacity));
    if (this.inUse + n <= this.capacity && this.waiters.length === 0) {
      this.inUse += n;
      return Promise.resolve(this.releaser(n));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { count: n, resolve, reject, onPosition };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          this.announcePositions(i);
        }
        reject(abortError(signal));
      };
      waiter.resolve = (release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      onPosition?.(this.waiters.length);
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

  private drain(): void {
    let served = 0;
    while (this.waiters.length > 0 && this.inUse + (this.waiters[0] as Waiter).count <= this.capacity) {
      const next = this.waiters.shift() as Waiter;
      this.inUse += next.count;
      served++;
      next.resolve(this.releaser(next.count));
    }
    if (served > 0) this.announcePositions(0);
  }

  private announcePositions(from: number): void {
    for (let i = from; i < this.waiters.length; i++) this.waiters[i]?.onPosition?.(i + 1);
  }
}

function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new JobvisorError('JOB_NOT_ACTIVE', 'the wait was abandoned');
}
