/**
 * The BullMQ worker process of the throughput part's peer: `node bullWorker.js <redis port>
 * <queue> <concurrency>`; each job is `execFile('/bin/true')`. Prints `ready` once it listens,
 * ends on SIGTERM after closing the worker.
 */
import { execFile } from 'node:child_process';
import { Worker } from 'bullmq';
import { redisConnection } from './bull.js';

const [port, name, concurrency] = process.argv.slice(2);
const connection = redisConnection(Number(port));
const worker = new Worker(
  name ?? 'bench',
  () =>
    new Promise<void>((resolve, reject) => {
      execFile('/bin/true', (err) => (err ? reject(err) : resolve()));
    }),
  { connection, concurrency: Number(concurrency ?? 2), drainDelay: 5 },
);
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void worker.close().finally(() => {
    connection.disconnect();
    process.exit(0);
  });
});
