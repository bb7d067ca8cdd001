/**
 * Several clusters at once: a Slurm target and a Grid Engine target configured together, one
 * user logged in to both with separate logins, runs on both in the same minute, each cluster
 * asked once per interval.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

describe('a Slurm and a Grid Engine target together', () => {
  let slurm: ClusterInfo;
  let sge: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    slurm = startTestCluster('slurm');
    sge = startTestCluster('sge');
    const targets = [{ name: 'here', driver: 'local' }, clusterTarget('slurm', 'both-slurm', slurm, { title: 'Slurm HPC' }), clusterTarget('sge', 'both-sge', sge, { title: 'Institute grid' })];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 600_000);
  afterAll(async () => {
    await jv?.stop();
    for (const [c, t] of [[slurm, 'both-slurm'], [sge, 'both-sge']] as const) if (c) killAgentOnLoginNode(c, t);
  });

  it('lists the targets with their logins; one user logs in to each separately; runs on both complete in the same minute', async () => {
    const listed = (await alice.get('/api/targets')).body.targets;
    expect(listed.map((t: any) => [t.name, t.driver, t.title, t.needsLogin])).toEqual([
      ['here', 'local', 'This machine', false],
      ['both-slurm', 'slurm', 'Slurm HPC', true],
      ['both-sge', 'sge', 'Institute grid', true],
    ]);
    expect(listed[2].options.map((o: any) => o.name)).toEqual(['queue', 'project', 'pe', 'slots', 'minutes']);
    const onSge = await alice.post('/api/jobs', { template: 'sleep', target: 'both-sge' });
    expect([onSge.status, onSge.body.error.code, onSge.body.error.message]).toEqual([428, 'LOGIN_REQUIRED', 'log in to Institute grid first (POST /api/targets/both-sge/login)']);

    expect((await logInTo(alice, 'both-slurm', slurm)).body).toMatchObject({ target: 'both-slurm', loggedIn: true });
    const statuses = (await alice.get('/api/targets')).body.targets.map((t: any) => t.login?.loggedIn ?? null);
    expect(statuses).toEqual([null, true, false]);
    expect((await logInTo(alice, 'both-sge', sge)).body).toMatchObject({ target: 'both-sge', loggedIn: true });

    const started = Date.now();
    const runs = await Promise.all(
      ['both-slurm', 'both-sge', 'both-slurm', 'both-sge', 'here'].map((target, i) =>
        alice.run({ template: 'sleep', target, jobKey: `both-${i}`, parameters: { seconds: 3, lines: 3 } }),
      ),
    );
    const done = await Promise.all(runs.map((r) => alice.waitJob(r.jobId, (j) => j.status === 'completed', 120_000, `${r.target} run to complete`)));
    expect(done.map((j) => [j.target, j.driver, j.externalId !== null, j.logLines])).toEqual([
      ['both-slurm', 'slurm', true, 6],
      ['both-sge', 'sge', true, 6],
      ['both-slurm', 'slurm', true, 6],
      ['both-sge', 'sge', true, 6],
      ['here', 'local', false, 6],
    ]);
    expect(Math.max(...done.map((j) => j.endedAt!)) - started).toBeLessThan(60_000);

    const slurmCommands = (await alice.get('/api/targets/both-slurm/agent-log')).body.schedulerCommands;
    const sgeCommands = (await alice.get('/api/targets/both-sge/agent-log')).body.schedulerCommands;
    console.log('scheduler commands, both targets:', JSON.stringify({ slurm: slurmCommands, sge: sgeCommands }));
    expect([slurmCommands.sbatch, slurmCommands.qsub]).toEqual([2, undefined]);
    expect([sgeCommands.qsub, sgeCommands.sbatch]).toEqual([2, undefined]);
    // Each agent asks its own scheduler for all of its runs at once: soon after a change (a
    // submission, a run seen started), then backing off, and never closer than pollSoonMs
    // (200 ms) apart, which is what this bounds. That the count does not grow with the runs
    // is the contract test's (20 runs over a minute, one query per interval).
    const seconds = (Date.now() - started) / 1000;
    expect(slurmCommands.squeue).toBeLessThanOrEqual(seconds / 0.2 + 1);
    expect(sgeCommands.qstat).toBeLessThanOrEqual(seconds / 0.2 + 1);
  });

  it('logs in with a private key instead of a password and code, and refuses a key the cluster does not know', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-key-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'stranger')]);
      const stranger = await alice.post('/api/targets/both-sge/login', { username: sge.user, privateKey: readFileSync(path.join(dir, 'stranger'), 'utf8') });
      expect([stranger.status, stranger.body.error]).toEqual([403, { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' }]);
      const garbled = await alice.post('/api/targets/both-sge/login', { username: sge.user, privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n' });
      expect([garbled.status, garbled.body.error.code]).toEqual([400, 'INVALID_INPUT']);
      expect(garbled.body.error.message).toMatch(/^the private key cannot be read \(/);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', path.join(dir, 'locked')]);
      const locked = await alice.post('/api/targets/both-sge/login', { username: sge.user, privateKey: readFileSync(path.join(dir, 'locked'), 'utf8'), passphrase: 'not it' });
      expect([locked.status, locked.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const r = await alice.post('/api/targets/both-sge/login', { username: sge.user, privateKey: readFileSync(sge.privateKeyFile, 'utf8') });
    expect(r.body).toMatchObject({ target: 'both-sge', loggedIn: true, state: 'connected' });
    const job = await alice.run({ template: 'sleep', target: 'both-sge', jobKey: 'by-key', parameters: { seconds: 1, lines: 2 } });
    const done = await alice.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'the run after a key login');
    expect(done.externalId).toMatch(/^[0-9]+$/);
  });
});
