/**
 * The floor of the throughput part, run in a fresh process: `node spawnFloor.js rate <jobs>
 * <parallel>` spawns `/bin/true` that many times, `parallel` at a time, and prints
 * `{"perSecond": n}`; `node spawnFloor.js latency <jobs>` spawns it one at a time and prints
 * `{"latenciesMs": [...]}` (spawn to exit, each).
 */
import { spawn } from 'node:child_process';

function once(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`/bin/true exited with ${code}`))));
  });
}

const [mode, jobsArg, parallelArg] = process.argv.slice(2);
const jobs = Number(jobsArg ?? 200);
if (mode === 'latency') {
  const latenciesMs: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const t0 = performance.now();
    await once();
    latenciesMs.push(performance.now() - t0);
  }
  process.stdout.write(JSON.stringify({ latenciesMs }) + '\n');
} else {
  const parallel = Number(parallelArg ?? 2);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs) {
        next++;
        await once();
      }
    }),
  );
  process.stdout.write(JSON.stringify({ perSecond: jobs / ((performance.now() - t0) / 1000) }) + '\n');
}
