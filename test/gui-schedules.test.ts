/**
 * The schedules page in a real Chromium: make an interval schedule with the form (template and
 * its parameters), see its next firings and its first firing's job, pause and resume it, edit it,
 * a bad cron expression refused next to the form, and delete it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, startJobvisor } from './helpers/jobvisor.js';

describe('web GUI: schedules (Chromium)', () => {
  const gui = guiFile();
  let t: TestPage;

  beforeAll(async () => {
    await gui.start(() => startJobvisor({ env: { JOBVISOR_MIN_SCHEDULE_INTERVAL_SECONDS: '1', JOBVISOR_SLOTS_SEQUENTIAL: '4' } }));
    t = await gui.page();
  }, 120_000);

  it('makes, pauses, resumes, edits and deletes a schedule from the page', async () => {
    const p = t.page;
    p.on('dialog', (dialog) => void dialog.accept());
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
    await p.getByRole('heading', { name: 'Schedules' }).waitFor();
    const form = p.getByTestId('schedule-form');
    await form.getByLabel('Name').fill('gui-every');
    await form.getByLabel('Template').selectOption('sleep');
    await form.locator('[data-param="seconds"] input').fill('0');
    await form.locator('[data-param="lines"] input').fill('1');
    await form.getByLabel('Fires').selectOption('interval');
    await form.getByLabel('Interval (seconds)').fill('2');
    await form.getByRole('button', { name: 'Create schedule' }).click();

    const row = p.locator('tr[data-schedule-id]').filter({ hasText: 'gui-every' });
    await row.waitFor();
    expect(await row.getByTestId('schedule-state').textContent()).toBe('active');
    expect(await row.locator('.col-when').textContent()).toBe('every 2 s');
    expect(await row.locator('.col-next div').count()).toBe(3);
    // Its first firing's job, linked from the row.
    const jobLink = row.locator('.col-last a', { hasText: 'its job' });
    await jobLink.waitFor({ timeout: 20_000 });
    // The jobs list names the schedule of each job it made.
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    await p.locator('tr.job-row').filter({ hasText: /gui-every-\d{8}T\d{6}Z/ }).getByTestId('job-schedule').filter({ hasText: 'gui-every' }).first().waitFor();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
    await row.waitFor();

    await row.getByRole('button', { name: 'Pause' }).click();
    await p.locator('tr[data-state="paused"]').filter({ hasText: 'gui-every' }).waitFor();
    expect(await row.locator('.col-next').textContent()).toBe('—');
    await row.getByRole('button', { name: 'Resume' }).click();
    await p.locator('tr[data-state="active"]').filter({ hasText: 'gui-every' }).waitFor();

    await row.getByRole('button', { name: 'Edit' }).click();
    await p.getByRole('heading', { name: 'Edit schedule gui-every' }).waitFor();
    expect(await form.locator('[data-param="lines"] input').inputValue()).toBe('1');
    await form.getByLabel('Interval (seconds)').fill('5');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await row.locator('.col-when', { hasText: 'every 5 s' }).waitFor();

    await form.getByLabel('Name').fill('gui-bad');
    await form.getByLabel('Fires').selectOption('cron');
    await form.getByLabel('Cron expression').fill('not a cron');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await p.getByTestId('schedule-form-error').filter({ hasText: 'invalid cron expression' }).waitFor();
    expect(await p.locator('tr[data-schedule-id]').filter({ hasText: 'gui-bad' }).count()).toBe(0);

    await row.getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    expect(t.errors).toEqual([]);
  });
});
