/**
 * The Grid Engine backend against a real single-node Grid Engine cluster behind a real sshd that
 * asks for a password and a TOTP code (src/drivers/sge/test-cluster.sh): the driver contract,
 * then the batch-scheduler contract through the HTTP API. One file: they share the qmaster.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { sgeBackend, SgeSettings } from '../src/drivers/sge/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { driverContract } from './drivers/contract.js';
import { nextCode, startTestCluster } from './helpers/cluster.js';
import { ROOT } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, schedulerContract } from './schedulers/contract.js';

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
        execFileSync('bash', ['-c', 'qdel jobvisor-contract-run jobvisor-contract-cancel >/dev/null 2>&1; true'], { env: SGE_ENV });
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
