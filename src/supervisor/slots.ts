/**
 * Slots: a countable permit taken in FIFO order (CPU slots of a driver and run mode, the
 * run-dir slot of a job). A waiter can be aborted, and is told its place in the queue
 * whenever it changes.
 */
import { JobvisorError } from '../shared/errors.js';

export type Release = () => void;

interface Waiter {
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
   * Resolves with a release function once a slot is free. `onPosition` hears the waiter's
   * 1-based place in the queue, first at once and again each time it moves.
   */
  acquire(signal?: AbortSignal, onPosition?: (position: number) => void): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.inUse < this.capacity && this.waiters.length === 0) {
      this.inUse++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, onPosition };
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
  take(): Release {
    this.inUse++;
    return this.releaser();
  }

  /** Changes the capacity (configuration reload); waiters are served if room appears. */
  resize(capacity: number): void {
    this.capacity = capacity;
    this.drain();
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      this.drain();
    };
  }

  private drain(): void {
    let served = 0;
    while (this.inUse < this.capacity && this.waiters.length > 0) {
      const next = this.waiters.shift() as Waiter;
      this.inUse++;
      served++;
      next.resolve(this.releaser());
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
