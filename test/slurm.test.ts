/**
 * The Slurm backend against a real single-node Slurm cluster behind a real sshd that asks for a
 * password and a TOTP code (src/drivers/slurm/test-cluster.sh): the driver contract, then the
 * batch-scheduler contract through the HTTP API. One file: they share the cluster's daemon.
 */
import { execFileSync } from 'node:child_process';
import { slurmBackend, SlurmSettings } from '../src/drivers/slurm/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { driverContract } from './drivers/contract.js';
import { nextCode, startTestCluster } from './helpers/cluster.js';
import { ROOT } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, schedulerContract } from './schedulers/contract.js';
import path from 'node:path';

const inQueue = (id: string) => execFileSync('squeue', ['--noheader', '--jobs', id, '--format=%i'], { encoding: 'utf8' }).trim() === id;

driverContract(
  'slurm',
  async () => {
    const cluster = startTestCluster('slurm');
    const config = loadConfig({ JOBVISOR_TEMPLATES_DIR: path.join(ROOT, 'templates'), JOBVISOR_DATA_DIR: '/tmp/jobvisor-slurm-contract' });
    const driver = slurmBackend.create(SlurmSettings.parse(clusterTarget('slurm', 'slurm-contract', cluster)), { config, log: createLogger('slurm-contract', 'silent') });
    return {
      driver,
      templatesDir: driver.templatesDir(),
      credentials: () => ({ username: cluster.user, password: cluster.password, otp: nextCode(cluster) }),
      // The driver cannot signal agents on the login node (no login kept): end them as the cluster user's own admin would.
      cleanup: async () => {
        killAgentOnLoginNode(cluster, 'slurm-contract');
        execFileSync('bash', ['-c', 'scancel --name=jobvisor-slurm-contract-run,jobvisor-slurm-contract-cancel 2>/dev/null; true']);
      },
    };
  },
  'contract',
  'parallel',
);

schedulerContract({
  kind: 'slurm',
  title: 'Slurm',
  inQueue,
  scriptName: 'job.sbatch',
  oneMinuteLine: /^#SBATCH --time=1$/m,
  statusCommand: 'squeue',
  submitCommand: 'sbatch',
  refusedOptions: { partition: 'nosuchpartition' },
  refusedText: /invalid partition specified: nosuchpartition/,
  injections: [{ account: 'x\n#SBATCH --qos=high' }, { partition: "debug'; rm -rf ~; '" }, { nodes: 5 }, { minutes: 10_000 }, { queue: 'all.q' }],
  failedReason: /Slurm job ended FAILED \(.*exit code 2\)/,
  timeLimitReason: /^Slurm ended the job at its time limit \(TIMEOUT\)$/,
});
