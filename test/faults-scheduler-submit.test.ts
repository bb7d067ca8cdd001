/**
 * Fault suite: runs submitted while the scheduler cannot be contacted, on Slurm and on Grid
 * Engine at once. A submission that failed because the scheduler could not be reached is not
 * a refusal: the run stays pending (its view says the scheduler does not answer) for the
 * outage, is submitted once the scheduler answers again and completes with all its output; a
 * run canceled meanwhile ends canceled. (Refusals still end a run at once: test/schedulers/contract.ts.)
 *
 * As in faults-scheduler-outage, the shared daemons are not stopped: the targets here have their
 * own `schedulerPath`, a folder of shims that fail while a flag file exists, with the texts the
 * real commands print with slurmctld or sge_qmaster down (Slurm 22.05, Grid Engine 8.1.9).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { startTestCluster, type ClusterInfo, type ClusterKind } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { failWith, schedulerShims } from './helpers/schedulerShims.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const OUTAGE_MS = 40_000;
const REMOTE_DIR = 'jobvisor-submit-outage';
const SLURM_DOWN = 'Unable to contact slurm controller (connect failure)';
const SGE_DOWN = 'error: commlib error: got select error (Connection refused)';
/** What each command prints (to stderr, exit 1) with the scheduler's daemon down, as the real ones do. */
const COMMANDS: Record<ClusterKind, Record<string, string>> = {
  slurm: {
    sbatch: `sbatch: error: Batch job submission failed: ${SLURM_DOWN}`,
    squeue: `slurm_load_jobs error: ${SLURM_DOWN}`,
    scontrol: `slurm_load_jobs error: ${SLURM_DOWN}`,
    sacct: "sacct: error: Problem talking to the database: Connection refused",
    scancel: `scancel: error: Kill job error on job id 0: ${SLURM_DOWN}`,
  },
  sge: {
    qsub: `${SGE_DOWN}\nUnable to run job: unable to send message to qmaster using port 6444 on host "vm": got send error\nExiting.`,
    qstat: `${SGE_DOWN}\nerror: unable to send message to qmaster using port 6444 on host "vm": got send error`,
    qacct: `${SGE_DOWN}\nerror: unable to send message to qmaster using port 6444 on host "vm": got send error`,
    qdel: `${SGE_DOWN}\nerror: unable to send message to qmaster using port 6444 on host "vm": got send error`,
  },
};

const LINES = 10;

