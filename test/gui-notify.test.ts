/**
 * The GUI's parts of notifications and lifetimes, in a real Chromium against a real jobvisor:
 * a failed run says whose fault it was, a stale run says so on its page and in the admin page,
 * the admin page shows run lifetimes for the chosen period, and a user saves their e-mail settings.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('web GUI: causes, stale runs, lifetimes, e-mail settings (Chromium)', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  const gui = guiFile();

  beforeAll(async () => {
    const templates = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-gui-notify-'));
    const to = path.join(templates, 'slow');
    cpSync(path.join(ROOT, 'templates', 'sleep'), to, { recursive: true });
    const t = JSON.parse(readFileSync(path.join(to, 'template.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(to, 'template.json'), JSON.stringify({ ...t, name: 'slow', expectedSeconds: { running: 1 } }));
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: templates, env: { JOBVISOR_STALE_CHECK_SECONDS: '0.5', JOBVISOR_SLOTS_SEQUENTIAL: '2' } })));
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 90_000);

  async function open(): Promise<TestPage> {
    return gui.page();
  }

  it('says a failed run was the job’s own command (cause user)', async () => {
    const job = await alice.run({ template: 'fail', parameters: { failAfterSteps: 1, stepSeconds: 0 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'error', 60_000, 'fail ended');
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`/#/jobs/${job.jobId}`);
    const cause = p.getByTestId('job-cause');
    await cause.waitFor();
    expect(await cause.getAttribute('data-cause')).toBe('user');
    expect(await cause.textContent()).toContain('own command failed');
    expect(errors).toEqual([]);
  });

  it('shows a stale run on its page and in the admin page, and lifetimes for a period', async () => {
    const job = await alice.run({ template: 'slow', jobKey: 'stale', parameters: { seconds: 30, lines: 0 } });
    await alice.waitJob(job.jobId, (j) => j.stale !== null, 30_000, 'the stale flag');
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`/#/jobs/${job.jobId}`);
    await p.getByTestId('job-stale').filter({ hasText: 'Taking longer than expected' }).waitFor();

    const quick = await alice.run({ template: 'sleep', jobKey: 'quick', parameters: { seconds: 0, lines: 0 } });
    await alice.waitJob(quick.jobId, (j) => j.status === 'completed', 30_000, 'a quick run');
    const { page: a } = await open();
    await logIn(a, 'admin', ADMIN_PASSWORD);
    await a.goto('/#/admin');
    await a.locator(`.stale-table tr[data-job-id="${job.jobId}"]`).waitFor();
    await a.locator('.lifetimes-table tr[data-template="sleep"][data-state="running"]').waitFor();
    await a.locator('#lifetimes-title').scrollIntoViewIfNeeded();
    await screenshot(a, 'notify-admin');
    await a.locator('select[name="period"]').selectOption({ label: 'last hour' });
    await a.locator('.lifetimes-table tr[data-template="sleep"][data-state="pending"]').waitFor();
    expect((await admin.post(`/api/jobs/${job.jobId}/cancel`, {})).status).toBe(200);
    expect(errors).toEqual([]);
  }, 90_000);

  it('asks for an e-mail at a run’s end from the run form, and says so when there is no address yet', async () => {
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    await p.getByLabel('Job key').fill('mail-me');
    await p.getByLabel('E-mail me when this run ends').check();
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => p.getByTestId('run-form-error').textContent()).toContain('no e-mail address');
    expect((await alice.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).not.toContain('mail-me');
    expect(errors.filter((e) => !e.includes('400'))).toEqual([]);
  });

  it('does not overwrite what the user typed with settings that load late', async () => {
    const { page: p, errors } = await open();
    // The real answer, held back a little: the form must not take input before its values are in.
    await p.route('**/api/auth/me/settings', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const answer = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ response: answer });
    });
    const held = p.waitForResponse((r) => r.url().endsWith('/api/auth/me/settings') && r.request().method() === 'GET');
    await logIn(p, 'alice', 'alice-password');
    await p.locator('input[name="email"]').fill('late@example.org');
    await p.locator('select[name="notifyOnEnd"]').selectOption('long');
    await p.locator('form[aria-label="E-mail settings"] button[type="submit"]').click();
    await expect.poll(() => p.getByTestId('settings-status').textContent()).toBe('Saved.');
    expect((await alice.get('/api/auth/me/settings')).body.settings).toEqual({ email: 'late@example.org', notifyOnEnd: 'long' });
    // Once the held answer is in and the page has handled it (a page task later), the typing must still be there.
    await held;
    await p.evaluate(() => new Promise((r) => setTimeout(r, 0)));
    expect(await p.locator('input[name="email"]').inputValue()).toBe('late@example.org');
    await p.unroute('**/api/auth/me/settings');
    expect(errors).toEqual([]);
  });

  it('saves the user’s e-mail settings', async () => {
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.locator('input[name="email"]').fill('alice@example.org');
    await p.locator('select[name="notifyOnEnd"]').selectOption('always');
    await p.locator('form[aria-label="E-mail settings"] button[type="submit"]').click();
    await expect.poll(async () => (await alice.get('/api/auth/me/settings')).body.settings).toEqual({ email: 'alice@example.org', notifyOnEnd: 'always' });
    await p.reload();
    await expect.poll(() => p.locator('input[name="email"]').inputValue()).toBe('alice@example.org');
    // With an address, the run form's box makes a run that asks for it.
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    await p.getByLabel('Job key').fill('mail-me');
    await p.getByLabel('E-mail me when this run ends').check();
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(async () => (await alice.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).toContain('mail-me');
    expect(errors).toEqual([]);
  });
});
