/**
 * The BullMQ peer of the throughput part: a Redis of its own (Debian's redis-server on a free
 * port, nothing saved), a worker in a second process (bullWorker.ts: `execFile('/bin/true')`,
 * concurrency 2), and the clients in this one (a Queue and a QueueEvents: add a job, wait for
 * its completion). Redis is reached through ioredis, the client BullMQ is made for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort, waitForLine, stopChild } from './procs.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A connection as BullMQ asks for one (workers block on Redis, so no retry limit per request). */
export function redisConnection(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
}

export interface BullPeer {
  /** Adds one job and resolves when the worker has completed it. */
  runOne(): Promise<void>;
  /** Adds `n` jobs at once (addBulk) and resolves when all have completed. */
  runBulk(n: number): Promise<void>;
  stop(): Promise<void>;
}

export function redisAvailable(): boolean {
  return existsSync(REDIS_SERVER);
}

export async function startBullPeer(concurrency: number): Promise<BullPeer> {
  const port = await freePort();
  const redis = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let worker: ChildProcess | undefined;
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  const clients: Redis[] = [];
  const connect = () => {
    const c = redisConnection(port);
    clients.push(c);
    return c;
  };
  const stop = async () => {
    await events?.close().catch(() => undefined);
    await queue?.close().catch(() => undefined);
    // BullMQ leaves a connection it was given open: without this, ioredis would retry for ever once Redis stops.
    for (const c of clients) c.disconnect();
    if (worker) await stopChild(worker, 5000);
    await stopChild(redis, 5000);
  };
  try {
    await waitForLine(redis, (l) => l.includes('Ready to accept connections'), 10_000, 'redis-server ready');
    const name = 'bench';
    worker = spawn(process.execPath, [path.join(HERE, 'bullWorker.js'), String(port), name, String(concurrency)], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForLine(worker, (l) => l === 'ready', 10_000, 'BullMQ worker ready');
    queue = new Queue(name, { connection: connect() });
    events = new QueueEvents(name, { connection: connect() });
    await events.waitUntilReady();
    await queue.waitUntilReady();
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    const q = queue;
    const ev = events;
    // A job's completion is awaited through QueueEvents (a Redis stream), as a client would.
    // Completed jobs are kept a while (the latest 20,000): waitUntilFinished looks the job up
    // and fails ("Missing key") when it was removed at once.
    const opts = { removeOnComplete: { count: 20_000 }, removeOnFail: { count: 20_000 } };
    return {
      runOne: async () => {
        const job = await q.add('true', {}, opts);
        await job.waitUntilFinished(ev);
      },
      runBulk: async (n) => {
        const jobs = await q.addBulk(Array.from({ length: n }, () => ({ name: 'true', data: {}, opts })));
        await Promise.all(jobs.map((j) => j.waitUntilFinished(ev)));
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
