import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { instanceId, LABEL } from '../src/drivers/docker/driver.js';
import { ROOT, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { startTlsDockerd, type TlsDockerd } from './helpers/dockerd.js';
import { waitFor } from './helpers/wait.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const LOCAL = { name: 'local', socketPath: '/var/run/docker.sock', slots: { sequential: 2, parallel: 1 } };
const LIMITS = { sequential: { cpus: 0.5, memoryMb: 256 }, parallel: { cpus: 1, memoryMb: 512 } };

function dockerEnv(settings: Record<string, unknown>): Record<string, string> {
  return { JOBVISOR_TARGETS: JSON.stringify([{ name: 'docker', driver: 'docker', stopTimeoutSeconds: 2, limits: LIMITS, ...settings }]) };
}

async function containersOf(jv: Jobvisor) {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instanceId(jv.dataDir)}`] } });
}

describe('docker driver, on a real engine', () => {
  let jv: Jobvisor;
  beforeAll(async () => {
    jv = await startJobvisor({ env: dockerEnv({ engines: [LOCAL] }), extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates') });
  });
  afterAll(async () => {
    await jv?.stop();
    expect(await containersOf(jv)).toEqual([]);
  });

  it('runs two users\' jobs in two containers with the configured limits; output lands in each user\'s run directory', async () => {
    const admin = await jv.login();
    const alice = await jv.addUser(admin, 'alice');
    const bob = await jv.addUser(admin, 'bob');
    const a = await alice.run({ template: 'heat1d', parameters: { nx: 51, frames: 5, endTime: 1, paceSeconds: 0 } });
    const b = await bob.run({ template: 'sleep', parameters: { seconds: 0.2, lines: 2 } });
    await alice.waitJob(a.jobId, (j) => j.status === 'completed', 60_000, 'alice completed');
    await bob.waitJob(b.jobId, (j) => j.status === 'completed', 60_000, 'bob completed');

    const containers = await containersOf(jv);
    expect(containers.map((c) => c.Labels[LABEL.user]).sort()).toEqual(['alice', 'bob']);
    for (const c of containers) {
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.HostConfig.NanoCpus).toBe(0.5e9);
      expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
      expect(info.HostConfig.Init).toBe(true);
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.Config.User).toBe('1000:1000');
      expect(info.HostConfig.Ulimits).toEqual([{ Name: 'core', Soft: 0, Hard: 0 }]);
      expect(info.Config.Env.join(' ')).not.toMatch(/TOKEN|Bearer/i);
      expect(info.Mounts.map((m) => m.Destination).sort()).toEqual(['/jobvisor/runs', '/opt/jobvisor/templates']);
    }
    expect(existsSync(path.join(jv.dataDir, 'runs', 'alice', a.jobId, '1', 'summary.json'))).toBe(true);
    expect(readFileSync(path.join(jv.dataDir, 'runs', 'bob', b.jobId, '1', 'done.txt'), 'utf8')).toBe('ok\n');
    const frame = await alice.post(`/api/jobs/${a.jobId}/analysis`, { frame: 'temperature', index: 4 });
    expect(frame.body.data.x).toHaveLength(51);
    const agents = (await admin.get('/api/agents')).body.agents;
    expect(agents.map((x: any) => [x.driver, x.pool]).sort()).toEqual([['docker', 'local'], ['docker', 'local']]);
  });

  it('cancel stops the cmd inside the container', async () => {
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', jobKey: 'docker-cancel', parameters: { seconds: 60, lines: 60 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines > 0, 60_000, 'running');
    const container = (await containersOf(jv)).find((c) => c.Labels[LABEL.user] === 'admin')!;
    const top = async () => JSON.stringify((await docker.getContainer(container.Id).top()).Processes);
    expect(await top()).toContain('sleep.mjs');
    const r = await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
    expect(r.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user' });
    expect(await top()).not.toContain('sleep.mjs');
  });

  it('ends a run as error, with the reason, when its container is killed', async () => {
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', jobKey: 'docker-kill', parameters: { seconds: 60, lines: 60 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 60_000, 'running');
    const container = (await containersOf(jv)).find((c) => c.Labels[LABEL.user] === 'admin')!;
    await docker.getContainer(container.Id).kill();
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 30_000, 'error');
    expect(ended.reason).toMatch(/agent running this job ended: container was killed/);
    await waitFor(async () => !(await containersOf(jv)).some((c) => c.Id === container.Id), { what: 'the killed container to be removed' });
  });

  it('refuses a run asking for more cores than a container has, before anything starts', async () => {
    const admin = await jv.login();
    const before = (await containersOf(jv)).length;
    const r = await admin.post('/api/jobs', { template: 'two-cores' });
    expect([r.status, r.body.error.code]).toEqual([400, 'RESOURCES_EXCEED_LIMIT']);
    expect(r.body.error.message).toBe('template two-cores asks for 2 cores; parallel containers of target docker have 1 CPUs at most');
    expect((await containersOf(jv)).length).toBe(before);
  });
});

describe('docker engines', () => {
  let second: TlsDockerd;
  let jv: Jobvisor | undefined;
  beforeAll(async () => {
    second = await startTlsDockerd();
  });
  afterEach(async () => {
    await jv?.stop();
    jv = undefined;
  });
  afterAll(async () => {
    await second?.stop();
  });

  it('puts a new agent on the second (TLS) engine when the first has no free slot', async () => {
    const remote = { name: 'remote', host: '127.0.0.1', port: second.port, tlsDir: second.tlsDir, slots: { sequential: 1, parallel: 1 } };
    jv = await startJobvisor({ env: dockerEnv({ engines: [{ ...LOCAL, slots: { sequential: 1, parallel: 1 } }, remote] }) });
    const admin = await jv.login();
    const alice = await jv.addUser(admin, 'alice');
    const bob = await jv.addUser(admin, 'bob');
    const long = await alice.run({ template: 'sleep', parameters: { seconds: 30, lines: 30 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running', 60_000, 'alice running');
    const b = await bob.run({ template: 'sleep', parameters: { seconds: 0.2, lines: 2 } });
    await bob.waitJob(b.jobId, (j) => j.status === 'completed', 60_000, 'bob completed on the remote engine');
    const pools = Object.fromEntries((await admin.get('/api/agents')).body.agents.map((a: any) => [a.user, a.pool]));
    expect(pools).toEqual({ alice: 'local', bob: 'remote' });
    expect(second.docker('ps', '--format', '{{.Labels}}')).toContain('org.jobvisor.user=bob');
    await alice.post(`/api/jobs/${long.jobId}/cancel`, {});
  });

  it('says which engines do not answer, and why, instead of hanging', async () => {
    const wrongCert = { name: 'wrong-cert', host: '127.0.0.1', port: second.port, tlsDir: second.wrongTlsDir };
    const nowhere = { name: 'nowhere', socketPath: '/nonexistent/docker.sock' };
    jv = await startJobvisor({ env: dockerEnv({ engines: [nowhere, wrongCert] }) });
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 30_000, 'error');
    expect(ended.reason).toMatch(/^no Docker engine answers: nowhere: no engine at that socket; wrong-cert: TLS refused/);
  });

  it('tells the user when the agent image is missing, and how to build it', async () => {
    jv = await startJobvisor({ env: dockerEnv({ engines: [LOCAL], images: { sequential: 'jobvisor-agent:missing', parallel: 'jobvisor-agent:missing' } }) });
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 30_000, 'error');
    expect(ended.reason).toBe('image jobvisor-agent:missing is not on engine local; build it with docker/build-agent-image.sh');
  });

  it('tells the user why a container ended before its agent connected, with the container\'s last log lines', async () => {
    jv = await startJobvisor({ env: { ...dockerEnv({ engines: [LOCAL] }), JOBVISOR_AGENT_URL: 'ftp://127.0.0.1:9' } });
    const admin = await jv.login();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 30_000, 'error');
    expect(ended.reason).toMatch(/^agent ended before it connected: container exited with code 1\n/);
    expect(ended.reason).toMatch(/jobvisor agent: .*protocol/);
    await waitFor(async () => (await containersOf(jv!)).length === 0, { what: 'the exited container to be removed' });
  });

  it('removes its own leftover containers at start, and never another\'s', async () => {
    jv = await startJobvisor({ env: dockerEnv({ engines: [LOCAL] }) });
    const mine = instanceId(jv.dataDir);
    const make = (labels: Record<string, string>) => docker.createContainer({ Image: 'jobvisor-agent:latest', Labels: labels, Entrypoint: ['/usr/local/bin/node', '-e', ''] });
    const leftover = await make({ [LABEL.managed]: 'true', [LABEL.instance]: mine, [LABEL.agentId]: 'docker-gone-sequential-00000000' });
    const others = await make({ [LABEL.managed]: 'true', [LABEL.instance]: 'another-jobvisor', [LABEL.agentId]: 'x' });
    const plain = await make({});
    try {
      await jv.stopSupervisor();
      await jv.startSupervisor();
      await waitFor(async () => (await leftover.inspect().catch(() => undefined)) === undefined, { what: 'the leftover to be removed' });
      expect((await others.inspect()).Id).toBe(others.id);
      expect((await plain.inspect()).Id).toBe(plain.id);
    } finally {
      for (const c of [leftover, others, plain]) await c.remove({ force: true }).catch(() => undefined);
    }
  });

  it('refuses at start-up an image from a registry the site did not allow, and a mount outside the allowed roots', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ images: { sequential: 'registry.example.org/agent:1', parallel: 'jobvisor-agent:latest' } }, /images\.sequential: image registry\.example\.org\/agent:1 names registry registry\.example\.org, which allowedRegistries does not list/],
      [{ mounts: [{ host: '/etc', container: '/data' }], allowedHostRoots: ['/srv/data'] }, /mounts\.0\.host: host path \/etc is outside the allowed roots \(\/srv\/data\)/],
    ];
    for (const [settings, message] of cases) {
      let stderr = '';
      try {
        execFileSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli.js'), 'supervisor'], { env: { PATH: process.env.PATH, ...dockerEnv(settings) }, encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        stderr = (err as { stderr: string }).stderr;
        expect((err as { status: number }).status).toBe(2);
      }
      expect(stderr).toMatch(message);
    }
  });
});
