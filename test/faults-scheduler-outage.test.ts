/**
 * Fault suite: the scheduler's commands fail for two minutes, on Slurm and on Grid Engine at
 * once, while runs are going there (running, and queued or about to end). No run may be
 * declared ended meanwhile; all of them complete with all their output once the scheduler
 * answers again.
 *
 * The clusters' daemons are shared with other test files running at the same time, so they are
 * not stopped: the targets here have their own `schedulerPath`, a folder on the login node
 * (made by this test, removed after) with shims of the scheduler's commands that fail while a
 * flag file exists and run the real command otherwise. Slurm's fail at once, as they do while
 * slurmctld is down; Grid Engine's `qstat` hangs past the agent's 30 s command timeout, as it
 * does while sge_qmaster does not answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { startTestCluster, type ClusterInfo, type ClusterKind } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { failWith, schedulerShims } from './helpers/schedulerShims.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const OUTAGE_MS = 120_000;
const REMOTE_DIR = 'jobvisor-outage';
const COMMANDS: Record<ClusterKind, Record<string, string>> = {
  slurm: Object.fromEntries(['squeue', 'sbatch', 'scontrol', 'sacct', 'scancel'].map((c) => [c, failWith(`${c}: error: Unable to contact slurm controller (connect failure)`)])),
  sge: {
    qstat: 'exec sleep 40',
    ...Object.fromEntries(
      ['qsub', 'qacct', 'qdel'].map((c) => [c, failWith('error: commlib error: got select error (Connection refused)\nunable to contact qmaster using port 6444 on host "vm"')]),
    ),
  },
};

interface Plan {
  key: string;
  seconds: number;
  lines: number;
}

/** Per cluster: one run through the whole outage, one that ends during it, one queued behind them that runs during it. */
const PLANS: Plan[] = [
  { key: 'through', seconds: 150, lines: 75 },
  { key: 'ends-during', seconds: 40, lines: 40 },
  { key: 'queued', seconds: 20, lines: 20 },
];

describe('scheduler commands failing for two minutes, on Slurm and Grid Engine at once', () => {
  const kinds: ClusterKind[] = ['slurm', 'sge'];
  const clusters = {} as Record<ClusterKind, ClusterInfo>;
  const shim = {} as Record<ClusterKind, ReturnType<typeof schedulerShims>>;
  let jv: Jobvisor;
  let admin: Client;
  const target = (kind: ClusterKind) => `outage-${kind}`;

  beforeAll(async () => {
    for (const kind of kinds) {
      clusters[kind] = startTestCluster(kind);
      shim[kind] = schedulerShims(clusters[kind], kind, REMOTE_DIR, COMMANDS[kind]);
      shim[kind].up();
      shim[kind].install();
    }
    const targets = [
      { name: 'local', driver: 'local' },
      // A site whose grace for unconfirmed states is one minute: shorter than the outage.
      ...kinds.map((kind) =>
        clusterTarget(kind, target(kind), clusters[kind], {
          remoteDir: REMOTE_DIR,
          schedulerPath: [shim[kind].dir],
          unconfirmedGraceMs: 60_000,
          lostAfterMs: 60_000,
          sizes: { sequential: { maxTimeSeconds: 300 }, parallel: { maxTimeSeconds: 300 } },
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

  it('keeps every run in its state (unconfirmed meanwhile), and all complete with all their output once the scheduler answers', async () => {
    const runs: { kind: ClusterKind; plan: Plan; job: JobView }[] = [];
    for (const kind of kinds) {
      for (const plan of PLANS) {
        const job = await admin.run({ template: 'sleep', target: target(kind), jobKey: `${kind}-${plan.key}`, parameters: { seconds: plan.seconds, lines: plan.lines } });
        runs.push({ kind, plan, job });
      }
    }
    const first = runs.filter((r) => r.plan.key !== 'queued');
    await Promise.all(first.map((r) => admin.waitJob(r.job.jobId, (j) => j.status === 'running' && j.logLines > 0, 90_000, `${r.kind} ${r.plan.key} running`)));
    await Promise.all(runs.map((r) => admin.waitJob(r.job.jobId, (j) => j.externalId !== null, 30_000, `${r.kind} ${r.plan.key} submitted`)));

    for (const kind of kinds) shim[kind].down();
    const outageStart = Date.now();
    const seen = new Map<string, { unconfirmed: boolean; statuses: Set<string>; logLines: number[] }>();
    for (const r of runs) seen.set(r.job.jobId, { unconfirmed: false, statuses: new Set(), logLines: [] });
    while (Date.now() - outageStart < OUTAGE_MS) {
      for (const r of runs) {
        const j = await admin.job(r.job.jobId);
        const s = seen.get(r.job.jobId)!;
        s.statuses.add(j.status);
        s.logLines.push(j.logLines);
        if (j.scheduler?.unconfirmed) s.unconfirmed = true;
        expect(['pending', 'running'], `${r.kind} ${r.plan.key} during the outage: ${j.status} (${j.reason})`).toContain(j.status);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    for (const kind of kinds) shim[kind].up();
    for (const r of runs) expect(seen.get(r.job.jobId)!.unconfirmed, `${r.kind} ${r.plan.key} shown unconfirmed`).toBe(true);
    // The run log is a file on the cluster: it is followed meanwhile, scheduler or not.
    for (const r of runs.filter((x) => x.plan.key === 'through')) {
      const lines = seen.get(r.job.jobId)!.logLines;
      expect(lines.at(-1)!, `${r.kind} log followed during the outage`).toBeGreaterThan(lines[0]! + 20);
    }

    const done = await Promise.all(runs.map((r) => admin.waitJob(r.job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 150_000, `${r.kind} ${r.plan.key} to end`)));
    for (const [i, j] of done.entries()) {
      const r = runs[i]!;
      expect([r.kind, r.plan.key, j.status, j.reason]).toEqual([r.kind, r.plan.key, 'completed', null]);
      expect(j.logLines).toBe(r.plan.lines * 2);
      const log = (await admin.get(`/api/jobs/${j.jobId}/log?limit=1048576`)).body.text as string;
      const expected = Array.from({ length: r.plan.lines }, (_, k) => `line ${k + 1}\nPROGRESS ${((k + 1) / r.plan.lines).toFixed(6)}\n`).join('');
      expect(log).toBe(expected);
    }
  }, 480_000);
});
