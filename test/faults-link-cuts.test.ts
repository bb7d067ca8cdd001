/**
 * Fault suite: the agents' websockets go through a proxy that cuts their TCP connections at
 * random moments, many times, at random byte offsets (mid-frame, mid-handshake, between
 * messages; in either direction), while a few jobs print many numbered lines and progress.
 * At the end every update was applied exactly once, in order.
 *
 * The random choices come from a seed, printed at the start: JOBVISOR_FAULT_SEED=<seed> replays
 * the same cuts (timing still differs a little, as processes do).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { Jobvisor, type Client } from './helpers/jobvisor.js';
import { resumingEventReader } from './helpers/events.js';
import { waitFor } from './helpers/wait.js';

/** mulberry32: a small seeded generator, good enough to pick cut points. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Direction = 'up' | 'down';
/** How one connection is cut: after `bytes` bytes going `dir` (up: agent → supervisor), or `afterMs` into it at a random place in the next chunk. */
interface CutPlan {
  dir: Direction;
  bytes: number;
  afterMs: number;
}

/**
 * A TCP proxy between agents and the supervisor that cuts every connection as its plan says: the
 * chunk that crosses the planned byte offset is forwarded only up to it, then both sides are
 * destroyed. While `cutting` is off, connections are left alone.
 */
class CuttingProxy {
  private readonly server = net.createServer((c) => this.accept(c));
  private readonly sockets = new Set<net.Socket>();
  cutting = true;
  connections = 0;
  cuts: string[] = [];

  constructor(
    private readonly targetPort: () => number,
    private readonly plan: () => CutPlan,
    private readonly random: () => number,
  ) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const n = ++this.connections;
    const plan = this.cutting ? this.plan() : null;
    const upstream = net.connect(this.targetPort(), '127.0.0.1');
    const passed: Record<Direction, number> = { up: 0, down: 0 };
    let cutNext = false;
    let done = false;
    const cut = (dir: Direction, last: net.Socket, part: Buffer, how: string) => {
      done = true;
      this.cuts.push(`#${n} ${dir} at byte ${passed[dir] + part.length} (${how})`);
      const other = last === client ? upstream : client;
      other.destroy();
      if (part.length > 0) last.write(part, () => last.destroy());
      else last.destroy();
    };
    const timer = plan ? setTimeout(() => (cutNext = true), plan.afterMs) : undefined;
    const forward = (from: net.Socket, to: net.Socket, dir: Direction) => {
      from.on('data', (chunk: Buffer) => {
        if (done) return;
        if (plan && this.cutting && plan.dir === dir) {
          const left = plan.bytes - passed[dir];
          if (left < chunk.length) return cut(dir, to, chunk.subarray(0, Math.max(0, left)), 'byte budget');
          if (cutNext) return cut(dir, to, chunk.subarray(0, Math.floor(this.random() * chunk.length)), `after ${plan.afterMs} ms`);
        }
        passed[dir] += chunk.length;
        to.write(chunk);
      });
    };
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream, 'up');
    forward(upstream, client, 'down');
  }
}

const SEED = process.env.JOBVISOR_FAULT_SEED ? Number(process.env.JOBVISOR_FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);

describe(`agent links cut at random moments, mid-message (seed ${SEED})`, () => {
  let jv: Jobvisor;
  let admin: Client;
  let proxy: CuttingProxy;
  const random = seeded(SEED);

  beforeAll(async () => {
    console.log(`faults-link-cuts: seed ${SEED} (replay with JOBVISOR_FAULT_SEED=${SEED})`);
    // Most connections are cut early (a few hundred bytes: mid-handshake, mid-hello, mid-resend),
    // some late (up to 200 kB); some by time, at a random place in the next chunk.
    const plan = (): CutPlan => ({
      dir: random() < 0.75 ? 'up' : 'down',
      bytes: Math.floor(Math.exp(random() * Math.log(200_000))),
      afterMs: 200 + Math.floor(random() * 1500),
    });
    proxy = new CuttingProxy(() => Number(new URL(jv.supervisorUrl).port), plan, random);
    const proxyPort = await proxy.listen();
    proxy.cutting = false;
    jv = new Jobvisor({ env: { JOBVISOR_AGENT_URL: `ws://127.0.0.1:${proxyPort}`, JOBVISOR_SLOTS_SEQUENTIAL: '3', JOBVISOR_SLOTS_PARALLEL: '2' } });
    await jv.start();
    admin = await jv.login();
  });
  afterAll(async () => {
    await proxy?.close();
    await jv?.stop();
  });

  it('applies every update exactly once, in order: logs, log events, progress and statuses', async () => {
    const events = resumingEventReader(() => jv.serverUrl, admin.token as string);
    await waitFor(async () => (await admin.get('/api/jobs')).status === 200);
    const plans = [
      { jobKey: 'cut-a', size: 'sequential', lines: 600, seconds: 18 },
      { jobKey: 'cut-b', size: 'sequential', lines: 400, seconds: 14 },
      { jobKey: 'cut-c', size: 'parallel', lines: 500, seconds: 16 },
    ];
    // Agents start through the proxy with cuts already on.
    proxy.cutting = true;
    const jobs = await Promise.all(plans.map((p) => admin.run({ template: 'sleep', jobKey: p.jobKey, size: p.size, parameters: { seconds: p.seconds, lines: p.lines } })));
    const ended = (j: JobView) => j.status !== 'pending' && j.status !== 'running';
    await waitFor(async () => (await Promise.all(jobs.map((j) => admin.job(j.jobId)))).every(ended) && proxy.cuts.length >= 30, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: () => `the jobs to end with 30 cuts or more (seed ${SEED}; ${proxy.cuts.length} cuts so far)`,
    });
    proxy.cutting = false;
    console.log(`faults-link-cuts: seed ${SEED}: ${proxy.cuts.length} cuts over ${proxy.connections} connections; first ones: ${proxy.cuts.slice(0, 8).join('; ')}`);
    expect(proxy.cuts.length).toBeGreaterThanOrEqual(30);

    for (const [i, p] of plans.entries()) {
      const expected = Array.from({ length: p.lines }, (_, k) => [`line ${k + 1}`, `PROGRESS ${((k + 1) / p.lines).toFixed(6)}`]).flat();
      const job = await admin.job(jobs[i]!.jobId);
      expect([p.jobKey, job.status, job.reason, job.progress], `seed ${SEED}`).toEqual([p.jobKey, 'completed', null, 1]);
      expect(job.logLines, `${p.jobKey} log lines (seed ${SEED})`).toBe(p.lines * 2);
      const log = (await admin.get(`/api/jobs/${job.jobId}/log?limit=1048576`)).body.text as string;
      expect(log).toBe(expected.join('\n') + '\n');
      await waitFor(() => events.lines(job.jobId).length >= expected.length, { what: `${p.jobKey}'s log events (seed ${SEED})` });
      expect(events.lines(job.jobId), `${p.jobKey}'s log events, each once and in order (seed ${SEED})`).toEqual(expected);
      const progress = events.progress(job.jobId).flatMap((v) => (v === null ? [] : [v]));
      expect(progress.length, `${p.jobKey}'s progress events (seed ${SEED})`).toBeGreaterThan(0);
      expect(progress.every((v, k) => k === 0 || v >= progress[k - 1]!), `${p.jobKey}'s progress never goes back (seed ${SEED})`).toBe(true);
    }
    expect(jv.logs()).not.toMatch(/could not be delivered|skips ahead/);
    events.stop();
  });
});
