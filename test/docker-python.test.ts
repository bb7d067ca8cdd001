/**
 * The agent image with Python (docker/build-agent-python-image.sh, FROM jobvisor-agent:latest):
 * a Python template (templates/pywave) runs under the docker driver on a target whose image is
 * the Python one, analysis frames included; the plain agent image has no Python, and says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceId, LABEL } from '../src/drivers/docker/driver.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const IMAGE = 'jobvisor-agent-python:latest';
const ENGINE = { name: 'local', socketPath: '/var/run/docker.sock' };
const target = (name: string, image: string) => ({ name, driver: 'docker', engines: [ENGINE], images: { sequential: image, parallel: image }, stopTimeoutSeconds: 2 });

describe('a Python template under the docker driver', () => {
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    execFileSync('bash', [path.join(ROOT, 'docker', 'build-agent-python-image.sh'), IMAGE], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([target('docker-py', IMAGE), target('docker', 'jobvisor-agent:latest')]) } });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 400_000);
  afterAll(async () => {
    await jv?.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instanceId(jv.dataDir)}`] } });
    expect(left).toEqual([]);
  });

  it('builds an image FROM the agent image with Debian’s python3 and its standard library', async () => {
    const info = await docker.getImage(IMAGE).inspect();
    expect(info.Config.Labels['org.jobvisor.image']).toBe('agent-python');
    expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/node', '/opt/jobvisor/jobvisor-agent.mjs']);
    const base = await docker.getImage('jobvisor-agent:latest').inspect();
    const baseLayers = base.RootFS.Layers ?? [];
    expect(baseLayers.length).toBeGreaterThan(0);
    expect((info.RootFS.Layers ?? []).slice(0, baseLayers.length)).toEqual(baseLayers);
  });

  it('runs pywave in a container of the Python image, with its progress, results and analysis frames', async () => {
    const job = await alice.run({ template: 'pywave', jobKey: 'py', target: 'docker-py', parameters: { nx: 101, frames: 10, endTime: 1 } });
    const done = await alice.waitJob(job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 120_000, 'the run to end');
    expect([done.status, done.reason, done.progress]).toEqual(['completed', null, 1]);
    const summary = JSON.parse(readFileSync(path.join(jv.dataDir, 'runs', 'alice', job.jobId, '1', 'summary.json'), 'utf8')) as { python: string; frames: number };
    expect(summary).toMatchObject({ frames: 10, python: expect.stringMatching(/^3\.\d+\.\d+$/) });
    const log = (await alice.get(`/api/jobs/${job.jobId}/log`)).body.text as string;
    expect(log).toMatch(/done: \d+ steps .*\(Python 3\./);
    const frame = await alice.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'displacement', index: 1_000_000 });
    expect(frame.status).toBe(200);
    expect(frame.body.data).toMatchObject({ frames: 10, index: 9, t: 1 });
    expect(frame.body.data.x).toHaveLength(101);
    const energy = await alice.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'energy' });
    const e = energy.body.data.energy as number[];
    expect(e).toHaveLength(10);
    expect(Math.max(...e) / Math.min(...e)).toBeLessThan(1.05); // conserved, up to the scheme's error
  }, 180_000);

  it('fails on the plain agent image, which has no Python, saying what could not start', async () => {
    const job = await alice.run({ template: 'pywave', jobKey: 'no-py', target: 'docker', parameters: { nx: 11, frames: 2, endTime: 0.1 } });
    const done = await alice.waitJob(job.jobId, (j) => j.status === 'error', 120_000, 'error');
    expect(done.reason).toMatch(/python3/);
  }, 180_000);
});
