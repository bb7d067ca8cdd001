/**
 * Deleting a job (`DELETE /api/jobs/:jobId`): an active run is canceled first, the run
 * directory is removed where it lives (this machine, or the cluster's login node through the
 * agent), and no record is kept; users delete their own jobs, admins anyone's.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumingEventReader } from './helpers/events.js';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { processesUnder, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-delete';

describe('deleting a job', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', 'del-slurm', cluster, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) {
      killAgentOnLoginNode(cluster, 'del-slurm', 'TERM', REMOTE_DIR);
      rmSync(`/home/${cluster.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  it('removes a finished job, its earlier runs and its files; the job key is free again; others cannot delete it', async () => {
    const events = resumingEventReader(() => jv.serverUrl, alice.token!);
    const first = await alice.run({ template: 'sleep', jobKey: 'gone', parameters: { seconds: 0, lines: 2 } });
    await alice.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'first run');
    await alice.run({ template: 'sleep', jobKey: 'gone', parameters: { seconds: 0, lines: 3 } });
    await alice.waitJob(first.jobId, (j) => j.status === 'completed' && j.serial === 2, 30_000, 'second run');
    const runDir = path.join(jv.dataDir, 'runs', 'alice', first.jobId);
    expect(existsSync(path.join(runDir, '1', 'done.txt'))).toBe(true);
    expect(existsSync(path.join(runDir, '2', 'done.txt'))).toBe(true);

    const byBob = await bob.request('DELETE', `/api/jobs/${first.jobId}`);
    expect([byBob.status, byBob.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
    expect((await alice.job(first.jobId)).status).toBe('completed');

    const deleted = await alice.request('DELETE', `/api/jobs/${first.jobId}`);
    expect(deleted.status).toBe(204);
    expect(existsSync(runDir)).toBe(false);
    const after = await alice.get(`/api/jobs/${first.jobId}`);
    expect([after.status, after.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
    expect((await alice.get('/api/jobs')).body.jobs.map((j: { jobId: string }) => j.jobId)).not.toContain(first.jobId);
    expect((await alice.request('DELETE', `/api/jobs/${first.jobId}`)).status).toBe(404);
    await waitFor(() => events.seen.some((e) => e.event === 'deleted' && e.data.jobId === first.jobId), { what: 'the deleted event' });

    const again = await alice.run({ template: 'sleep', jobKey: 'gone', parameters: { seconds: 0, lines: 1 } });
    const done = await alice.waitJob(again.jobId, (j) => j.status === 'completed', 30_000, 'a new job under the same key');
    expect([done.serial, done.history]).toEqual([1, []]);
    events.stop();
  });

  it('cancels an active run first, leaving no process; an admin may delete any job', async () => {
    const job = await alice.run({ template: 'sleep', jobKey: 'busy', parameters: { seconds: 600, lines: 0 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'running', 30_000, 'running');
    const runDir = path.join(jv.dataDir, 'runs', 'alice', job.jobId);
    await waitFor(() => processesUnder(runDir).length > 0, { what: 'the command' });
    expect((await admin.request('DELETE', `/api/jobs/${job.jobId}`)).status).toBe(204);
    expect(existsSync(runDir)).toBe(false);
    await waitFor(() => processesUnder(runDir).length === 0, { timeoutMs: 10_000, what: 'no process of the command' });
    expect((await alice.get(`/api/jobs/${job.jobId}`)).status).toBe(404);
  });

  it('refuses a new run of a job whose active cluster run cannot be canceled without a login, changing nothing', async () => {
    expect((await logInTo(alice, 'del-slurm', cluster)).status).toBe(200);
    const job = await alice.run({ template: 'sleep', target: 'del-slurm', jobKey: 'stuck', parameters: { seconds: 600, lines: 1 } });
    const running = await alice.waitJob(job.jobId, (j) => j.status === 'running', 90_000, 'the Slurm run to start');
    killAgentOnLoginNode(cluster, 'del-slurm', 'KILL', REMOTE_DIR);
    await waitFor(async () => (await alice.get('/api/targets/del-slurm/status')).body.loggedIn === false, { timeoutMs: 30_000, what: 'the login to end' });

    // Replacing the run means canceling it on the cluster first: without a login that cannot be done, and the answer says so.
    const refused = await alice.request('POST', '/api/jobs', { template: 'sleep', target: 'del-slurm', jobKey: 'stuck', parameters: { seconds: 0, lines: 1 } });
    expect(refused.status, JSON.stringify(refused.body)).toBe(428);
    expect(refused.body.error.code).toBe('LOGIN_REQUIRED');
    const after = await alice.job(job.jobId);
    expect([after.serial, after.externalId]).toEqual([running.serial, running.externalId]);
    expect(['running', 'pending']).toContain(after.status);

    // After a new login the run is followed again (at the agent's next poll); then it can be canceled and deleted.
    expect((await logInTo(alice, 'del-slurm', cluster)).status).toBe(200);
    let deleted = 0;
    await waitFor(async () => (deleted = (await alice.request('DELETE', `/api/jobs/${job.jobId}`)).status) === 204, { timeoutMs: 60_000, intervalMs: 500, what: () => `the job to be deleted once its run is followed again (last answer ${deleted})` });
  }, 240_000);

  it('removes a cluster job’s run directory on the login node, and keeps the job when it cannot (login required)', async () => {
    expect((await logInTo(alice, 'del-slurm', cluster)).status).toBe(200);
    const job = await alice.run({ template: 'sleep', target: 'del-slurm', jobKey: 'remote', parameters: { seconds: 0, lines: 2 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'the Slurm run');
    const remoteRunDir = `/home/${cluster.user}/${REMOTE_DIR}/runs/${job.jobId}`;
    expect(existsSync(path.join(remoteRunDir, '1', 'done.txt'))).toBe(true);

    // Without a login, the files cannot be reached: nothing is deleted, and the answer says why.
    killAgentOnLoginNode(cluster, 'del-slurm', 'KILL', REMOTE_DIR);
    await waitFor(async () => (await alice.get('/api/targets/del-slurm/status')).body.loggedIn === false, { timeoutMs: 30_000, what: 'the login to end' });
    const refused = await alice.request('DELETE', `/api/jobs/${job.jobId}`);
    expect(refused.status, JSON.stringify(refused.body)).toBe(428);
    expect(refused.body.error.code).toBe('LOGIN_REQUIRED');
    expect((await alice.job(job.jobId)).status).toBe('completed');
    expect(existsSync(remoteRunDir)).toBe(true);

    expect((await logInTo(alice, 'del-slurm', cluster)).status).toBe(200);
    expect((await alice.request('DELETE', `/api/jobs/${job.jobId}`)).status).toBe(204);
    expect(existsSync(remoteRunDir)).toBe(false);
    expect((await alice.get(`/api/jobs/${job.jobId}`)).status).toBe(404);
  }, 240_000);
});
