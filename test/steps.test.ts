/** Template steps (preprocess, command, postprocess) and run phases on this machine (the process engine). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { STEPS_FIXTURES, stepsScenarios } from './helpers/steps.js';

describe('template steps on local', () => {
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    // Parallel runs here may take 3 s at most: the time limit covers all steps.
    const targets = [{ name: 'local', driver: 'local', sizes: { parallel: { maxTimeSeconds: 3 } } }];
    jv = await startJobvisor({ extraTemplates: STEPS_FIXTURES, env: { JOBVISOR_TARGETS: JSON.stringify(targets) } });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  stepsScenarios({ target: 'local', client: () => alice, serverUrl: () => jv.serverUrl, runMs: 30_000 });

  it('ends a run whose steps together outlast its time limit, though each one is shorter', async () => {
    const job = await alice.run({ template: 'steps', jobKey: 'steps-limit', size: 'parallel', parameters: { preSeconds: 2, mainSeconds: 2 } });
    const done = await alice.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 30_000, 'the run to end');
    expect([done.status, done.reason]).toEqual(['canceled', 'time limit of 3 s exceeded']);
    expect(Object.keys(done.phaseTimes).sort()).toEqual(['preparing', 'running']);
    expect(done.endedAt! - done.phaseTimes.preparing!).toBeLessThan(5000);
    const files = (await alice.get(`/api/jobs/${job.jobId}/files`)).body.files.map((f: { path: string }) => f.path);
    expect(files).not.toContain('main.txt');
  });

  it('keeps the phase times of earlier runs in the job’s history', async () => {
    const first = await alice.run({ template: 'steps', jobKey: 'steps-again', parameters: {} });
    const one = await alice.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'the first run');
    await alice.run({ template: 'steps', jobKey: 'steps-again', parameters: { preFail: true } });
    const two = await alice.waitJob(first.jobId, (j) => j.serial === 2 && j.status === 'error', 30_000, 'the second run');
    expect(Object.keys(two.phaseTimes)).toEqual(['preparing']);
    expect(two.history.map((r) => [r.serial, r.phaseTimes])).toEqual([[1, one.phaseTimes]]);
    expect(Object.keys(one.phaseTimes).sort()).toEqual(['finishing', 'preparing', 'running']);
  });

  it('keeps a run’s phases across a supervisor restart while its preprocess runs: the run goes on through its steps', async () => {
    const job = await alice.run({ template: 'steps', jobKey: 'steps-restart', parameters: { preSeconds: 3 } });
    await alice.waitJob(job.jobId, (j) => j.phase === 'preparing', 20_000, 'the preparing phase');
    await jv.stopSupervisor('SIGKILL');
    await jv.startSupervisor();
    const done = await alice.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 30_000, 'the run to end after the restart');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    expect(Object.keys(done.phaseTimes).sort()).toEqual(['finishing', 'preparing', 'running']);
    expect(done.phaseTimes.running! - done.phaseTimes.preparing!).toBeGreaterThanOrEqual(3000);
  });
});
