/**
 * One-at-a-time work per key: `run(key, fn)` starts `fn` after every earlier call with the same
 * key has settled (whether it succeeded or not). Used for a job key's runs (single runs and
 * batches, which hold all their keys: `runAll`) and a pipeline's steps.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Whether work for `key` is under way or waiting. */
  has(key: string): boolean {
    return this.tails.has(key);
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.tails.set(key, next);
    void next
      .finally(() => {
        if (this.tails.get(key) === next) this.tails.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  /**
   * Runs `fn` holding every key of `keys` at once. The keys are taken one after the other in
   * sorted order, so two callers asking for overlapping sets never wait for each other in a
   * circle (a single `run` is a set of one).
   */
  runAll<T>(keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const take = (i: number): Promise<T> => (i === sorted.length ? fn() : this.run(sorted[i] as string, () => take(i + 1)));
    return take(0);
  }
}