describe('runs submitted while the scheduler cannot be contacted, on Slurm and Grid Engine at once', () => {
  const kinds: ClusterKind[] = ['slurm', 'sge'];
  const clusters = {} as Record<ClusterKind, ClusterInfo>;
  const shim = {} as Record<ClusterKind, ReturnType<typeof schedulerShims>>;
  let jv: Jobvisor;
  let admin: Client;
  const target = (kind: ClusterKind) => `submit-outage-${kind}`;

  beforeAll(async () => {
    for (const kind of kinds) {
      clusters[kind] = startTestCluster(kind);
      shim[kind] = schedulerShims(clusters[kind], kind, REMOTE_DIR, Object.fromEntries(Object.entries(COMMANDS[kind]).map(([c, text]) => [c, failWith(text)])));
      shim[kind].up();
      shim[kind].install();
    }
    const targets = [
      { name: 'local', driver: 'local' },
      ...kinds.map((kind) =>
        clusterTarget(kind, target(kind), clusters[kind], {
          remoteDir: REMOTE_DIR,
          schedulerPath: [shim[kind].dir],
          unconfirmedGraceMs: 20_000,
          lostAfterMs: 20_000,
          sizes: { sequential: { maxTimeSeconds: 120 }, parallel: { maxTimeSeconds: 120 } },
        }),
      ),
    ];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    admin = await jv.login();
    // One after the other: both targets share the folder on the login node (uploads must not overlap).
    for (const kind of kinds) {
      const r = await logInTo(admin, `${target(kind)}`, clusters[kind]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  }, 600_000);

  afterAll(async () => {
    for (const kind of kinds) shim[kind]?.up();
    const jobs = admin ? ((await admin.get('/api/jobs')).body.jobs as JobView[]) : [];
    await Promise.all(jobs.filter((j) => j.status === 'pending' || j.status === 'running').map((j) => admin.post(`/api/jobs/${j.jobId}/cancel`, {})));
    await jv?.stop();
    for (const kind of kinds) {
      if (clusters[kind]) killAgentOnLoginNode(clusters[kind], target(kind), 'TERM', REMOTE_DIR);
    }
    for (const kind of kinds) if (clusters[kind]) shim[kind].remove();
  });

  it('keeps the runs pending (the scheduler does not answer) and submits them once it does; a cancel meanwhile ends one canceled', async () => {
    for (const kind of kinds) shim[kind].down();
    const outageStart = Date.now();
    const runs: { kind: ClusterKind; key: 'waits' | 'canceled'; job: JobView }[] = [];
    for (const kind of kinds) {
      for (const key of ['waits', 'canceled'] as const) {
        const job = await admin.run({ template: 'sleep', target: target(kind), jobKey: `${kind}-${key}`, parameters: { seconds: 5, lines: LINES } });
        runs.push({ kind, key, job });
      }
    }
    // Each says the scheduler does not answer, with the scheduler's own words, and has no job id.
    for (const r of runs) {
      const j = await admin.waitJob(r.job.jobId, (v) => v.status !== 'pending' || v.scheduler?.state === 'submitting', 60_000, `${r.kind} ${r.key} waiting to submit`);
      expect([r.kind, r.key, j.status, j.externalId, j.scheduler?.unconfirmed]).toEqual([r.kind, r.key, 'pending', null, true]);
      expect(j.scheduler?.reason).toContain(r.kind === 'slurm' ? `Slurm does not answer: sbatch: error: Batch job submission failed: ${SLURM_DOWN}` : 'Grid Engine does not answer: error: commlib error');
      expect(j.waitingFor).toMatch(r.kind === 'slurm' ? /^Slurm: submitting \(Slurm does not answer: / : /^Grid Engine: submitting \(Grid Engine does not answer: .*unable to send message to qmaster/);
    }

    for (const r of runs.filter((x) => x.key === 'canceled')) {
      const c = await admin.post(`/api/jobs/${r.job.jobId}/cancel`, {});
      expect(c.status, JSON.stringify(c.body)).toBeLessThan(300);
      const j = await admin.waitJob(r.job.jobId, (v) => v.status !== 'pending', 30_000, `${r.kind} canceled during the outage`);
      expect([r.kind, j.status, j.externalId]).toEqual([r.kind, 'canceled', null]);
    }

    const waits = runs.filter((r) => r.key === 'waits');
    while (Date.now() - outageStart < OUTAGE_MS) {
      for (const r of waits) {
        const j = await admin.job(r.job.jobId);
        expect([r.kind, j.status, j.reason, j.externalId], `${r.kind} during the outage`).toEqual([r.kind, 'pending', null, null]);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    const tried = ((await admin.get(`/api/targets/${target('slurm')}/agent-log`)).body.schedulerCommands as Record<string, number>).sbatch ?? 0;
    expect(tried, 'sbatch tried again during the outage').toBeGreaterThanOrEqual(2);
    for (const kind of kinds) shim[kind].up();

    const done = await Promise.all(waits.map((r) => admin.waitJob(r.job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 120_000, `${r.kind} to end`)));
    const expected = Array.from({ length: LINES }, (_, k) => `line ${k + 1}\nPROGRESS ${((k + 1) / LINES).toFixed(6)}\n`).join('');
    for (const [i, j] of done.entries()) {
      const r = waits[i]!;
      expect([r.kind, j.status, j.reason, j.scheduler?.unconfirmed]).toEqual([r.kind, 'completed', null, false]);
      expect(j.externalId).toMatch(/^[0-9]+$/);
      const log = (await admin.get(`/api/jobs/${j.jobId}/log?limit=1048576`)).body.text as string;
      expect(log).toBe(expected);
    }
    // The canceled runs never reached the scheduler.
    for (const r of runs.filter((x) => x.key === 'canceled')) expect((await admin.job(r.job.jobId)).externalId).toBeNull();
  }, 300_000);
});
