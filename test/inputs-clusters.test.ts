/**
 * Input files on the other targets: staged over the agent's connection into a Docker
 * container's run directory (a host folder mounted into it) and into a cluster run directory on
 * the login node (Slurm, SGE); a file of several chunks arrives whole.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { PDB, runWithFiles, upload, uploadFiles } from './helpers/inputs.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');
const REMOTE_DIR = 'jobvisor-inputs';
const DOCKER = { name: 'docker', driver: 'docker', stopTimeoutSeconds: 2, engines: [{ name: 'local', socketPath: '/var/run/docker.sock', slots: { sequential: 2, parallel: 1 } }] };

/** 2.5 MiB of varied bytes: three write chunks. */
const DATA = Buffer.from(Array.from({ length: 2.5 * 1024 * 1024 }, (_, i) => (i * 7919) % 251));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('input files on Docker and cluster targets', () => {
  let slurm: ClusterInfo;
  let sge: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    slurm = startTestCluster('slurm');
    sge = startTestCluster('sge');
    const targets = [DOCKER, clusterTarget('slurm', 'in-slurm', slurm, { remoteDir: REMOTE_DIR }), clusterTarget('sge', 'in-sge', sge, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    for (const [c, t] of [[slurm, 'in-slurm'], [sge, 'in-sge']] as const) {
      if (!c) continue;
      killAgentOnLoginNode(c, t, 'TERM', REMOTE_DIR);
      rmSync(`/home/${c.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  async function runThere(target: string, runDirOf: (jobId: string) => string): Promise<void> {
    const data = await upload(alice, 'frames.bin', DATA, 'application/octet-stream');
    expect(data.status, JSON.stringify(data.body)).toBe(201);
    const r = await runWithFiles(alice, { template: 'count-lines', target, jobKey: `on-${target}`, parameters: { label: target }, inputs: { data: data.body.uploadId } }, [
      { field: 'structure', name: 'protein.pdb', data: PDB, type: 'chemical/x-pdb' },
    ]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const done = await alice.waitJob(r.body.job.jobId, (j) => !['pending', 'running'].includes(j.status), 180_000, `the run on ${target}`);
    expect([done.status, done.reason]).toEqual(['completed', null]);
    const runDir = runDirOf(done.jobId);
    const out = JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8'));
    expect(out).toMatchObject({ label: target, lines: 4, sha256: sha(PDB), inputs: ['frames.bin', 'protein.pdb'], data: { bytes: DATA.length, sha256: sha(DATA) } });
    expect(out.file).toBe(`${out.cwd}/inputs/protein.pdb`);
    await waitFor(async () => (await alice.get('/api/uploads')).body.uploads.length === 0 && uploadFiles(jv.dataDir).length === 0, { what: 'the uploads to go' });
  }

  it('stages input files into a Docker container’s run directory', async () => {
    await runThere('docker', (jobId) => path.join(jv.dataDir, 'runs', 'alice', jobId, '1'));
  }, 240_000);

  it('stages input files to a Slurm cluster’s run directory on its login node', async () => {
    expect((await logInTo(alice, 'in-slurm', slurm)).status).toBe(200);
    await runThere('in-slurm', (jobId) => `/home/${slurm.user}/${REMOTE_DIR}/runs/${jobId}/1`);
  }, 240_000);

  it('stages input files to an SGE cluster’s run directory on its login node', async () => {
    expect((await logInTo(alice, 'in-sge', sge)).status).toBe(200);
    await runThere('in-sge', (jobId) => `/home/${sge.user}/${REMOTE_DIR}/runs/${jobId}/1`);
  }, 240_000);
});
