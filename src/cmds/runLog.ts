/**
 * A run's log file (`run.log`): the cmd's output lines appended in order. A write the disk
 * refuses (full: ENOSPC, EDQUOT; or another error) is neither fatal nor lost: what could not be
 * written is kept, in order, and written again every RETRY_MS until the disk takes it, so every
 * line lands once. Up to MAX_PENDING_BYTES are kept; beyond that, lines are dropped and a marker
 * line says how many bytes are missing. `problem` hears when writing stops and starts again.
 */
import { close, openSync, write } from 'node:fs';

export const RETRY_MS = 1000;
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class RunLog {
  private readonly queue: Buffer[] = [];
  private pendingBytes = 0;
  private droppedBytes = 0;
  private writing = false;
  private ending = false;
  private failing: string | null = null;
  private done = false;
  private retry: NodeJS.Timeout | null = null;
  private settledWaiters: (() => void)[] = [];
  private closedResolve!: () => void;
  /** Resolves once everything was written (or given up at close) and the file is closed. */
  readonly closed = new Promise<void>((resolve) => (this.closedResolve = resolve));

  private constructor(
    private readonly fd: number,
    private readonly problem: (what: string | null) => void,
  ) {}

  /**
   * Opens (appends to) the log; `problem` hears a message when writing fails, and null when it
   * works again. The open is synchronous: one syscall at every run's start, where the promise
   * version was a round trip through libuv's thread pool before the cmd could be started (and a
   * FileHandle to make); writes and the close stay off the event loop.
   */
  static async open(file: string, problem: (what: string | null) => void = () => undefined): Promise<RunLog> {
    return new RunLog(openSync(file, 'a'), problem);
  }

  /** One write of `buf` at the end of the file: the bytes written. */
  private writeOnce(buf: Buffer): Promise<number> {
    return new Promise((resolve, reject) => write(this.fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
  }

  write(text: string): void {
    if (this.done) return;
    if (this.pendingBytes >= MAX_PENDING_BYTES) {
      this.droppedBytes += Buffer.byteLength(text);
      return;
    }
    if (this.droppedBytes > 0) {
      this.push(`[run log: ${this.droppedBytes} bytes of output were dropped while the log could not be written]\n`);
      this.droppedBytes = 0;
    }
    this.push(text);
    void this.drain();
  }

  /**
   * Resolves once every line given so far is in the file, or as soon as the disk refuses a write
   * (what it refused stays kept and is tried again): a run's end is said only after its log holds
   * every line, so whoever reads the log at the end (the run's size, a download) sees all of it.
   */
  settled(): Promise<void> {
    // A write under way keeps its buffer at the head of the queue until it is done.
    if (this.failing !== null || this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private wakeSettled(): void {
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  /** Closes the log once what is kept has been written; keeps trying while the disk refuses it. */
  end(): void {
    this.ending = true;
    void this.drain();
  }

  private push(text: string): void {
    const buf = Buffer.from(text);
    this.queue.push(buf);
    this.pendingBytes += buf.length;
  }

  private async drain(): Promise<void> {
    if (this.writing || this.retry) return;
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        if (this.queue.length > 1) this.queue.splice(0, this.queue.length, Buffer.concat(this.queue));
        const head = this.queue[0] as Buffer;
        let written: number;
        try {
          written = await this.writeOnce(head);
        } catch (err) {
          this.failed(err as NodeJS.ErrnoException);
          return;
        }
        this.pendingBytes -= written;
        if (written < head.length) this.queue[0] = head.subarray(written);
        else this.queue.shift();
        if (this.failing !== null) {
          this.failing = null;
          this.problem(null);
        }
      }
      this.wakeSettled();
      if (this.ending) await this.close();
    } finally {
      this.writing = false;
    }
  }

  private failed(err: NodeJS.ErrnoException): void {
    const what = `the run log cannot be written (${err.code ?? err.message}); ${this.pendingBytes} bytes kept, trying again every ${RETRY_MS / 1000} s`;
    if (this.failing === null) this.problem(what);
    this.failing = what;
    this.wakeSettled();
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.drain();
    }, RETRY_MS);
    this.retry.unref();
  }

  private async close(): Promise<void> {
    this.done = true;
    await new Promise<void>((resolve) => close(this.fd, () => resolve()));
    this.closedResolve();
  }
}
