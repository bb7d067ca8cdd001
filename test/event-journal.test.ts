/**
 * The supervisor's event journal (src/supervisor/events.ts): the bus numbers each event as it
 * publishes it and writes the events of one turn of the event loop to the journal in one
 * transaction at the end of that turn. Numbers go on across a restart, a backlog read or a close
 * writes what waits first, and an event that could not be journaled was still published.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/shared/api.js';
import { createLogger } from '../src/shared/logger.js';
import { EventBus, type PublishedEvent } from '../src/supervisor/events.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';

const placement = () => ({ target: 'local', driver: 'local', size: 'sequential' as const });
const log = createLogger('test', 'silent');
const deleted = (n: number): JobEvent => ({ type: 'deleted', user: 'u', jobId: `job-${n}` });
const endOfTurn = () => new Promise((r) => setImmediate(r));

describe('event journal', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-journal-'));
    file = path.join(dir, 'jobs.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('numbers the events of a turn at once and journals them together at its end', async () => {
    const store = new SqliteJobStore(file, placement);
    const bus = new EventBus(store, log);
    const seen: PublishedEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    for (let n = 1; n <= 3; n++) bus.emit(deleted(n));
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(bus.latest).toBe(3);
    expect(store.eventsAfter(0, 10)).toEqual([]); // not yet: at the end of the turn
    await endOfTurn();
    expect(store.eventsAfter(0, 10).map((e) => [e.id, e.type, JSON.parse(e.data).jobId])).toEqual([
      [1, 'deleted', 'job-1'],
      [2, 'deleted', 'job-2'],
      [3, 'deleted', 'job-3'],
    ]);
    bus.emit(deleted(4));
    bus.close(); // writes what waits
    store.close();

    // A restart goes on from the last number journaled.
    const again = new SqliteJobStore(file, placement);
    const bus2 = new EventBus(again, log);
    expect(bus2.latest).toBe(4);
    bus2.emit(deleted(5));
    // A backlog read in the same turn has the event just published.
    const backlog = bus2.backlog(3, 10);
    expect(backlog.resync).toBe(false);
    expect(backlog.resync === false && backlog.events.map((e) => e.id)).toEqual([4, 5]);
    bus2.close();
    again.close();
  });

  it('keeps about the latest `keep` events when turns write many at once', async () => {
    const store = new SqliteJobStore(file, placement);
    const bus = new EventBus(store, log, 100);
    for (let turn = 0; turn < 20; turn++) {
      for (let k = 0; k < 17; k++) bus.emit(deleted(turn * 17 + k));
      await endOfTurn();
    }
    const { oldest, latest } = store.eventRange();
    expect(latest).toBe(340);
    expect(latest - oldest + 1).toBeGreaterThanOrEqual(100);
    expect(latest - oldest + 1).toBeLessThanOrEqual(110 + 17);
    bus.close();
    store.close();
  });

  it('publishes events it could not journal, and journals the next ones under their own numbers', async () => {
    const store = new SqliteJobStore(file, placement);
    let fail = true;
    const journal = {
      appendEvents: (events: Parameters<SqliteJobStore['appendEvents']>[0], keep: number) => {
        if (fail) throw new Error('disk full');
        store.appendEvents(events, keep);
      },
      eventsAfter: (after: number, limit: number) => store.eventsAfter(after, limit),
      eventRange: () => store.eventRange(),
    };
    const errors: unknown[] = [];
    const bus = new EventBus(journal, { ...log, error: (o: unknown) => errors.push(o) } as unknown as typeof log);
    const seen: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    bus.emit(deleted(1));
    await endOfTurn();
    expect(errors).toHaveLength(1);
    fail = false;
    bus.emit(deleted(2));
    await endOfTurn();
    expect(seen).toEqual([1, 2]);
    expect(store.eventsAfter(0, 10).map((e) => e.id)).toEqual([2]);
    bus.close();
    store.close();
  });
});
