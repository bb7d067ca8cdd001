/**
 * Placeholders are filled once, in one place, and never inside a value: a string parameter
 * that looks like a placeholder (`{node}`, `{templateDir}`, `{{root}}`, `{runDir}`) reaches the
 * command as it was typed, on this machine and on a cluster, while the template's own
 * placeholders are filled.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

// Its own folder on the login node: this test's templates (with its fixtures) must not be
// replaced by those another test file uploads to the shared one at the same time.
const REMOTE_DIR = 'jobvisor-placeholders';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');
const TEXT = '{node} {templateDir} {{root}} {runDir} {text}';

async function argsOf(admin: Client, jobId: string): Promise<string[]> {
  const r = await admin.get(`/api/jobs/${jobId}/files/args.json`);
  expect(r.status).toBe(200);
  return typeof r.body === 'string' ? (JSON.parse(r.body) as string[]) : (r.body as string[]);
}

describe('a string parameter that looks like placeholders', () => {
  let jv: Jobvisor;
  let admin: Client;
  let slurm: ClusterInfo;

  beforeAll(async () => {
    slurm = startTestCluster('slurm');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', 'ph-slurm', slurm, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    admin = await jv.login();
  }, 600_000);
  afterAll(async () => {
    await jv?.stop();
    if (slurm) killAgentOnLoginNode(slurm, 'ph-slurm', 'TERM', REMOTE_DIR);
  });

  it('reaches a local command verbatim, inside an argument and as a whole one; the template\'s placeholders are filled', async () => {
    const job = await admin.run({ template: 'echo-args', target: 'local', parameters: { text: TEXT } });
    const done = await admin.waitJob(job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'the run to end');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    expect(await argsOf(admin, job.jobId)).toEqual([`--text=${TEXT}`, TEXT, path.join(jv.dataDir, 'runs', 'admin', job.jobId, String(job.serial))]);
    const params = await admin.get(`/api/jobs/${job.jobId}/files/parameters.json`);
    expect(typeof params.body === 'string' ? JSON.parse(params.body) : params.body).toEqual({ text: TEXT });
    const log = await admin.get(`/api/jobs/${job.jobId}/log`);
    expect(log.body.text.split('\n').slice(0, 2)).toEqual([`arg: --text=${TEXT}`, `arg: ${TEXT}`]);
  });

  it('reaches a cluster command verbatim through its batch script; the agent\'s folder is filled only where the template put it', async () => {
    expect((await logInTo(admin, 'ph-slurm', slurm)).body).toMatchObject({ loggedIn: true });
    const job = await admin.run({ template: 'echo-args', target: 'ph-slurm', parameters: { text: TEXT } });
    const done = await admin.waitJob(job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 90_000, 'the cluster run to end');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    const runDir = `/home/${slurm.user}/${REMOTE_DIR}/runs/${job.jobId}/${job.serial}`;
    expect(await argsOf(admin, job.jobId)).toEqual([`--text=${TEXT}`, TEXT, runDir]);
    const script = await admin.get(`/api/jobs/${job.jobId}/files/job.sbatch`);
    expect(script.status).toBe(200);
    expect(script.body).toContain(`#SBATCH --chdir=${runDir}\n`);
    expect(script.body).toContain(` '--text=${TEXT}' '${TEXT}' '${runDir}'\n`);
    expect(script.body).not.toContain('\0');
    const params = await admin.get(`/api/jobs/${job.jobId}/files/parameters.json`);
    expect(typeof params.body === 'string' ? JSON.parse(params.body) : params.body).toEqual({ text: TEXT });
  });
});
