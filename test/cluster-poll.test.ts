/**
 * The adaptive poll of cluster runs (src/agent/engines/pollSchedule.ts) on the real Slurm test
 * cluster: with a poll interval of a minute, runs still complete within seconds (the agent asks
 * soon after a submission and as a job starts), and ten runs at once are followed with one
 * `squeue` per query, never one per job (counts, not times).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode } from './schedulers/contract.js';

const TARGET = 'poll-slurm';
const SOON_MS = 200;

describe('the adaptive poll of a Slurm target', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    // A minute between queries at most: only the soon queries can see these runs end in time.
    const target = clusterTarget('slurm', TARGET, cluster, { pollIntervalMs: 60_000, pollSoonMs: SOON_MS });
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([{ name: 'here', driver: 'local' }, target]) } });
    alice = await jv.addUser(await jv.login(), 'alice');
    const login = await alice.post(`/api/targets/${TARGET}/login`, { username: cluster.user, privateKey: readFileSync(cluster.privateKeyFile, 'utf8') });
    expect(login.status).toBe(200);
  }, 600_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) killAgentOnLoginNode(cluster, TARGET);
  });

  it('sees ten runs submitted at once complete long before the poll interval, with one squeue per query for all of them', async () => {
    const before = (await alice.get(`/api/targets/${TARGET}/agent-log`)).body.schedulerCommands;
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => alice.run({ template: 'sleep', target: TARGET, jobKey: `poll-${i}`, parameters: { seconds: 0, lines: 1 } })));
    // Slurm starts jobs in rounds about 3 s apart, one per CPU: ten jobs on two CPUs take some rounds; a 60 s poll would see none of them end.
    const done = await Promise.all(runs.map((r) => alice.waitJob(r.jobId, (j) => !['pending', 'running'].includes(j.status), 55_000, 'the run to end before the first 60 s poll')));
    const elapsed = Date.now() - started;
    expect(done.map((j) => [j.status, j.logLines])).toEqual(Array.from({ length: 10 }, () => ['completed', 2]));
    const after = (await alice.get(`/api/targets/${TARGET}/agent-log`)).body.schedulerCommands;
    const squeue = (after.squeue ?? 0) - (before.squeue ?? 0);
    expect(after.sbatch - (before.sbatch ?? 0)).toBe(10);
    // Queries never overlap and are at least pollSoonMs apart, whatever the number of jobs.
    expect(squeue).toBeGreaterThan(0);
    expect(squeue).toBeLessThanOrEqual(Math.ceil(elapsed / SOON_MS) + 1);
    expect(after['squeue (find)']).toBeUndefined();
  }, 120_000);
});
