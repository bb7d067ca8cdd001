/**
 * Target 7, Docker: a run for a user who has no agent yet, so its agent container starts first.
 * jobvisor: submit -> running as the user sees it (POST /api/jobs, to the run's `startedAt`: the
 * agent container created, started, the agent connected and said hello, the run op sent, its
 * cmd spawned). Peer: a raw `docker run --rm --network host` of the same agent image with its
 * own entry point (node loading the whole agent bundle, which then ends at once for want of
 * JOBVISOR_AGENT_ID), timed around the docker CLI. Interleaved, medians of `repeats` (at least
 * 5); a new user each time. Second row (information): the same for a user whose agent is up.
 * Skipped when the local engine (/var/run/docker.sock) does not answer or lacks the image.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import path from 'node:path';
import { instanceId, LABEL } from '../../src/drivers/docker/driver.js';
import { median, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { BenchJobvisor, type Client } from './targets/jobvisor.js';

const SOCKET = '/var/run/docker.sock';
const IMAGE = 'jobvisor-agent:latest';
const TARGET = 'bench-docker';
const TRIVIAL = { template: 'sleep', parameters: { seconds: 0, lines: 1 }, target: TARGET };

const COLD = '7. Docker run, agent container start (submit -> running)';
const WARM = '7. Docker run, agent already up (submit -> running)';

async function whyNotUp(docker: Docker): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch (err) {
    return `the Docker engine at ${SOCKET} does not answer (${(err as Error).message}); bash docker/start-engine.sh starts it`;
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    return `image ${IMAGE} is not on the engine (docker/build-agent-image.sh builds it)`;
  }
  return undefined;
}

/** Submit -> the run's startedAt, in ms (the client and the supervisor share this machine's clock). */
async function submitToRunning(user: Client, key: string): Promise<number> {
  const t0 = Date.now();
  const job = await user.run({ ...TRIVIAL, jobKey: key });
  const done = await user.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 60_000);
  if (done.status !== 'completed' || done.startedAt === null) throw new Error(`the Docker run ended ${done.status}: ${done.reason ?? ''}`);
  return done.startedAt - t0;
}

async function rawDockerRun(): Promise<number> {
  const t0 = performance.now();
  // The agent's entry point ends with code 1 (no JOBVISOR_AGENT_ID): that is the least it does.
  await promisify(execFile)('docker', ['run', '--rm', '--network', 'host', IMAGE]).catch((err: { code?: number }) => {
    if (err.code !== 1) throw err;
  });
  return performance.now() - t0;
}

async function measure(ctx: BenchContext, jv: BenchJobvisor): Promise<BenchRow[]> {
  const repeats = ctx.quick ? 1 : Math.max(5, ctx.repeats);
  // Not counted: the engine's and the page cache's first container of the image, the supervisor's first run.
  await rawDockerRun();
  await submitToRunning(await jv.user('warm-up'), 'warm-up');
  const cold: number[] = [];
  const warm: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const user = await jv.user(`user-${i}`);
    cold.push(await submitToRunning(user, 'first'));
    raw.push(await rawDockerRun());
    warm.push(await submitToRunning(user, 'second'));
    ctx.log(`${i + 1}/${repeats}: agent start ${cold.at(-1)} ms, raw docker run ${raw.at(-1)!.toFixed(0)} ms, agent up ${warm.at(-1)} ms`);
  }
  const ratio = median(cold) / median(raw);
  const list = (v: number[]) => v.map((x) => x.toFixed(0)).join(', ');
  return [
    {
      measure: COLD,
      peer: `docker run --rm of the agent image: ${median(raw).toFixed(0)} ms`,
      jobvisor: `${median(cold).toFixed(0)} ms`,
      ratio: `${ratio.toFixed(2)} x`,
      target: '<= 1.20 x',
      pass: ratio <= 1.2,
      note: `medians of ${repeats}, interleaved, a new user each; jobvisor ${list(cold)} ms; raw ${list(raw)} ms (the image's own entry point: node loads the agent bundle, ends for want of JOBVISOR_AGENT_ID)`,
    },
    {
      measure: WARM,
      peer: '-',
      jobvisor: `${median(warm).toFixed(0)} ms`,
      ratio: '-',
      target: '(information)',
      pass: true,
      note: `the same user's second run, its agent up: ${list(warm)} ms`,
    },
  ];
}

export const dockerPart: BenchPart = {
  name: 'docker',
  async run(ctx) {
    const docker = new Docker({ socketPath: SOCKET });
    const why = await whyNotUp(docker);
    if (why) {
      return [
        { measure: COLD, peer: '-', jobvisor: '-', ratio: '-', target: '<= 1.20 x', pass: 'skipped', note: why },
        { measure: WARM, peer: '-', jobvisor: '-', ratio: '-', target: '(information)', pass: 'skipped', note: why },
      ];
    }
    const target = { name: TARGET, driver: 'docker', engines: [{ name: 'local', socketPath: SOCKET, slots: { sequential: 4, parallel: 1 } }], stopTimeoutSeconds: 2 };
    const jv = new BenchJobvisor({ JOBVISOR_TARGETS: JSON.stringify([{ name: 'here', driver: 'local' }, target]) });
    try {
      await jv.start();
      return await measure(ctx, jv);
    } finally {
      await jv.stop();
      // The supervisor removes its containers as it stops; any left (it was killed) go here.
      const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instanceId(path.join(jv.root, 'data'))}`] } }).catch(() => []);
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  },
};
