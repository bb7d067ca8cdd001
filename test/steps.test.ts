/** Template steps (preprocess, command, postprocess) and run phases on this machine (the process engine). */
import { afterAll, beforeAll, describe } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { STEPS_FIXTURES, stepsScenarios } from './helpers/steps.js';

describe('template steps on local', () => {
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: STEPS_FIXTURES });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  stepsScenarios({ target: 'local', client: () => alice, serverUrl: () => jv.serverUrl, runMs: 30_000 });
});
