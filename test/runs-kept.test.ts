/**
 * Earlier runs keep their results: each run of a job has its own folder (`<job folder>/<serial>`),
 * the files and log routes read an earlier run with `?serial=N` (an unknown serial: 404
 * RUN_NOT_FOUND), and beyond `keepRuns` earlier runs the oldest one's folder is removed and its
 * history entry becomes `purged` (record and parameters kept). On this machine and on Slurm.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-kept';

describe('earlier runs keep their results', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', 'kept-slurm', cluster, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_KEEP_RUNS: '2' } });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) {
      killAgentOnLoginNode(cluster, 'kept-slurm', 'TERM', REMOTE_DIR);
      rmSync(`/home/${cluster.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  const cases = [
    { target: 'local', jobDir: (jobId: string) => path.join(jv.dataDir, 'runs', 'alice', jobId), timeoutMs: 30_000 },
    { target: 'kept-slurm', jobDir: (jobId: string) => `/home/${cluster.user}/${REMOTE_DIR}/runs/${jobId}`, timeoutMs: 120_000 },
  ];

  for (const c of cases) {
    it(`on ${c.target}: a re-run keeps the earlier run's files, ?serial=N reads them, the oldest beyond keepRuns is removed`, async () => {
      if (c.target !== 'local') expect((await logInTo(alice, c.target, cluster)).status).toBe(200);
      const runOnce = async (lines: number, serial: number) => {
        const j = await alice.run({ template: 'sleep', target: c.target, jobKey: 'kept', parameters: { seconds: 0, lines } });
        expect(j.serial).toBe(serial);
        return alice.waitJob(j.jobId, (v) => v.serial === serial && v.status === 'completed', c.timeoutMs, `run ${serial}`);
      };
      const first = await runOnce(1, 1);
      const jobId = first.jobId;
      await runOnce(2, 2);
      // Each run in its own folder; the first one's files are still there.
      expect(readFileSync(path.join(c.jobDir(jobId), '1', 'done.txt'), 'utf8')).toBe('ok\n');
      expect(existsSync(path.join(c.jobDir(jobId), '2', 'done.txt'))).toBe(true);

      const files1 = await alice.get(`/api/jobs/${jobId}/files?serial=1`);
      expect(files1.status, JSON.stringify(files1.body)).toBe(200);
      expect(files1.body.serial).toBe(1);
      expect(files1.body.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['done.txt', 'parameters.json', 'run.log']));
      const params1 = await alice.get(`/api/jobs/${jobId}/files/parameters.json?serial=1`);
      expect([params1.status, params1.body]).toEqual([200, { seconds: 0, lines: 1 }]);
      const params2 = await alice.get(`/api/jobs/${jobId}/files/parameters.json`);
      expect(params2.body).toEqual({ seconds: 0, lines: 2 });
      const log1 = await alice.get(`/api/jobs/${jobId}/log?serial=1`);
      expect([log1.status, log1.body.serial]).toEqual([200, 1]);
      expect(log1.body.text).toContain('line 1');
      expect(log1.body.text).not.toContain('line 2');
      expect((await alice.get(`/api/jobs/${jobId}/log`)).body.text).toContain('line 2');

      for (const p of [`/api/jobs/${jobId}/files?serial=9`, `/api/jobs/${jobId}/files/done.txt?serial=9`, `/api/jobs/${jobId}/log?serial=9`]) {
        const r = await alice.get(p);
        expect([p, r.status, r.body.error?.code]).toEqual([p, 404, 'RUN_NOT_FOUND']);
      }
      const bad = await alice.get(`/api/jobs/${jobId}/files?serial=abc`);
      expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_INPUT']);

      // keepRuns = 2: after runs 3 and 4, run 1's files go; its record stays.
      await runOnce(3, 3);
      expect(existsSync(path.join(c.jobDir(jobId), '1'))).toBe(true);
      const fourth = await runOnce(4, 4);
      await waitFor(() => !existsSync(path.join(c.jobDir(jobId), '1')), { timeoutMs: c.timeoutMs, what: "run 1's folder to be removed" });
      const view = await alice.waitJob(jobId, (v) => v.history.find((h) => h.serial === 1)?.files === 'purged', 30_000, 'run 1 purged');
      expect(view.history.map((h) => [h.serial, h.status, h.files])).toEqual([
        [3, 'completed', 'kept'],
        [2, 'completed', 'kept'],
        [1, 'purged', 'purged'],
      ]);
      expect(view.history.find((h) => h.serial === 1)?.parameters).toEqual({ seconds: 0, lines: 1 });
      expect(existsSync(path.join(c.jobDir(jobId), '2', 'done.txt'))).toBe(true);
      expect(fourth.files).toBe('kept');
      const gone = await alice.get(`/api/jobs/${jobId}/files?serial=1`);
      expect([gone.status, gone.body.error.code]).toEqual([410, 'RUN_FILES_GONE']);

      // Deleting the job removes every run's folder.
      expect((await alice.request('DELETE', `/api/jobs/${jobId}`)).status).toBe(204);
      expect(existsSync(c.jobDir(jobId))).toBe(false);
    }, 600_000);
  }
});
