/**
 * Template steps on the batch engine: Slurm and Grid Engine run preprocess, command and
 * postprocess inside the batch job; the script records each phase for the agent's poll and
 * which step failed. The same scenarios as on local (test/helpers/steps.ts).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo, type ClusterKind } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { STEPS_FIXTURES, stepsScenarios } from './helpers/steps.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-steps';

for (const kind of ['slurm', 'sge'] as ClusterKind[]) {
  describe(`template steps on ${kind}`, () => {
    const target = `steps-${kind}`;
    let cluster: ClusterInfo;
    let jv: Jobvisor;
    let alice: Client;

    beforeAll(async () => {
      cluster = startTestCluster(kind);
      const targets = [{ name: 'local', driver: 'local' }, clusterTarget(kind, target, cluster, { remoteDir: REMOTE_DIR })];
      jv = await startJobvisor({ extraTemplates: STEPS_FIXTURES, env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
      alice = await jv.addUser(await jv.login(), 'alice');
      const r = await logInTo(alice, target, cluster);
      if (r.status !== 200) throw new Error(`login to ${target}: ${r.status} ${JSON.stringify(r.body)}`);
    }, 600_000);
    afterAll(async () => {
      const jobs = alice ? ((await alice.get('/api/jobs')).body.jobs as { status: string; jobId: string }[]) : [];
      await Promise.all(jobs.filter((j) => j.status === 'pending' || j.status === 'running').map((j) => alice.post(`/api/jobs/${j.jobId}/cancel`, {})));
      await jv?.stop();
      if (cluster) {
        killAgentOnLoginNode(cluster, target, 'TERM', REMOTE_DIR);
        rmSync(`/home/${cluster.user}/${REMOTE_DIR}`, { recursive: true, force: true });
      }
    });

    stepsScenarios({ target, client: () => alice, serverUrl: () => jv.serverUrl, runMs: 120_000, polled: true });

    if (kind === 'slurm') {
      it('follows a run with steps again after its agent died: its later phases and a failed step still count', async () => {
        const job = await alice.run({ template: 'steps', target, jobKey: 'steps-reattach', parameters: { preSeconds: 8, postFail: true } });
        await alice.waitJob(job.jobId, (j) => j.phase === 'preparing', 60_000, 'the preparing phase');
        killAgentOnLoginNode(cluster, target, 'KILL', REMOTE_DIR);
        await alice.waitJob(job.jobId, (j) => /^login required/.test(j.waitingFor ?? ''), 60_000, 'the run to wait for a login');
        expect((await logInTo(alice, target, cluster)).status).toBe(200);
        const done = await alice.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 120_000, 'the run to end');
        expect(done.status).toBe('error');
        expect(done.reason).toMatch(/^postprocess rejected the results: (.*\n)*no output structure produced \(exited with code 3\)$/);
        expect(Object.keys(done.phaseTimes).sort()).toEqual(['finishing', 'preparing', 'running']);
      });
    }
  }, 900_000);
}
