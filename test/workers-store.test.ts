/**
 * The workers store (src/supervisor/store/workers.ts): it keeps a copy of the workers table in
 * memory (the admin view reads it whole), and what it answers is what a fresh store on the same
 * database file reads back; a worker's last heartbeat, written in batches, never moves back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteWorkerStore, type WorkerRow } from '../src/supervisor/store/workers.js';

const row = (id: string, firstSeen: number, more: Partial<WorkerRow> = {}): WorkerRow => ({
  id, enrollmentId: 'e1', target: 'lab', name: `box-${id}`, host: 'h', labels: { os: 'linux' }, slots: 1, firstSeen, lastSeen: firstSeen, ...more,
});

describe('workers store', () => {
  let dir: string;
  let file: string;
  let store: SqliteWorkerStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-workers-store-'));
    file = path.join(dir, 'jobs.sqlite');
    store = new SqliteWorkerStore(file);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers what a fresh store on the same file reads: first seen first, a re-join keeps its first time', () => {
    store.saveWorker(row('b', 200));
    store.saveWorker(row('a', 200));
    store.saveWorker(row('c', 100));
    store.saveWorker(row('b', 900, { name: 'renamed', slots: 4, lastSeen: 900 }));
    const again = new SqliteWorkerStore(file);
    try {
      expect(store.workers()).toEqual(again.workers());
      expect(store.workers().map((w) => w.id)).toEqual(['c', 'a', 'b']);
      expect(store.worker('b')).toMatchObject({ name: 'renamed', slots: 4, firstSeen: 200, lastSeen: 900 });
      expect(again.worker('b')).toEqual(store.worker('b'));
      expect(store.worker('nobody')).toBeUndefined();
    } finally {
      again.close();
    }
  });

  it('writes many last heartbeats at once, and never moves one back', () => {
    for (let i = 0; i < 50; i++) store.saveWorker(row(`w${i}`, 1000));
    store.saveSeen(Array.from({ length: 50 }, (_, i) => ({ id: `w${i}`, lastSeen: 2000 + i })));
    store.saveSeen([{ id: 'w0', lastSeen: 1500 }, { id: 'unknown', lastSeen: 5000 }]);
    const again = new SqliteWorkerStore(file);
    try {
      expect(store.worker('w0')?.lastSeen).toBe(2000);
      expect(store.worker('w49')?.lastSeen).toBe(2049);
      expect(again.workers().map((w) => w.lastSeen)).toEqual(store.workers().map((w) => w.lastSeen));
      expect(store.worker('unknown')).toBeUndefined();
    } finally {
      again.close();
    }
  });
});
