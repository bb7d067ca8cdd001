/**
 * A cluster run's end from the exit code its batch script recorded (exit-status in the run
 * directory, drivers/cluster/steps.ts runBlock), on real Slurm and Grid Engine clusters: a
 * command that exits 3 is reported as exit code 3 without the scheduler's records being asked
 * (qacct; scontrol show job and sacct), counted by the agent itself (GET
 * /api/targets/:t/agent-log); a job the scheduler itself ends (qdel, scancel from outside
 * jobvisor) writes no such file and is still reported canceled, from the scheduler's records.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo, type ClusterKind } from './helpers/cluster.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const SGE_ENV = { ...process.env, SGE_ROOT: '/var/lib/gridengine', SGE_CELL: 'default' };
const REMOTE_DIR = 'jobvisor-exit-status';

interface Case {
  kind: ClusterKind;
  /** The commands that read the scheduler's records of a job that left the queue. */
  records: string[];
  /** Ends a job from outside jobvisor (as root, a manager of both clusters). */
  kill: (externalId: string) => void;
  failed: RegExp;
  killed: RegExp;
}

const CASES: Case[] = [
  {
    kind: 'sge',
    records: ['qacct'],
    kill: (id) => execFileSync('qdel', [id], { env: SGE_ENV, stdio: 'ignore' }),
    failed: /\n\(Grid Engine job failed with exit code 3\)$/,
    killed: /^canceled in Grid Engine \(qdel\) or killed by signal 9/,
  },
  {
    kind: 'slurm',
    records: ['scontrol', 'sacct'],
    kill: (id) => execFileSync('scancel', [id], { stdio: 'ignore' }),
    failed: /\n\(Slurm job ended FAILED \(.*exit code 3\)\)$/,
    killed: /^canceled in Slurm \(CANCELLED\)$/,
  },
];

describe.each(CASES)('the exit code a $kind batch script records', (c) => {
  const target = `exit-${c.kind}`;
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  const records = async () => {
    const counts = (await admin.get(`/api/targets/${target}/agent-log`)).body.schedulerCommands as Record<string, number>;
    return c.records.reduce((n, command) => n + (counts[command] ?? 0), 0);
  };

  beforeAll(async () => {
    cluster = startTestCluster(c.kind);
    const t = clusterTarget(c.kind, target, cluster, { remoteDir: REMOTE_DIR, sizes: { sequential: { maxTimeSeconds: 300 }, parallel: { maxTimeSeconds: 300 } } });
    jv = await startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'exit-templates'), env: { JOBVISOR_TARGETS: JSON.stringify([t]) } });
    admin = await jv.login();
    const r = await logInTo(admin, target, cluster);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) killAgentOnLoginNode(cluster, target, 'TERM', REMOTE_DIR);
    execFileSync('bash', ['-c', `rm -rf /home/${cluster?.user ?? 'nobody'}/${REMOTE_DIR}`]);
  });

  it('reports a command that exits 3 as exit code 3 without asking the scheduler\'s records; the file is in the run folder', async () => {
    const before = await records();
    const job = await admin.run({ template: 'exits', target, parameters: { code: 3, seconds: 0 } });
    const ended = await admin.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 120_000, 'the run to end');
    expect([ended.status, ended.cause]).toEqual(['error', 'user']);
    expect(ended.reason).toMatch(c.failed);
    expect(ended.reason).toMatch(/bye/);
    expect(ended.logLines).toBe(2);
    expect(await records()).toBe(before);
    const runDir = `/home/${cluster.user}/${REMOTE_DIR}/runs/${job.jobId}/${ended.serial}`;
    expect(execFileSync('cat', [`${runDir}/exit-status`], { encoding: 'utf8' })).toBe('3\n');
    const done = await admin.run({ template: 'exits', target, jobKey: 'zero', parameters: { code: 0, seconds: 0 } });
    expect((await admin.waitJob(done.jobId, (j) => !['pending', 'running'].includes(j.status), 120_000, 'the run to end')).status).toBe('completed');
    expect(await records()).toBe(before);
  }, 240_000);

  it('reports a run its scheduler ends from outside jobvisor as canceled: no exit-status, the scheduler\'s records say it', async () => {
    const job = await admin.run({ template: 'exits', target, jobKey: 'killed', parameters: { code: 0, seconds: 120 } });
    const running = await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 1, 120_000, 'running');
    const before = await records();
    c.kill(running.externalId as string);
    const ended = await admin.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 120_000, 'the run to end');
    expect(ended.status).toBe('canceled');
    expect(ended.reason).toMatch(c.killed);
    expect(await records()).toBeGreaterThan(before);
    expect(existsSync(`/home/${cluster.user}/${REMOTE_DIR}/runs/${job.jobId}/${ended.serial}/exit-status`)).toBe(false);
  }, 240_000);

  it('cancels a run through jobvisor: the command is ended, no exit-status, reported canceled', async () => {
    const job = await admin.run({ template: 'exits', target, jobKey: 'canceled', parameters: { code: 0, seconds: 120 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 1, 120_000, 'running');
    const r = await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
    expect(r.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user' });
    const runDir = `/home/${cluster.user}/${REMOTE_DIR}/runs/${job.jobId}/${r.body.job.serial}`;
    expect(existsSync(`${runDir}/exit-status`)).toBe(false);
    // The command is gone (its own folder is in its argv).
    expect(execFileSync('bash', ['-c', `pgrep -u ${cluster.user} -f 'exits.mjs --code=0 --seconds=120' || true`], { encoding: 'utf8' }).trim()).toBe('');
  }, 240_000);
});
