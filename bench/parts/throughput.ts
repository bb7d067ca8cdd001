/**
 * Part "throughput" of `npm run bench` (issue 13, targets 1, 2 and 8a): `/bin/true` jobs through
 * the HTTP API of a real jobvisor (2 CPU slots on the local target), against, in the same run,
 * `spawn('/bin/true')` from a fresh process (the floor) and BullMQ + Redis (a worker process
 * with an `execFile('/bin/true')` processor, concurrency 2). Rows:
 *
 * 1. 8 closed-loop clients (each submits a job, waits for its `completed` event on
 *    /api/events, submits the next): jobs/s vs the floor (2 spawns at a time) and BullMQ (the
 *    same 8 clients: add, then `waitUntilFinished`).
 * 2. n jobs submitted at once (one `POST /api/jobs/batch`), then awaited, vs BullMQ `addBulk`;
 *    also the job events per job the client received.
 * 3. One job at a time, submit -> `completed` seen on /api/events: p50 and p99 against the
 *    floor's (spawn one /bin/true, wait for its exit); BullMQ's p50 for information.
 *
 * Profiling: BENCH_SUPERVISOR_NODE_ARGS / BENCH_SERVER_NODE_ARGS / BENCH_AGENT_NODE_ARGS (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`) are node options for the supervisor / server / agents.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, percentile, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { redisAvailable, startBullPeer, type BullPeer } from './throughput/bull.js';
import { startJobvisor, type Jv } from './throughput/jobvisor.js';
import { childrenOf, cpuMs, runNodeJson } from './throughput/procs.js';

const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'throughput', 'spawnFloor.js');
const CLIENTS = 8;
const SLOTS = 2;
const JOB_TIMEOUT_MS = 60_000;

let serial = 0;
const key = (tag: string) => `${tag}-${++serial}`;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** `jobs` tasks by `clients` closed-loop clients; returns tasks per second. */
async function closedLoop(jobs: number, clients: number, task: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs) {
        next++;
        await task();
      }
    }),
  );
  return jobs / ((performance.now() - t0) / 1000);
}

