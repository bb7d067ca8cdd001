/**
 * The job page of a run with steps, in a real Chromium: the phase beside the status while
 * preprocess runs ("running · preparing"), then, once the run ended, how long each phase took.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { STEPS_FIXTURES } from './helpers/steps.js';

describe('web GUI: the phases of a run with steps (Chromium)', () => {
  const gui = guiFile();
  let jv: Jobvisor;
  let admin: Client;
  let t: TestPage;

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: STEPS_FIXTURES })));
    admin = await jv.login();
    t = await gui.page();
  }, 120_000);

  it('shows "running · preparing" while preprocess runs, then each phase’s duration; the jobs list says the phase too', async () => {
    const p = t.page;
    await logIn(p, 'admin', ADMIN_PASSWORD);
    const job = await admin.run({ template: 'steps', jobKey: 'gui-steps', parameters: { preSeconds: 4, mainSeconds: 2 } });
    await p.goto('/#/jobs');
    await p.locator(`tr[data-job-id="${job.jobId}"] .col-activity`).filter({ hasText: 'preparing' }).waitFor({ timeout: 20_000 });
    await p.goto(`/#/jobs/${job.jobId}`);
    const phase = p.getByTestId('job-phase');
    await phase.filter({ hasText: '· preparing' }).waitFor({ timeout: 20_000 });
    expect(await p.getByTestId('job-status').textContent()).toBe('running');
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(await phase.isHidden()).toBe(true);
    const phases = /^preparing ([\d.]+) s · running ([\d.]+) s · finishing (?:< )?[\d.]+ s$/.exec((await p.getByTestId('job-phases').textContent()) ?? '');
    expect(phases, 'the phases row').not.toBeNull();
    expect([Number(phases?.[1]) >= 4, Number(phases?.[2]) >= 2]).toEqual([true, true]);
    expect(t.errors).toEqual([]);
  });
});
