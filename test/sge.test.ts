/**
 * The Grid Engine backend against a real single-node Grid Engine cluster behind a real sshd that
 * asks for a password and a TOTP code (src/drivers/sge/test-cluster.sh): the driver contract,
 * then the batch-scheduler contract through the HTTP API. One file: they share the qmaster.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sgeBackend, SgeSettings } from '../src/drivers/sge/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { driverContract } from './drivers/contract.js';
import { nextCode, startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo, schedulerContract } from './schedulers/contract.js';

const SGE_ENV = { ...process.env, SGE_ROOT: '/var/lib/gridengine', SGE_CELL: 'default' };
const inQueue = (id: string) => {
  try {
    execFileSync('qstat', ['-j', id], { env: SGE_ENV, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

driverContract(
  'sge',
  async () => {
    const cluster = startTestCluster('sge');
    const config = loadConfig({ JOBVISOR_TEMPLATES_DIR: path.join(ROOT, 'templates'), JOBVISOR_DATA_DIR: '/tmp/jobvisor-sge-contract' });
    const driver = sgeBackend.create(SgeSettings.parse(clusterTarget('sge', 'sge-contract', cluster)), { config, log: createLogger('sge-contract', 'silent') });
    return {
      driver,
      templatesDir: driver.templatesDir(),
      credentials: () => ({ username: cluster.user, password: cluster.password, otp: nextCode(cluster) }),
      cleanup: async () => {
        killAgentOnLoginNode(cluster, 'sge-contract');
        execFileSync('bash', ['-c', 'qdel jobvisor-sge-contract-run jobvisor-sge-contract-cancel >/dev/null 2>&1; true'], { env: SGE_ENV });
      },
    };
  },
  'contract',
  'parallel',
);

schedulerContract({
  kind: 'sge',
  title: 'Grid Engine',
  inQueue,
  scriptName: 'job.qsub',
  oneMinuteLine: /^#\$ -l h_rt=00:01:00$/m,
  statusCommand: 'qstat',
  submitCommand: 'qsub',
  refusedOptions: { queue: 'nosuch.q' },
  refusedText: /unknown queue "nosuch\.q"/,
  injections: [{ queue: 'x\n#$ -l h_rt=99:00:00' }, { project: "a'; rm -rf ~; '" }, { slots: 5 }, { minutes: 10_000 }, { partition: 'debug' }],
  failedReason: /exit code 2|exit status 2/,
  timeLimitReason: /Grid Engine ended the job at its time limit \(h_rt\)/,
});

describe('Grid Engine: a job the scheduler puts in an error state (Eqw)', () => {
  // A site template whose working directory does not exist on the execution host: Grid Engine
  // cannot start the job and keeps it queued in Eqw with the reason.
  const target = 'sge-eqw';
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    cluster = startTestCluster('sge');
    const t = clusterTarget('sge', target, cluster, { scriptTemplate: path.join(ROOT, 'test', 'fixtures', 'sge-eqw.sh.template') });
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([t]) } });
    admin = await jv.login();
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) killAgentOnLoginNode(cluster, target);
  });

  it('ends the run as error with Grid Engine\'s reason, and takes the job out of the queue', async () => {
    expect((await logInTo(admin, target, cluster)).status).toBe(200);
    const job = await admin.run({ template: 'sleep', target, parameters: { seconds: 1, lines: 1 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 60_000, 'the Eqw run to end');
    expect(ended.reason).toMatch(/Eqw/);
    expect(ended.reason).toMatch(/\/nonexistent\/jobvisor-eqw/);
    await waitFor(() => !inQueue(ended.externalId!), { timeoutMs: 30_000, what: 'the Eqw job to leave the queue' });
  });
});