async function jvOne(jv: Jv, tag: string): Promise<void> {
  const id = await jv.submit(key(tag));
  const status = await within(jv.completion(id), JOB_TIMEOUT_MS, `job ${id}`);
  if (status !== 'completed') throw new Error(`job ${id} ended ${status}`);
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function closedLoopRow(ctx: BenchContext, jv: Jv, bull: BullPeer | undefined, jobs: number): Promise<BenchRow> {
  const floor: number[] = [];
  const bq: number[] = [];
  const ours: number[] = [];
  const cpu: { supervisor: number; server: number; agents: number; spawners: number }[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    floor.push((await runNodeJson<{ perSecond: number }>(FLOOR, ['rate', String(jobs), String(SLOTS)])).perSecond);
    if (bull) bq.push(await closedLoop(jobs, CLIENTS, () => bull.runOne()));
    const agents = childrenOf(jv.supervisorPid);
    // An agent's long-lived children: its spawner (it forks the cmds; the cmds themselves come and go).
    const pids = { supervisor: jv.supervisorPid, server: jv.serverPid, agents, spawners: agents.flatMap((a) => childrenOf(a)) };
    // A cmd caught running when the list was made is gone by the end (NaN): it counts for nothing.
    const sum = (list: number[]) => list.reduce((n, p) => n + (cpuMs(p) || 0), 0);
    const cpuNow = () => ({ supervisor: cpuMs(pids.supervisor), server: cpuMs(pids.server), agents: sum(pids.agents), spawners: sum(pids.spawners) });
    const before = cpuNow();
    ours.push(await closedLoop(jobs, CLIENTS, () => jvOne(jv, 'loop')));
    const after = cpuNow();
    cpu.push({ supervisor: (after.supervisor - before.supervisor) / jobs, server: (after.server - before.server) / jobs, agents: (after.agents - before.agents) / jobs, spawners: (after.spawners - before.spawners) / jobs });
    ctx.log(`closed loop ${r + 1}/${ctx.repeats}: spawn ${f0(floor.at(-1)!)}/s, BullMQ ${bull ? f0(bq.at(-1)!) : '-'}/s, jobvisor ${f0(ours.at(-1)!)}/s`);
  }
  const [fl, b, j] = [median(floor), median(bq), median(ours)];
  const vsFloor = j / fl;
  const vsBull = j / b;
  return {
    measure: `1. /bin/true jobs, ${CLIENTS} clients, ${SLOTS} slots`,
    peer: `spawn ${f0(fl)}/s; BullMQ ${bull ? f0(b) : '-'}/s`,
    jobvisor: `${f0(j)} jobs/s`,
    ratio: `${f2(vsFloor)} x spawn; ${bull ? f2(vsBull) : '-'} x BullMQ`,
    target: '>= 0.90 x spawn and >= 1.00 x BullMQ',
    pass: vsFloor >= 0.9 && (bull ? vsBull >= 1 : false),
    note: `${jobs} jobs per run, median of ${ctx.repeats}; jobvisor runs: ${ours.map(f0).join(', ')}/s; CPU ms per job (median): supervisor ${f2(median(cpu.map((c) => c.supervisor)))}, server ${f2(median(cpu.map((c) => c.server)))}, agent ${f2(median(cpu.map((c) => c.agents)))} + its spawner ${f2(median(cpu.map((c) => c.spawners)))}; closed loop: each client POST /api/jobs then waits for the job's completed event on /api/events${bull ? '' : '; BullMQ not measured (no redis-server)'}`,
  };
}

async function batchRow(ctx: BenchContext, jv: Jv, bull: BullPeer | undefined, jobs: number): Promise<BenchRow> {
  const bq: number[] = [];
  const ours: number[] = [];
  const perJob: number[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    if (bull) {
      const t0 = performance.now();
      await bull.runBulk(jobs);
      bq.push(jobs / ((performance.now() - t0) / 1000));
    }
    const t0 = performance.now();
    const ids = await jv.submitBatch(key('batch'), jobs);
    const statuses = await within(Promise.all(ids.map((id) => jv.completion(id))), JOB_TIMEOUT_MS * 4, 'batch');
    ours.push(jobs / ((performance.now() - t0) / 1000));
    const bad = statuses.filter((s) => s !== 'completed').length;
    if (bad > 0) throw new Error(`${bad} jobs of the batch did not complete`);
    // The last events of a job may trail its completion a little: counted after a breath.
    await new Promise((res) => setTimeout(res, 200));
    perJob.push(ids.reduce((n, id) => n + jv.eventsOf(id), 0) / ids.length);
    ctx.log(`batch ${r + 1}/${ctx.repeats}: BullMQ ${bull ? f0(bq.at(-1)!) : '-'}/s, jobvisor ${f0(ours.at(-1)!)}/s, ${f1(perJob.at(-1)!)} job events per job`);
  }
  const [b, j] = [median(bq), median(ours)];
  return {
    measure: `2. ${jobs} /bin/true jobs at once, ${SLOTS} slots`,
    peer: `BullMQ addBulk ${bull ? f0(b) : '-'}/s`,
    jobvisor: `${f0(j)} jobs/s; ${f1(median(perJob))} job events/job`,
    ratio: `${bull ? f2(j / b) : '-'} x BullMQ`,
    target: '>= 1.00 x BullMQ; <= 4 job events per job',
    pass: bull ? j / b >= 1 && median(perJob) <= 4 : false,
    note: `one POST /api/jobs/batch of ${jobs} runs, then every completed event awaited; median of ${ctx.repeats}; job events per job: ${perJob.map(f1).join(', ')}`,
  };
}

async function latencyRow(ctx: BenchContext, jv: Jv, bull: BullPeer | undefined, jobs: number): Promise<BenchRow> {
  const floorP50: number[] = [];
  const floorP99: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const bullP50: number[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    const floor = (await runNodeJson<{ latenciesMs: number[] }>(FLOOR, ['latency', String(jobs)])).latenciesMs;
    floorP50.push(percentile(floor, 50));
    floorP99.push(percentile(floor, 99));
    if (bull) {
      const ms: number[] = [];
      for (let i = 0; i < jobs; i++) {
        const t0 = performance.now();
        await bull.runOne();
        ms.push(performance.now() - t0);
      }
      bullP50.push(percentile(ms, 50));
    }
    const ms: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const t0 = performance.now();
      await jvOne(jv, 'one');
      ms.push(performance.now() - t0);
    }
    p50.push(percentile(ms, 50));
    p99.push(percentile(ms, 99));
    ctx.log(`one at a time ${r + 1}/${ctx.repeats}: spawn p50 ${f1(floorP50.at(-1)!)} p99 ${f1(floorP99.at(-1)!)} ms, jobvisor p50 ${f1(p50.at(-1)!)} p99 ${f1(p99.at(-1)!)} ms`);
  }
  const d50 = median(p50) - median(floorP50);
  const d99 = median(p99) - median(floorP99);
  return {
    measure: '3. one job at a time, submit -> completed seen',
    peer: `spawn p50 ${f1(median(floorP50))} ms, p99 ${f1(median(floorP99))} ms; BullMQ p50 ${bull ? f1(median(bullP50)) : '-'} ms`,
    jobvisor: `p50 ${f1(median(p50))} ms, p99 ${f1(median(p99))} ms`,
    ratio: `p50 +${f1(d50)} ms, p99 +${f1(d99)} ms`,
    target: 'p50 <= floor + 2 ms, p99 <= floor + 5 ms',
    pass: d50 <= 2 && d99 <= 5,
    note: `${jobs} jobs per run, median of ${ctx.repeats}; from just before POST /api/jobs to its completed event on /api/events`,
  };
}

export const throughputPart: BenchPart = {
  name: 'throughput',
  async run(ctx) {
    const loopJobs = ctx.quick ? 100 : 600;
    const batchJobs = ctx.quick ? 200 : 1000;
    const oneJobs = ctx.quick ? 50 : 300;
    let bull: BullPeer | undefined;
    let jv: Jv | undefined;
    try {
      if (redisAvailable()) bull = await startBullPeer(SLOTS);
      else ctx.log('no /usr/bin/redis-server: BullMQ is not measured');
      jv = await startJobvisor();
      // Warm-up: the agent starts with the first job; both peers get the same number of jobs.
      await closedLoop(40, CLIENTS, () => jvOne(jv as Jv, 'warm'));
      if (bull) await closedLoop(40, CLIENTS, () => (bull as BullPeer).runOne());
      const rows = [await closedLoopRow(ctx, jv, bull, loopJobs), await batchRow(ctx, jv, bull, batchJobs), await latencyRow(ctx, jv, bull, oneJobs)];
      return rows;
    } finally {
      await jv?.stop();
      await bull?.stop();
    }
  },
};
