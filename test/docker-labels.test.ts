/**
 * Placement by labels on a docker target: each engine has labels of its own (merged over the
 * target's); a run that `requires` a label goes only to an engine that has it (the second engine,
 * over TLS), waits saying why while that engine has no free slot, and a run no engine could take
 * is refused at once. Also: a run that waits across a restart whose configuration took away the
 * labels it needs waits, saying why, instead of running where it does not fit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { startTlsDockerd, type TlsDockerd } from './helpers/dockerd.js';

const LOCAL = { name: 'local', socketPath: '/var/run/docker.sock', slots: { sequential: 2, parallel: 1 } };
const LIMITS = { sequential: { cpus: 0.5, memoryMb: 256 }, parallel: { cpus: 1, memoryMb: 512 } };

describe('docker engines with labels', () => {
  let second: TlsDockerd;
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;

  beforeAll(async () => {
    second = await startTlsDockerd();
    const remote = { name: 'gpu1', host: '127.0.0.1', port: second.port, tlsDir: second.tlsDir, slots: { sequential: 1, parallel: 1 }, labels: { gpu: 'a100' } };
    const target = { name: 'docker', driver: 'docker', stopTimeoutSeconds: 2, limits: LIMITS, labels: { os: 'linux', gpu: 'none' }, engines: [LOCAL, remote] };
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([target]) } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 120_000);

  afterAll(async () => {
    await jv?.stop();
    await second?.stop();
  });

  const poolsOf = async (user: string) => ((await admin.get('/api/agents')).body.agents as { user: string; pool: string }[]).filter((a) => a.user === user).map((a) => a.pool).sort();

  it('places a run that requires gpu=a100 on the engine that has it, and one that requires gpu=none on the other', async () => {
    const gpu = await alice.run({ template: 'sleep', jobKey: 'gpu', requires: { gpu: 'a100' }, parameters: { seconds: 0.2, lines: 1 } });
    await alice.waitJob(gpu.jobId, (j) => j.status === 'completed', 90_000, 'the gpu run');
    expect(await poolsOf('alice')).toEqual(['gpu1']);
    expect(second.docker('ps', '--format', '{{.Labels}}')).toContain('org.jobvisor.user=alice');
    // The target's own labels hold on every engine unless the engine says otherwise.
    const cpu = await alice.run({ template: 'sleep', jobKey: 'cpu', requires: { gpu: 'none', os: 'linux' }, parameters: { seconds: 0.2, lines: 1 } });
    await alice.waitJob(cpu.jobId, (j) => j.status === 'completed', 90_000, 'the cpu run');
    expect(await poolsOf('alice')).toEqual(['gpu1', 'local']);
  }, 200_000);

  it('waits, saying why, while the only fitting engine has no free slot', async () => {
    const long = await alice.run({ template: 'sleep', jobKey: 'gpu-long', requires: { gpu: 'a100' }, parameters: { seconds: 60, lines: 0 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running', 90_000, 'the long gpu run');
    const next = await alice.run({ template: 'sleep', jobKey: 'gpu-next', requires: { gpu: 'a100' }, parameters: { seconds: 0.2, lines: 1 } });
    const waiting = await alice.waitJob(next.jobId, (j) => j.status === 'pending' && /CPU slot/.test(j.waitingFor ?? ''), 30_000, 'the second gpu run waiting');
    expect(waiting.waitingFor).toContain('on engine gpu1');
    // A run without requirements is not held up: local has free slots.
    const free = await alice.run({ template: 'sleep', jobKey: 'free', parameters: { seconds: 0.2, lines: 1 } });
    await alice.waitJob(free.jobId, (j) => j.status === 'completed', 90_000, 'a run without requirements');
    expect((await alice.job(long.jobId)).status).toBe('running');
    expect((await alice.job(next.jobId)).status).toBe('pending');
    await alice.post(`/api/jobs/${long.jobId}/cancel`, {});
    await alice.waitJob(next.jobId, (j) => j.status === 'completed', 90_000, 'the second gpu run, once the slot is free');
  }, 200_000);

  it('refuses at once a requirement no engine of the target has, naming each engine\'s labels; nothing is stored', async () => {
    const r = await alice.post('/api/jobs', { template: 'sleep', jobKey: 'h100', requires: { gpu: 'h100' } });
    expect([r.status, r.body.error.code]).toEqual([400, 'REQUIREMENTS_UNMET']);
    expect(r.body.error.message).toContain('no engine of target docker has gpu=h100');
    expect(r.body.error.message).toContain('gpu1: gpu=a100, os=linux');
    expect(r.body.error.message).toContain('local: gpu=none, os=linux');
    expect((await alice.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).not.toContain('h100');
  });

  it('refuses engine labels that are not labels, at start-up', async () => {
    const bad = { name: 'docker', driver: 'docker', engines: [{ ...LOCAL, labels: { 'no spaces': 'x' } }] };
    const other = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([bad]) } }).then(
      async (j) => (await j.stop(), 'started'),
      (err: Error) => err.message,
    );
    expect(other).toMatch(/target docker .*is not valid: target\.engines\.0\.labels/);
  }, 60_000);
});
