/**
 * The gateway-style example template (templates/wordfreq) as a gateway uses it, on this machine
 * and on the Slurm test cluster: a text file uploaded with the run request (multipart), checked
 * and normalised by the preprocess step, counted by the command, checked by the postprocess step,
 * and its result read back through the files route. A file that is not text is refused by the
 * preprocess step, and the run ends as error with its words.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { runWithFiles } from './helpers/inputs.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-gateway';
const DOCUMENT = 'The fox. The dog!\nthe FOX, a dog; the end.\n';

describe('the gateway example: upload, preprocess, run, postprocess, result', () => {
  let slurm: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    slurm = startTestCluster('slurm');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', 'gw-slurm', slurm, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (slurm) {
      killAgentOnLoginNode(slurm, 'gw-slurm', 'TERM', REMOTE_DIR);
      rmSync(`/home/${slurm.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  async function gatewayRun(target: string): Promise<void> {
    const r = await runWithFiles(alice, { template: 'wordfreq', target, jobKey: `words-${target}`, parameters: { top: 3 } }, [{ field: 'document', name: 'story.txt', data: DOCUMENT }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const jobId = r.body.job.jobId as string;
    expect(r.body.job.inputs).toMatchObject([{ name: 'document', fileName: 'story.txt', size: Buffer.byteLength(DOCUMENT) }]);
    const done = await alice.waitJob(jobId, (j) => !['pending', 'running'].includes(j.status), 180_000, `the wordfreq run on ${target}`);
    expect([done.status, done.reason]).toEqual(['completed', null]);
    // Every step ran, in order.
    expect(Object.keys(done.phaseTimes)).toEqual(['preparing', 'running', 'finishing']);
    const result = await alice.get(`/api/jobs/${jobId}/files/result.json`);
    expect(result.status).toBe(200);
    const counted = typeof result.body === 'string' ? JSON.parse(result.body) : result.body;
    expect(counted).toMatchObject({ words: 10, counted: 10, distinct: 5, top: [{ word: 'the', count: 4 }, { word: 'dog', count: 2 }, { word: 'fox', count: 2 }] });
    const log = (await alice.get(`/api/jobs/${jobId}/log?limit=1000`)).body.text as string;
    expect(log).toMatch(/\[jobvisor\] preprocess: /);
    expect(log).toMatch(/prepared 10 words/);
    expect(log).toMatch(/\[jobvisor\] postprocess: /);

    // A file that is not text: the preprocess step refuses it, the command never runs.
    const bad = await runWithFiles(alice, { template: 'wordfreq', target, jobKey: `binary-${target}` }, [{ field: 'document', name: 'data.txt', data: Buffer.from([0x41, 0, 0x42, 0x0a]) }]);
    expect(bad.status, JSON.stringify(bad.body)).toBe(200);
    const refused = await alice.waitJob(bad.body.job.jobId, (j) => !['pending', 'running'].includes(j.status), 180_000, `the refused run on ${target}`);
    expect(refused.status).toBe('error');
    expect(refused.reason).toMatch(/preprocess failed: .*not text/s);
    expect(Object.keys(refused.phaseTimes)).toEqual(['preparing']);
    expect((await alice.get(`/api/jobs/${refused.jobId}/files/result.json`)).status).toBe(404);
  }

  it('runs on this machine', async () => {
    await gatewayRun('local');
  }, 240_000);

  it('runs on a Slurm cluster', async () => {
    expect((await logInTo(alice, 'gw-slurm', slurm)).status).toBe(200);
    await gatewayRun('gw-slurm');
  }, 300_000);
});
