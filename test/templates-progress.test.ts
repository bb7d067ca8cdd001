/**
 * File progress: a template's command writes its progress to `{progressFile}`; the agent reads
 * it at each poll and once more after the command exited, so the last progress written before
 * exit is never lost: on this machine (the file is read every second) and on Slurm (the file is
 * read at each scheduler poll, late).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProgress } from '../src/cmds/progressFile.js';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-progress';

describe('what a progress file may say', () => {
  it('reads a fraction, a percentage and a JSON object, with their message; nothing from anything else', () => {
    expect(parseProgress('0.25')).toEqual({ value: 0.25 });
    expect(parseProgress('0.5 step 5 of 10\n')).toEqual({ value: 0.5, message: 'step 5 of 10' });
    expect(parseProgress('42% meshing')).toEqual({ value: 0.42, message: 'meshing' });
    expect(parseProgress('{"progress": 0.75, "message": "sweep 3"}')).toEqual({ value: 0.75, message: 'sweep 3' });
    expect(parseProgress('{"value": 2}')).toEqual({ value: 1 });
    expect(parseProgress('-3')).toEqual({ value: 0 });
    for (const bad of ['', 'done', '{"progress": "half"}', '{"progress": 0.', 'NaN']) expect(parseProgress(bad)).toBeNull();
  });
});

describe('file progress', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('slurm', 'prog-slurm', cluster, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) {
      killAgentOnLoginNode(cluster, 'prog-slurm', 'TERM', REMOTE_DIR);
      rmSync(`/home/${cluster.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  it('shows the progress a command writes while it runs', async () => {
    const job = await alice.run({ template: 'fileprogress', jobKey: 'watch', parameters: { steps: 40, stepSeconds: 0.1 } });
    const mid = await alice.waitJob(job.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0 && (j.progress ?? 1) < 1, 30_000, 'progress between 0 and 1');
    expect(mid.progressMessage).toMatch(/^sweep \d+ of 40, residual /);
    const done = await alice.waitJob(job.jobId, (j) => j.status === 'completed', 30_000, 'completed');
    expect([done.progress, done.progressMessage]).toEqual([1, expect.stringMatching(/^sweep 40 of 40, residual /)]);
  });

  for (const target of ['local', 'prog-slurm']) {
    it(`keeps the last progress written by a command that exits at once (${target})`, async () => {
      if (target !== 'local') expect((await logInTo(alice, target, cluster)).status).toBe(200);
      const ok = await alice.run({ template: 'fileprogress', jobKey: `at-once-${target}`, target, parameters: { steps: 1, stepSeconds: 0 } });
      const okDone = await alice.waitJob(ok.jobId, (j) => j.status === 'completed', 120_000, 'completed');
      expect([okDone.progress, okDone.progressMessage]).toEqual([1, expect.stringMatching(/^sweep 1 of 1, residual /)]);
      // An error run: its progress is what the command wrote last (the supervisor sets none).
      const bad = await alice.run({ template: 'fileprogress', jobKey: `fails-${target}`, target, parameters: { steps: 4, stepSeconds: 0, failAtEnd: true } });
      const badDone = await alice.waitJob(bad.jobId, (j) => j.status === 'error', 120_000, 'error');
      expect([badDone.progress, badDone.progressMessage, badDone.reason]).toEqual([1, expect.stringMatching(/^sweep 4 of 4, /), expect.stringContaining('asked to fail after sweep 4')]);
    }, 240_000);
  }
});
