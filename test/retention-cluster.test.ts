/**
 * Retention on a Slurm cluster: the agent on the login node packs a run's folder into
 * `<remoteDir>/archive/<jobId>/<serial>.tar.gz` and its files are downloaded from there; while
 * the user is not logged in the cluster's runs are skipped (reported), not touched; past
 * deleteAfter the archive is deleted and the run purged.
 */
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-retention';
const TARGET = 'ret-slurm';
const ARCHIVE_MS = 3000;
const DELETE_MS = 50_000;

describe('retention on a cluster', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  const home = () => `/home/${cluster.user}/${REMOTE_DIR}`;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    const retention = { default: { archiveAfter: `${ARCHIVE_MS / 1000}s`, deleteAfter: `${DELETE_MS / 1000}s` } };
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([{ name: 'local', driver: 'local' }, clusterTarget('slurm', TARGET, cluster, { remoteDir: REMOTE_DIR })]), JOBVISOR_RETENTION: JSON.stringify(retention) } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) {
      killAgentOnLoginNode(cluster, TARGET, 'TERM', REMOTE_DIR);
      rmSync(home(), { recursive: true, force: true });
    }
  });

  const sweep = async () => {
    const r = await admin.post('/api/admin/retention/sweep');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.sweep as { archived: { jobId: string }[]; purged: { jobId: string }[]; missing: { jobId: string }[]; skipped: { jobId: string; reason: string }[]; failed: { reason: string }[] };
  };

  it('archives on the login node, downloads from the archive, skips while logged out, purges', async () => {
    const login = await logInTo(alice, TARGET, cluster);
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const job = await alice.run({ template: 'sleep', target: TARGET, jobKey: 'remote', parameters: { seconds: 0, lines: 2 } });
    const done = await alice.waitJob(job.jobId, (j) => j.status === 'completed', 120_000, 'the Slurm run');
    const runDir = `${home()}/runs/${job.jobId}/1`;
    const archive = `${home()}/archive/${job.jobId}/1.tar.gz`;
    expect(existsSync(`${runDir}/done.txt`)).toBe(true);

    await waitFor(() => Date.now() > (done.endedAt ?? 0) + ARCHIVE_MS + 500, { timeoutMs: 30_000, what: 'the run to age' });
    const first = await sweep();
    expect([first.archived.map((r) => r.jobId), first.failed]).toEqual([[job.jobId], []]);
    expect(existsSync(runDir)).toBe(false);
    expect(existsSync(archive)).toBe(true);
    const listed = await alice.get(`/api/jobs/${job.jobId}/files`);
    expect(listed.body.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['done.txt', 'job.sbatch', 'run.log']));
    const file = await alice.get(`/api/jobs/${job.jobId}/files/done.txt`);
    expect([file.status, file.body]).toEqual([200, 'ok\n']);
    expect((await alice.get(`/api/jobs/${job.jobId}/log`)).body.text).toContain('line 2');

    // Logged out: the cluster's runs are skipped, with the reason.
    killAgentOnLoginNode(cluster, TARGET, 'KILL', REMOTE_DIR);
    await waitFor(async () => (await alice.get(`/api/targets/${TARGET}/status`)).body.loggedIn === false, { timeoutMs: 30_000, what: 'the login to end' });
    await waitFor(() => Date.now() > (done.endedAt ?? 0) + DELETE_MS + 500, { timeoutMs: DELETE_MS + 30_000, what: 'the run to pass deleteAfter' });
    const second = await sweep();
    expect(second.skipped.find((r) => r.jobId === job.jobId)?.reason).toMatch(/not logged in/);
    expect(second.purged).toEqual([]);
    expect(existsSync(archive)).toBe(true);
    expect((await alice.job(job.jobId)).files).toBe('archived');

    // Logged in again: purged, the archive deleted, the record kept.
    expect((await logInTo(alice, TARGET, cluster)).status).toBe(200);
    const third = await sweep();
    expect(third.purged.map((r) => r.jobId)).toEqual([job.jobId]);
    expect(existsSync(archive)).toBe(false);
    expect(await alice.job(job.jobId)).toMatchObject({ status: 'purged', files: 'purged', parameters: { seconds: 0, lines: 2 } });
  }, 300_000);
});
