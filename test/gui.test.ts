/**
 * The web GUI in a real Chromium against a real jobvisor (server, supervisor, agents, the
 * example templates): logging in, running heat1d from the generated form and following it live
 * (jobs table, job page, progress, plot), the log and file downloads, canceling, form validation,
 * who may see which job, the admin page, a reload in the middle of a run, and a narrow window.
 * Cluster targets (their option fields, logins, scheduler states) are played by request routing.
 * Every test saves a screenshot to test-artifacts/gui/. Waiting is always for a condition.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { changes, logIn, screenshot, watchPage, type Change, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

/** The values an attribute took, in order, without repeats in a row. */
function sequence(all: Change[], pred: (c: Change) => boolean): string[] {
  const out: string[] = [];
  for (const c of all) if (pred(c) && out.at(-1) !== c.value) out.push(c.value);
  return out;
}

/** Whether `seq` holds `wanted` in this order (with anything between). */
function inOrder(seq: string[], wanted: string[]): boolean {
  let i = 0;
  for (const v of seq) if (v === wanted[i]) i += 1;
  return i === wanted.length;
}

/** The value next to a term of the job page's summary (null when the term is not shown). */
function summaryValue(p: Page, term: string): Promise<string | null> {
  return p.evaluate((t) => {
    const dt = [...document.querySelectorAll('.summary dt')].find((e) => e.textContent === t);
    return dt?.nextElementSibling?.textContent ?? null;
  }, term);
}

describe('web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor()));
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
  }, 90_000);



  async function open(viewport?: { width: number; height: number }): Promise<TestPage> {
    return gui.page(viewport);
  }

  const attr = (p: Page, selector: string, name: string) => p.locator(selector).first().getAttribute(name);

  it('logs in, runs heat1d from the form and follows it live in the table and on the job page', async () => {
    const t = await open();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    expect(await p.getByTestId('who').textContent()).toContain('alice');
    expect(await p.getByRole('link', { name: 'Admin' }).count()).toBe(0);

    await p.getByLabel('Template', { exact: true }).selectOption('heat1d');
    // The form comes from the schema: defaults, units, limits.
    expect(await p.getByLabel('Grid points').inputValue()).toBe('2001');
    expect(await p.locator('[data-param="length"] label').textContent()).toBe('Rod length (m)');
    expect(await p.locator('[data-param="nx"] .hint').textContent()).toContain('whole number from 11 to 4001');
    expect(await p.locator('[data-param="initial"] select option').allTextContents()).toEqual(['gaussian', 'step', 'sine']);
    // Where and how big: the targets the template allows (here only this machine), and its sizes.
    expect(await p.getByLabel('Target', { exact: true }).locator('option').allTextContents()).toEqual(['This machine (local)']);
    expect(await p.getByLabel('Size', { exact: true }).locator('option').allTextContents()).toEqual(['sequential', 'parallel']);
    expect(await p.getByTestId('target-options').isHidden()).toBe(true); // no login, no options on this machine
    await p.getByLabel('Grid points').fill('101');
    await p.getByLabel('Frames', { exact: true }).fill('10');
    await p.getByLabel('End time').fill('2');
    await p.getByLabel('Minimum wall time').fill('5');
    await p.getByRole('button', { name: 'Run', exact: true }).click();

    const row = p.locator('tr.job-row').first();
    await row.waitFor();
    const jobId = (await row.getAttribute('data-job-id')) ?? '';
    expect(jobId).toMatch(/^[0-9a-f]{16}$/);

    // The job page, in a second tab of the same browser profile, opened while the run is young.
    const jobPage = await t.context.newPage();
    t.errors.push(...watchPage(jobPage));
    await jobPage.goto(`/#/jobs/${jobId}`);
    await jobPage.getByTestId('job-status').waitFor();
    const plot = jobPage.locator('[data-frame="temperature"] figure.plot');
    await plot.waitFor({ timeout: 30_000 });
    await jobPage.locator('.job-layout[data-status="running"]').waitFor({ timeout: 30_000 }).catch(() => undefined);
    await screenshot(jobPage, '1-job-page-running');

    await p.locator(`tr.job-row[data-job-id="${jobId}"][data-status="completed"]`).waitFor({ timeout: 60_000 });
    expect(await p.locator(`tr.job-row[data-job-id="${jobId}"] .col-target`).textContent()).toBe('This machine · sequential');
    expect(await summaryValue(jobPage, 'Target')).toBe('This machine (local)');
    expect(await summaryValue(jobPage, 'Size')).toBe('sequential');
    expect(await summaryValue(jobPage, 'Scheduler')).toBeNull(); // no scheduler on this machine
    await jobPage.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 30_000 });
    await expect.poll(() => plot.getAttribute('data-caption'), { timeout: 15_000 }).toMatch(/^frame 10 of 10 · t = 2 s · 101 points$/);
    expect(await jobPage.locator('[data-frame="temperature"] canvas').count()).toBeGreaterThan(0);
    expect(await jobPage.locator('[data-frame="energy"] canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => attr(jobPage, '[data-frame="energy"] figure.plot', 'data-caption')).toMatch(/^10 frames · 10 points$/);
    expect(await jobPage.getByTestId('job-progress').getAttribute('data-value')).toBe('1');
    await screenshot(p, '1-jobs-table-completed');
    await screenshot(jobPage, '1-job-page-completed');

    // What the table showed, however briefly: pending, then running, then completed; progress that grew.
    const table = (await changes(p)).filter((c) => c.jobId === jobId);
    expect(sequence(table, (c) => c.attr === 'data-status' && c.tag === 'tr')).toEqual(['pending', 'running', 'completed']);
    const rowProgress = sequence(table, (c) => c.attr === 'data-value' && c.tag === 'progress').map(Number);
    expect(rowProgress.filter((v) => v > 0 && v < 1).length).toBeGreaterThanOrEqual(2);
    expect([...rowProgress].sort((a, b) => a - b)).toEqual(rowProgress);

    // The job page: running then completed, its progress bar grew, the plot showed several frames while it ran.
    const onPage = (await changes(jobPage)).filter((c) => c.jobId === jobId);
    expect(inOrder(sequence(onPage, (c) => c.attr === 'data-status' && c.cls === 'job-layout'), ['running', 'completed'])).toBe(true);
    const pageProgress = sequence(onPage, (c) => c.attr === 'data-value' && c.tag === 'progress').map(Number);
    expect(pageProgress.filter((v) => v > 0 && v < 1).length).toBeGreaterThanOrEqual(2);
    const frames = sequence(onPage, (c) => c.attr === 'data-frame-index').map(Number);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.at(-1)).toBe(9);
    expect([...frames].sort((a, b) => a - b)).toEqual(frames);

    // The API agrees.
    expect((await alice.job(jobId)).status).toBe('completed');
    expect(t.errors).toEqual([]);
  });

  it('shows the log on the job page and downloads output files', async () => {
    const job = await alice.run({ template: 'heat1d', jobKey: 'heat-files', parameters: { nx: 101, frames: 5, endTime: 1, paceSeconds: 0.5 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, 'heat-files completed');
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.locator(`tr.job-row[data-job-id="${job.jobId}"] a.job-link`).click();
    await p.locator('.job-layout[data-status="completed"]').waitFor();

    const log = p.getByTestId('log');
    const expected = (await alice.get(`/api/jobs/${job.jobId}/log`)).body.text as string;
    expect(expected).toContain('PROGRESS');
    await expect.poll(() => log.textContent()).toBe(expected);
    expect(expected).toContain('heat1d: rod 0.1 m, nx=101');

    const [download] = await Promise.all([p.waitForEvent('download'), p.getByRole('link', { name: 'summary.json' }).click()]);
    expect(download.suggestedFilename()).toBe('summary.json');
    const summary = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(summary).toMatchObject({ template: 'heat1d', parameters: { nx: 101, frames: 5, endTime: 1 }, frames: 5, grid: { nx: 101 } });

    const [csv] = await Promise.all([p.waitForEvent('download'), p.getByRole('link', { name: 'temperature.csv' }).click()]);
    expect(csv.suggestedFilename()).toBe('temperature.csv');
    const lines = readFileSync(await csv.path(), 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^x \[m\],u\(t=0 s\)/);
    expect(lines).toHaveLength(1 + 101);
    await screenshot(p, '2-log-and-files');
    expect(errors).toEqual([]);
  });

  it('cancels a run from the job page and shows why it ended', async () => {
    const job = await alice.run({ template: 'sleep', jobKey: 'long-sleep', parameters: { seconds: 60, lines: 60 } });
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`/#/jobs/${job.jobId}`);
    await p.locator('.job-layout[data-status="running"]').waitFor({ timeout: 30_000 });
    await expect.poll(() => p.getByTestId('log').textContent(), { timeout: 15_000 }).toContain('line 1\n');
    await p.getByTestId('cancel-run').click();
    await p.locator('.job-layout[data-status="canceled"]').waitFor({ timeout: 30_000 });
    expect(await p.getByTestId('job-reason').textContent()).toContain('canceled by user');
    expect(await p.getByTestId('cancel-run').isHidden()).toBe(true);
    expect(await p.getByTestId('job-status').textContent()).toBe('canceled');
    const after = await alice.job(job.jobId);
    expect([after.status, after.reason]).toEqual(['canceled', 'canceled by user']);
    // The runs table names the outcome too.
    expect(await p.locator('.history-table tr[data-serial="1"] .outcome').textContent()).toContain('canceled by user');
    await screenshot(p, '3-canceled');

    // Run it again with the same parameters: run 2 starts, run 1 is in the history with its outcome.
    await p.getByRole('button', { name: 'Run again' }).click();
    await p.locator('.job-layout[data-serial="2"][data-status="running"]').waitFor({ timeout: 30_000 });
    expect(await p.locator('.history-table tr[data-serial="1"] .outcome').textContent()).toContain('canceled by user');
    expect(await p.locator('.history-table tr[data-serial="2"]').textContent()).toContain('(current)');
    const again = await alice.job(job.jobId);
    expect([again.serial, again.parameters]).toEqual([2, { seconds: 60, lines: 60 }]);
    await p.getByTestId('cancel-run').click();
    await p.locator('.job-layout[data-serial="2"][data-status="canceled"]').waitFor({ timeout: 30_000 });
    expect(errors).toEqual([]);
  });

  it('shows why a run failed, in full', async () => {
    const job = await alice.run({ template: 'fail', parameters: { failAfterSteps: 3, stepSeconds: 0 } });
    await alice.waitJob(job.jobId, (j) => j.status === 'error', 60_000, 'fail ended');
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.locator(`tr.job-row[data-job-id="${job.jobId}"][data-status="error"] .activity`).filter({ hasText: 'solver diverged at step 3' }).waitFor();
    await p.goto(`/#/jobs/${job.jobId}`);
    const reason = p.getByTestId('job-reason').locator('pre.reason');
    await reason.waitFor();
    expect(await reason.textContent()).toBe((await alice.job(job.jobId)).reason);
    expect(await reason.textContent()).toMatch(/^error: solver diverged at step 3: .*\n\(exited with code 2\)$/);
    expect(await reason.evaluate((e) => getComputedStyle(e).whiteSpace)).toBe('pre-wrap');
    await screenshot(p, '3-failed');
    expect(errors).toEqual([]);
  });

  it('shows what is wrong with a value next to its field and sends nothing', async () => {
    const before = JSON.stringify((await alice.get('/api/jobs')).body.jobs.map((j: any) => [j.jobId, j.serial]));
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    const posts: string[] = [];
    p.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/jobs') posts.push(r.url());
    });
    await p.getByLabel('Template', { exact: true }).selectOption('heat1d');
    const nxError = p.locator('[data-field-error="nx"]');
    await p.getByLabel('Grid points').fill('5');
    await expect.poll(() => nxError.textContent()).toBe('Must be at least 11.');
    await p.getByLabel('Grid points').fill('11.5');
    await expect.poll(() => nxError.textContent()).toBe('Enter a whole number.');
    await p.getByLabel('Grid points').fill('5');
    await p.getByLabel('End time').fill('2x');
    await expect.poll(() => p.locator('[data-field-error="endTime"]').textContent()).toBe('Enter a number, e.g. 12, 0.5 or 1e-3.');
    await p.getByLabel('Job key').fill('bad key!');
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => p.getByTestId('run-form-error').textContent()).toContain('Nothing was sent: 3 fields need a change');
    expect(await p.getByLabel('Grid points').getAttribute('aria-invalid')).toBe('true');
    expect(await p.evaluate('document.activeElement && document.activeElement.name')).toBe('nx');
    expect(await nxError.textContent()).toBe('Must be at least 11.');
    expect(await p.locator('[data-field-error="jobKey"]').textContent()).toContain('starting with a letter or digit');
    await screenshot(p, '4-invalid-form');

    // A value can be fixed: its message goes away as the user types.
    await p.getByLabel('Grid points').fill('101');
    await expect.poll(() => nxError.textContent()).toBe('');

    // What the server refuses (INVALID_INPUT with details.issues) is shown next to its field too.
    await p.route('**/api/jobs', (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 400,
            contentType: 'application/json',
            body: JSON.stringify({
              error: {
                code: 'INVALID_INPUT',
                message: 'parameters of heat1d: parameters.amplitude: Too big: expected number to be <=1000',
                details: { issues: [{ origin: 'number', code: 'too_big', maximum: 1000, path: ['amplitude'], message: 'Too big: expected number to be <=1000' }] },
              },
            }),
          })
        : route.continue(),
    );
    await p.getByLabel('End time').fill('2');
    await p.getByLabel('Job key').fill('');
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => p.locator('[data-field-error="amplitude"]').textContent()).toBe('Too big: expected number to be <=1000');
    expect(await p.getByTestId('run-form-error').textContent()).toContain('The server refused the run');
    await screenshot(p, '4-server-refused');

    expect(posts).toHaveLength(1); // only the intercepted one
    expect(JSON.stringify((await alice.get('/api/jobs')).body.jobs.map((j: any) => [j.jobId, j.serial]))).toBe(before);
    expect(errors).toEqual([]);
  });

  it("does not show another user's job", async () => {
    const bobs = await bob.run({ template: 'quick', jobKey: 'bobs-pi', parameters: { samples: 1000, batches: 1 } });
    await bob.waitJob(bobs.jobId, (j) => j.status === 'completed', 60_000, "bob's job completed");
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.locator('tr.job-row').first().waitFor();
    expect(await p.locator(`tr.job-row[data-job-id="${bobs.jobId}"]`).count()).toBe(0);
    await p.goto(`/#/jobs/${bobs.jobId}`);
    const notFound = p.getByTestId('job-not-found');
    await notFound.waitFor();
    expect(await notFound.locator('h1').textContent()).toBe('No such job');
    expect(await notFound.textContent()).toContain(bobs.jobId);
    expect(await p.locator('.job-layout').count()).toBe(0);
    await screenshot(p, '5-no-such-job');

    // The login lives only in the HttpOnly cookie: nothing in storage or in document.cookie.
    expect(await p.evaluate('[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);
    // Logging out ends the login: the login page comes back and the API no longer knows the browser.
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await p.evaluate(`fetch('/api/auth/me').then((r) => r.status)`)).toBe(401);
    expect(await p.getByTestId('who').count()).toBe(0);
    expect(await p.locator('.login-form').textContent()).toContain('You have logged out.');
    await screenshot(p, '5-logged-out');
    expect(errors).toEqual([]);
  });

  it("shows the admin every user's jobs, with filters, agents and slots", async () => {
    const alices = (await alice.get('/api/jobs')).body.jobs.map((j: any) => j.jobId as string);
    const bobs = (await bob.get('/api/jobs')).body.jobs.map((j: any) => j.jobId as string);
    expect(alices.length).toBeGreaterThan(0);
    expect(bobs.length).toBeGreaterThan(0);
    const { page: p, errors } = await open();
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByRole('link', { name: 'Admin' }).click();
    for (const id of [...alices, ...bobs]) await p.locator(`.admin-page tr.job-row[data-job-id="${id}"]`).waitFor();
    expect(await p.locator('.admin-page tr.job-row').count()).toBe(alices.length + bobs.length);
    expect(new Set(await p.locator('.admin-page tr.job-row .col-user').allTextContents())).toEqual(new Set(['alice', 'bob']));

    await p.getByLabel('User', { exact: true }).selectOption('bob');
    await expect.poll(() => p.locator('.admin-page tr.job-row:visible').count()).toBe(bobs.length);
    expect(new Set(await p.locator('.admin-page tr.job-row:visible .col-user').allTextContents())).toEqual(new Set(['bob']));
    expect(await p.evaluate('location.hash')).toBe('#/admin?user=bob');
    // The target filter offers the targets the jobs went to, by title.
    const targetFilter = p.getByLabel('Target', { exact: true });
    expect(await targetFilter.locator('option').allTextContents()).toEqual(['all targets', 'This machine (local)']);
    await targetFilter.selectOption('local');
    expect(await p.evaluate('location.hash')).toBe('#/admin?user=bob&target=local');
    await expect.poll(() => p.locator('.admin-page tr.job-row:visible').count()).toBe(bobs.length);
    expect(new Set(await p.locator('.admin-page tr.job-row:visible .col-target').allTextContents())).toEqual(new Set(['This machine · sequential']));

    // Agents (alice's and bob's local agents ran their jobs) and slot usage, by target, pool and size.
    await p.locator('.agents-table tbody tr').first().waitFor();
    expect(await p.locator('.agents-table tbody tr td:first-child').allTextContents()).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(new Set(await p.locator('.agents-table tbody td.col-target').allTextContents())).toEqual(new Set(['This machine (local)']));
    expect(await p.locator('.agents-table thead th').allTextContents()).toEqual(['User', 'Target', 'Size', 'Host / pool', 'State', 'Since', 'Last heartbeat', 'Runs going', 'Agent id']);
    const slotRows = p.locator('.slots-table tbody tr');
    expect(await slotRows.count()).toBeGreaterThanOrEqual(2);
    expect(await p.locator('.slots-table thead th').allTextContents()).toEqual(['Target', 'Pool', 'Size', 'Used', 'Waiting']);
    expect(await slotRows.evaluateAll((rows) => rows.map((r) => [...r.children].slice(0, 3).map((c) => c.textContent)))).toEqual(
      expect.arrayContaining([
        ['This machine (local)', 'local', 'sequential'],
        ['This machine (local)', 'local', 'parallel'],
      ]),
    );
    await screenshot(p, '6-admin');

    // The filter is in the address: a reload keeps it.
    await p.reload();
    await p.locator('.admin-page tr.job-row').first().waitFor();
    await expect.poll(() => p.locator('.admin-page tr.job-row:visible').count()).toBe(bobs.length);
    expect(await p.getByLabel('User', { exact: true }).inputValue()).toBe('bob');
    expect(await targetFilter.inputValue()).toBe('local');
    expect(errors).toEqual([]);
  });

  it('resumes the job page with live updates after a reload in the middle of a run', async () => {
    const job = await alice.run({ template: 'sleep', jobKey: 'reload', parameters: { seconds: 8, lines: 40 } });
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`/#/jobs/${job.jobId}`);
    const log = p.getByTestId('log');
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toContain('line 5\n');
    await p.reload();
    await p.locator('.job-layout[data-status="running"]').waitFor({ timeout: 10_000 });
    await screenshot(p, '7-after-reload');
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 30_000 });
    // Every line exactly once, in order: what was read after the reload and what came live.
    const expected = Array.from({ length: 40 }, (_, i) => `line ${i + 1}\nPROGRESS ${((i + 1) / 40).toFixed(6)}\n`).join('');
    await expect.poll(() => log.textContent()).toBe(expected);
    const progress = sequence(await changes(p), (c) => c.attr === 'data-value' && c.tag === 'progress').map(Number);
    expect(progress.filter((v) => v > 0 && v < 1).length).toBeGreaterThanOrEqual(2); // it moved after the reload
    expect(await p.getByTestId('job-status').textContent()).toBe('completed');
    expect(errors).toEqual([]);
  });

  it('keeps only the last 5000 lines of a long log in the page, live and when opened late', async () => {
    const lines = 100_000; // 200 000 log lines, about 3.3 MB: more than the page reads when it opens
    const expectedTail = (pairs: number) =>
      Array.from({ length: pairs }, (_, k) => {
        const i = lines - pairs + k + 1;
        return `line ${i}\nPROGRESS ${(i / lines).toFixed(6)}\n`;
      }).join('');
    const job = await alice.run({ template: 'sleep', jobKey: 'chatty', parameters: { seconds: 3, lines } });
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`/#/jobs/${job.jobId}`);
    const log = p.getByTestId('log');
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 60_000 });
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toBe(expectedTail(2500));
    expect(await p.locator('.log-status').textContent()).toContain('only the last 5000 lines are shown');
    await screenshot(p, '7-long-log');
    // Opened after the end: it starts near the end of the log and still shows exactly its last lines.
    await p.reload();
    await p.locator('.job-layout[data-status="completed"]').waitFor();
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toBe(expectedTail(2500));
    expect(await p.locator('.log-status a').getAttribute('href')).toBe(`/api/jobs/${job.jobId}/files/run.log`);
    expect(errors).toEqual([]);
  });

  it("offers each target its own options and login, logs in to the run's target when it needs it, and shows what the scheduler says", async () => {
    // No test cluster here: two cluster targets (a Slurm one and a Grid Engine one) are played by the
    // browser's request routing; this machine's target, the templates and the jobs list are the real jobvisor's.
    const { page: p, errors } = await open();
    const calls: string[] = [];
    const loggedIn = new Set<string>();
    let logins = 0;
    const hour = 3_600_000;
    const loginOf = (name: string) =>
      loggedIn.has(name) ? { loggedIn: true, state: 'connected', since: Date.now(), expiresAt: Date.now() + 8 * hour } : { loggedIn: false, state: null, since: null, expiresAt: null };
    const clusters = () => [
      {
        name: 'hopper', driver: 'slurm', title: 'Hopper', needsLogin: true, host: 'login.hopper.test', maxTimeSeconds: { sequential: 3600, parallel: 86_400 },
        options: [
          { name: 'partition', label: 'Partition', type: 'string', hint: 'the partition (queue)' },
          { name: 'nodes', label: 'Nodes', type: 'integer', hint: 'within the site limit' },
          { name: 'minutes', label: 'Minutes', type: 'integer', hint: 'wall-clock limit' },
        ],
        login: loginOf('hopper'),
      },
      {
        name: 'gridiron', driver: 'sge', title: 'Gridiron', needsLogin: true, host: 'login.gridiron.test', maxTimeSeconds: { sequential: 1800, parallel: 43_200 },
        options: [
          { name: 'queue', label: 'Queue', type: 'string', hint: 'the cluster queue, e.g. all.q' },
          { name: 'slots', label: 'Slots', type: 'integer', hint: 'cores, within the site limit' },
        ],
        login: loginOf('gridiron'),
      },
    ];
    const statusOf = (name: string) => {
      const t = clusters().find((x) => x.name === name);
      if (!t) throw new Error(`no routed target ${name}`);
      return { target: t.name, driver: t.driver, needsLogin: true, host: t.host, ...t.login };
    };
    const targetOfUrl = (url: string) => new URL(url).pathname.split('/')[3] ?? '';
    await p.route('**/api/targets', async (route) => {
      const real = (await (await route.fetch()).json()) as { targets: unknown[] };
      return route.fulfill({ json: { targets: [...real.targets, ...clusters()] } });
    });
    await p.route('**/api/templates', async (route) => {
      const real = (await (await route.fetch()).json()) as { templates: { name: string; targets: string[] }[] };
      for (const t of real.templates) if (t.name === 'sleep') t.targets = [...t.targets, 'hopper', 'gridiron'];
      return route.fulfill({ json: real });
    });
    await p.route('**/api/targets/*/status', (route) => route.fulfill({ json: statusOf(targetOfUrl(route.request().url())) }));
    await p.route('**/api/targets/*/login', (route) => {
      const name = targetOfUrl(route.request().url());
      logins += 1;
      calls.push(`login ${name} ${route.request().postData()}`);
      if (logins === 1) return route.fulfill({ status: 403, json: { error: { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' } } });
      loggedIn.add(name);
      return route.fulfill({ json: statusOf(name) });
    });

    // The run, as the routed supervisor tells it: `now` is what GET /api/jobs/<id> answers.
    const jobId = 'c0ffee00c0ffee00';
    const queuedAt = Date.now();
    let now: Record<string, unknown> = { waitingFor: 'queued' };
    const fakeJob = () => ({
      jobId, user: 'alice', jobKey: 'on-cluster', template: 'sleep', target: 'gridiron', size: 'parallel', driver: 'sge', options: { queue: 'all.q', slots: 4 },
      serial: 1, status: 'pending', parameters: { seconds: 5, lines: 10 }, progress: null, progressMessage: null, waitingFor: null, queuePosition: null, reason: null,
      queuedAt, startedAt: null, endedAt: null, updatedAt: Date.now(), logLines: 0, externalId: null, scheduler: null, nextRequestMs: 1000, history: [], ...now,
    });
    let runs = 0;
    let cancels = 0;
    await p.route('**/api/jobs', (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      runs += 1;
      calls.push(`run ${route.request().postData()}`);
      if (runs === 1) {
        // What the target's driver refuses of the options comes with the option's name as its path.
        const message = 'options of a run on gridiron: options.queue: no such queue here';
        return route.fulfill({ status: 400, json: { error: { code: 'INVALID_INPUT', message, details: { issues: [{ code: 'custom', path: ['queue'], message: 'no such queue here' }] } } } });
      }
      if (runs === 2) return route.fulfill({ status: 428, json: { error: { code: 'LOGIN_REQUIRED', message: 'log in to Gridiron first (POST /api/targets/gridiron/login)' } } });
      return route.fulfill({ json: { job: fakeJob() } });
    });
    await p.route(
      (url) => url.pathname.startsWith(`/api/jobs/${jobId}`),
      (route) => {
        const rest = new URL(route.request().url()).pathname.slice(`/api/jobs/${jobId}`.length);
        if (rest === '') return route.fulfill({ json: { job: fakeJob() } });
        if (rest === '/log') return route.fulfill({ json: { serial: 1, offset: 0, nextOffset: 0, size: 0, text: '' } });
        if (rest === '/files') return route.fulfill({ json: { serial: 1, files: [], truncated: false } });
        if (rest === '/cancel') {
          cancels += 1;
          calls.push(`cancel ${route.request().postData()}`);
          if (cancels === 1) return route.fulfill({ status: 428, json: { error: { code: 'LOGIN_REQUIRED', message: 'log in to Gridiron (target gridiron) to cancel Grid Engine job 12' } } });
          now = { status: 'canceled', reason: 'canceled by user', endedAt: Date.now(), waitingFor: null, scheduler: null };
          return route.fulfill({ json: { job: fakeJob() } });
        }
        return route.fulfill({ status: 404, json: { error: { code: 'NOT_FOUND', message: `not routed: ${rest}` } } });
      },
    );

    await logIn(p, 'alice', 'alice-password');
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    const target = p.getByLabel('Target', { exact: true });
    const box = p.getByTestId('target-options');
    const loginState = p.getByTestId('target-login-state');
    const optionLabels = () => box.locator('.field label').allTextContents();
    expect(await target.locator('option').allTextContents()).toEqual(['This machine (local)', 'Hopper (slurm)', 'Gridiron (sge)']);
    expect(await box.isHidden()).toBe(true);

    // Each target shows its own option fields, under its own name, and the user's login there.
    await target.selectOption('hopper');
    await box.waitFor();
    expect(await box.locator('legend').textContent()).toBe('Options for Hopper');
    expect(await optionLabels()).toEqual(['Partition', 'Nodes', 'Minutes']);
    expect(await loginState.textContent()).toBe('Not logged in to Hopper (login.hopper.test). Log in…');
    expect(await p.locator('.run-form [aria-describedby$="-size-hint"] + .hint').textContent()).toContain('at most 1 h here');
    await box.getByLabel('Partition').fill('debug');
    await screenshot(p, '9-target-hopper');

    await target.selectOption('gridiron');
    expect(await box.locator('legend').textContent()).toBe('Options for Gridiron');
    expect(await optionLabels()).toEqual(['Queue', 'Slots']);
    expect(await p.getByLabel('Partition').count()).toBe(0);
    expect(await loginState.textContent()).toBe('Not logged in to Gridiron (login.gridiron.test). Log in…');

    // The options are checked like parameters: nothing is sent while one is not valid.
    await box.getByLabel('Slots').fill('0');
    await expect.poll(() => p.locator('[data-field-error="options.slots"]').textContent()).toBe('Must be at least 1.');
    await box.getByLabel('Queue').fill('all q');
    await expect.poll(() => p.locator('[data-field-error="options.queue"]').textContent()).toContain('no spaces or quotes');
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => p.getByTestId('run-form-error').textContent()).toContain('Nothing was sent: 2 fields need a change');
    expect(await box.getByLabel('Queue').getAttribute('aria-invalid')).toBe('true');
    expect(await box.getByLabel('Slots').getAttribute('aria-describedby')).toMatch(/-hint \S+-error$/);
    expect(calls).toEqual([]);
    await box.getByLabel('Queue').fill('all.q');
    await box.getByLabel('Slots').fill('4');
    await expect.poll(() => p.getByTestId('run-form-error').textContent()).toBe(''); // every marked field is fixed
    await p.getByLabel('Size', { exact: true }).selectOption('parallel');
    expect(await p.locator('.run-form [aria-describedby$="-size-hint"] + .hint').textContent()).toContain('at most 12 h here');
    await p.getByLabel('Job key').fill('on-cluster');
    await screenshot(p, '9-target-options');

    // What the server refuses of an option is shown next to it.
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => p.locator('[data-field-error="options.queue"]').textContent()).toBe('no such queue here');
    expect(await p.getByTestId('run-form-error').textContent()).toBe('The server refused the run: see the marked fields.');
    expect(await box.getByLabel('Queue').getAttribute('aria-invalid')).toBe('true');

    // The run needs a login (428): the login dialog of the run's target opens; a refusal says so; then the run goes.
    await box.getByLabel('Queue').fill('all.q'); // as the site's queue is called after all
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    const dialog = p.getByTestId('target-login');
    await dialog.waitFor();
    expect(await dialog.getAttribute('data-target')).toBe('gridiron');
    expect(await dialog.getByRole('heading').textContent()).toBe('Log in to Gridiron');
    expect(await dialog.getByTestId('target-login-host').textContent()).toBe('Login node: login.gridiron.test');
    await dialog.getByLabel('Cluster user name').fill('jdoe');
    await dialog.getByLabel('Password').fill('wrong-password');
    await dialog.getByLabel('One-time code').fill('123456');
    await dialog.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => dialog.getByTestId('target-login-error').textContent()).toContain('Invalid credentials: Gridiron refused');
    expect(await dialog.getByLabel('Password').inputValue()).toBe(''); // not kept
    expect(await dialog.getByLabel('One-time code').inputValue()).toBe('');
    await screenshot(p, '9-target-login-refused');

    await dialog.getByLabel('Password').fill('right-password');
    await dialog.getByLabel('One-time code').fill('654321');
    await dialog.getByRole('button', { name: 'Log in', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = p.locator(`tr.job-row[data-job-id="${jobId}"]`);
    await row.waitFor();
    expect(await row.locator('.col-target').textContent()).toBe('Gridiron · parallel');
    const run = JSON.stringify({
      template: 'sleep', parameters: { seconds: 5, lines: 10 }, target: 'gridiron', size: 'parallel', jobKey: 'on-cluster', options: { queue: 'all.q', slots: 4 },
    });
    const login = (password: string, otp: string) => `login gridiron ${JSON.stringify({ username: 'jdoe', password, otp })}`;
    expect(calls).toEqual([`run ${run}`, `run ${run}`, login('wrong-password', '123456'), login('right-password', '654321'), `run ${run}`]);
    // The form now says so; the other cluster still needs its own login, and keeps what was typed for it.
    await expect.poll(() => loginState.textContent()).toMatch(/^Logged in to Gridiron \(login\.gridiron\.test\) until .+\.\s*$/);
    await target.selectOption('hopper');
    expect(await loginState.textContent()).toBe('Not logged in to Hopper (login.hopper.test). Log in…');
    expect(await box.getByLabel('Partition').inputValue()).toBe('debug');

    // The job page: what the scheduler says of the run.
    now = {
      externalId: '12',
      waitingFor: 'Grid Engine job 12: qw (queue all.q is full)',
      scheduler: { name: 'Grid Engine', state: 'qw', reason: 'queue all.q is full', estimatedStart: null, unconfirmed: false },
    };
    await p.goto(`/#/jobs/${jobId}`);
    await p.locator('.job-layout[data-status="pending"]').waitFor();
    expect(await summaryValue(p, 'Target')).toBe('Gridiron (gridiron)');
    expect(await summaryValue(p, 'Size')).toBe('parallel');
    expect(await summaryValue(p, 'Scheduler')).toBe('Grid Engine job 12: qw (queue all.q is full)');
    expect(await summaryValue(p, 'Options')).toBe('Queue all.q, Slots 4');
    expect(await p.locator('.callouts').textContent()).toContain('Pending: Grid Engine job 12: qw (queue all.q is full)');
    expect(await p.locator('.history-table tbody tr').first().textContent()).toContain('Gridironparallel');
    await screenshot(p, '9-job-scheduler-state');

    // The agent on the cluster was lost: the run goes on there, and the page asks for a login to follow it again.
    loggedIn.delete('gridiron');
    now = {
      status: 'running', startedAt: queuedAt + 1000, externalId: '12',
      waitingFor: 'login required: log in to Gridiron again to follow Grid Engine job 12 (the agent on login.gridiron.test was lost)',
      scheduler: { name: 'Grid Engine', state: 'r', reason: null, estimatedStart: null, unconfirmed: true },
    };
    await p.reload();
    const needed = p.getByTestId('login-required');
    await needed.waitFor();
    expect(await needed.textContent()).toContain('Login required on Gridiron. Log in to Gridiron again to follow Grid Engine job 12 (the agent on login.gridiron.test was lost)');
    expect(await summaryValue(p, 'Scheduler')).toBe('Grid Engine job 12: r · unconfirmed: Grid Engine could not be asked lately; this is the last state seen');
    await screenshot(p, '9-job-login-required');
    await needed.getByRole('button', { name: 'Log in to Gridiron…' }).click();
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Log in to Gridiron');
    await screenshot(p, '9-job-login-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Canceling needs the login too (428): the dialog of the job's target opens, and the cancel goes once logged in.
    await p.getByTestId('cancel-run').click();
    await dialog.waitFor();
    expect(await dialog.getAttribute('data-target')).toBe('gridiron');
    await dialog.getByLabel('Cluster user name').fill('jdoe');
    await dialog.getByLabel('Password').fill('right-password');
    await dialog.getByRole('button', { name: 'Log in', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await p.locator('.job-layout[data-status="canceled"]').waitFor();
    expect(calls.slice(5)).toEqual(['cancel {"serial":1}', `login gridiron ${JSON.stringify({ username: 'jdoe', password: 'right-password' })}`, 'cancel {"serial":1}']);

    // Running it again starts from its target, size, parameters and options.
    await p.getByRole('button', { name: 'Change parameters and run…' }).click();
    const rerun = p.locator('.rerun');
    await rerun.locator('.run-form').waitFor();
    expect(await rerun.getByLabel('Target', { exact: true }).inputValue()).toBe('gridiron');
    expect(await rerun.getByLabel('Size', { exact: true }).inputValue()).toBe('parallel');
    expect(await rerun.getByLabel('Job key').inputValue()).toBe('on-cluster');
    expect(await rerun.getByLabel('Duration').inputValue()).toBe('5');
    expect(await rerun.getByTestId('target-options').locator('legend').textContent()).toBe('Options for Gridiron');
    expect([await rerun.getByLabel('Queue').inputValue(), await rerun.getByLabel('Slots').inputValue()]).toEqual(['all.q', '4']);
    expect(await rerun.getByTestId('target-login-state').textContent()).toMatch(/^Logged in to Gridiron \(login\.gridiron\.test\) until /);
    await screenshot(p, '9-rerun-form');
    await rerun.getByRole('button', { name: 'Cancel', exact: true }).click();
    now = { waitingFor: 'queued' };
    await p.getByRole('button', { name: 'Run again' }).click();
    await p.locator('.job-layout[data-status="pending"]').waitFor();
    expect(calls.at(-1)).toBe(`run ${run}`);
    expect(errors).toEqual([]);
  });

  it('logs in to a cluster target with a private key file instead of a password and code, and refuses a file that is not one', async () => {
    // A Grid Engine target played by request routing, as above; the run form's "Log in…" opens its login dialog.
    const { page: p, errors } = await open();
    const bodies: string[] = [];
    let loggedIn = false;
    const login = () =>
      loggedIn ? { loggedIn: true, state: 'connected', since: Date.now(), expiresAt: Date.now() + 8 * 3_600_000 } : { loggedIn: false, state: null, since: null, expiresAt: null };
    const status = () => ({ target: 'gridiron', title: 'Gridiron', driver: 'sge', needsLogin: true, host: 'login.gridiron.test', ...login() });
    await p.route('**/api/targets', async (route) => {
      const real = (await (await route.fetch()).json()) as { targets: unknown[] };
      const gridiron = {
        name: 'gridiron', driver: 'sge', title: 'Gridiron', needsLogin: true, host: 'login.gridiron.test', maxTimeSeconds: { sequential: 1800, parallel: 43_200 }, options: [], login: login(),
      };
      return route.fulfill({ json: { targets: [...real.targets, gridiron] } });
    });
    await p.route('**/api/templates', async (route) => {
      const real = (await (await route.fetch()).json()) as { templates: { name: string; targets: string[] }[] };
      for (const t of real.templates) if (t.name === 'sleep') t.targets = [...t.targets, 'gridiron'];
      return route.fulfill({ json: real });
    });
    await p.route('**/api/targets/*/status', (route) => route.fulfill({ json: status() }));
    await p.route('**/api/targets/*/login', (route) => {
      bodies.push(route.request().postData() ?? '');
      if (bodies.length === 1) return route.fulfill({ status: 403, json: { error: { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' } } });
      loggedIn = true;
      return route.fulfill({ json: status() });
    });

    // An OpenSSH private key as its file reads (not a real one: it only has the right shape), a public key, one too big, one with a passphrase.
    const sshString = (s: string) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(Buffer.byteLength(s));
      return Buffer.concat([length, Buffer.from(s)]);
    };
    const openssh = (cipher: string) => {
      const blob = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString(cipher), sshString(cipher === 'none' ? 'none' : 'bcrypt'), Buffer.from('not a real key, only its shape')]);
      const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
      return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
    };
    const keyText = openssh('none');
    const file = (name: string, text: string) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(text) });

    await logIn(p, 'alice', 'alice-password');
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    await p.getByLabel('Target', { exact: true }).selectOption('gridiron');
    const loginState = p.getByTestId('target-login-state');
    await expect.poll(() => loginState.textContent()).toBe('Not logged in to Gridiron (login.gridiron.test). Log in…');
    await loginState.getByRole('button', { name: 'Log in…' }).click();
    const dialog = p.getByTestId('target-login');
    await dialog.waitFor();

    // The choice: a labelled radio group, password and code first; the key's fields only once chosen.
    const methods = dialog.getByRole('radiogroup', { name: 'Log in with' });
    expect(await methods.getByRole('radio').allTextContents()).toEqual(['Password and one-time code', 'Private key']);
    const byPassword = methods.getByRole('radio', { name: 'Password and one-time code' });
    const byKey = methods.getByRole('radio', { name: 'Private key' });
    expect([await byPassword.isChecked(), await byKey.isChecked()]).toEqual([true, false]);
    const keyFile = dialog.getByLabel('Private key file');
    const passphrase = dialog.getByLabel('Key passphrase');
    expect([await keyFile.isHidden(), await passphrase.isHidden(), await dialog.getByLabel('Password').isVisible()]).toEqual([true, true, true]);
    await dialog.getByLabel('Cluster user name').fill('jdoe');
    await dialog.getByLabel('Password').fill('typed-but-not-chosen');
    await dialog.getByLabel('One-time code').fill('123456');
    // By keyboard: Tab reaches the chosen radio (the other is not a Tab stop), an arrow key chooses the other.
    expect([await byPassword.getAttribute('tabindex'), await byKey.getAttribute('tabindex')]).toEqual(['0', '-1']);
    await byPassword.focus();
    await p.keyboard.press('ArrowRight');
    expect([await byPassword.isChecked(), await byKey.isChecked()]).toEqual([false, true]);
    expect(await byKey.evaluate((e) => e === document.activeElement)).toBe(true);
    expect([await byPassword.getAttribute('tabindex'), await byKey.getAttribute('tabindex')]).toEqual(['-1', '0']);
    expect([await keyFile.isVisible(), await passphrase.isVisible(), await dialog.getByLabel('Password').isHidden(), await dialog.getByLabel('One-time code').isHidden()]).toEqual([true, true, true, true]);
    expect(await keyFile.getAttribute('type')).toBe('file');
    expect(await keyFile.getAttribute('aria-describedby')).toMatch(/-privateKey-hint \S+-privateKey-error$/);
    expect(await passphrase.getAttribute('type')).toBe('password');
    await screenshot(p, '12-target-login-key-mode');

    // What is not a private key is refused in the form, next to the file field, and nothing is sent.
    const fileError = dialog.locator('[id$="-privateKey-error"]');
    const submit = dialog.getByRole('button', { name: 'Log in', exact: true });
    await submit.click();
    await expect.poll(() => fileError.textContent()).toBe('Choose your private key file.');
    await keyFile.setInputFiles(file('id_ed25519.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFake jdoe@laptop\n'));
    expect(await fileError.textContent()).toBe(''); // another file: the old message goes
    await submit.click();
    await expect.poll(() => fileError.textContent()).toBe('This file is not a private key (it has no "BEGIN … PRIVATE KEY" line). Choose the private key itself, e.g. id_ed25519, not the public key (.pub).');
    expect(await keyFile.getAttribute('aria-invalid')).toBe('true');
    expect(await p.evaluate('document.activeElement && document.activeElement.name')).toBe('privateKey');
    await screenshot(p, '12-target-login-not-a-key');
    await keyFile.setInputFiles(file('id_ed25519', `${keyText}${'#'.repeat(16_384)}\n`));
    await submit.click();
    await expect.poll(() => fileError.textContent()).toContain('This file is too big for a private key (more than 16384 characters).');
    // A key with a passphrase needs it (the server could not read the key without).
    await keyFile.setInputFiles(file('id_ed25519', openssh('aes256-ctr')));
    await submit.click();
    await expect.poll(() => dialog.locator('[id$="-passphrase-error"]').textContent()).toBe('This key is protected by a passphrase: enter it.');
    expect(await passphrase.getAttribute('aria-invalid')).toBe('true');
    expect(await p.evaluate('document.activeElement && document.activeElement.name')).toBe('passphrase');
    expect(bodies).toEqual([]);

    // A key the cluster refuses: the key-login message; the file and passphrase are not kept, the file field has the focus.
    await keyFile.setInputFiles(file('id_ed25519', keyText));
    await passphrase.fill('correct horse');
    await submit.click();
    await expect.poll(() => dialog.getByTestId('target-login-error').textContent()).toContain('Invalid credentials: Gridiron refused the user name or the private key.');
    expect(await keyFile.evaluate((e) => (e as HTMLInputElement).files?.length)).toBe(0);
    expect(await passphrase.inputValue()).toBe('');
    expect(await p.evaluate('document.activeElement && document.activeElement.name')).toBe('privateKey');
    expect(await keyFile.getAttribute('aria-invalid')).toBeNull();
    await screenshot(p, '12-target-login-key-refused');

    // The key again, without a passphrase: logged in. Each request had the key's text, never a password or code.
    await keyFile.setInputFiles(file('id_ed25519', keyText));
    await submit.click();
    await dialog.waitFor({ state: 'detached' });
    expect(bodies).toEqual([
      JSON.stringify({ username: 'jdoe', privateKey: keyText, passphrase: 'correct horse' }),
      JSON.stringify({ username: 'jdoe', privateKey: keyText }),
    ]);
    await expect.poll(() => loginState.textContent()).toMatch(/^Logged in to Gridiron \(login\.gridiron\.test\) until .+\.\s*$/);
    expect(errors).toEqual([]);
  });

  it('says when the live connection is lost and catches up once it is back', async () => {
    const { page: p } = await open();
    await p.route('**/api/events', (route) => route.abort());
    await logIn(p, 'alice', 'alice-password');
    const banner = p.getByTestId('connection-banner');
    await expect.poll(() => banner.textContent(), { timeout: 15_000 }).toContain('The live connection to jobvisor was lost');
    await p.locator('tr.job-row').first().waitFor();
    // A run starts while the page hears nothing; it appears once the stream is back (resync).
    const job = await alice.run({ template: 'quick', jobKey: 'while-offline', parameters: { samples: 1000, batches: 1 } });
    await screenshot(p, '10-connection-lost');
    expect(await p.locator(`tr.job-row[data-job-id="${job.jobId}"]`).count()).toBe(0);
    await p.unroute('**/api/events');
    await banner.waitFor({ state: 'hidden', timeout: 30_000 });
    await p.locator(`tr.job-row[data-job-id="${job.jobId}"]`).waitFor({ timeout: 15_000 });
    await expect.poll(() => p.getByTestId('live').textContent()).toBe('live');
    await p.locator(`tr.job-row[data-job-id="${job.jobId}"][data-status="completed"]`).waitFor({ timeout: 30_000 });
  });

  it('fits a narrow window: the page does not scroll sideways, tables scroll inside', async () => {
    const { page: p, errors } = await open({ width: 420, height: 900 });
    await logIn(p, 'alice', 'alice-password');
    await p.locator('tr.job-row').first().waitFor();
    await p.getByLabel('Template', { exact: true }).selectOption('heat1d');
    const width = () => p.evaluate('document.documentElement.scrollWidth');
    expect(await width()).toBeLessThanOrEqual(420);
    await screenshot(p, '8-narrow-jobs');
    const heat = (await alice.get('/api/jobs')).body.jobs.find((j: any) => j.jobKey === 'heat1d');
    await p.goto(`/#/jobs/${heat.jobId}`);
    await p.locator('[data-frame="temperature"] canvas').first().waitFor();
    expect(await width()).toBeLessThanOrEqual(420);
    await screenshot(p, '8-narrow-job');
    // Keyboard: the job link of the table and the form's fields are reachable and labelled.
    await p.goto('/#/jobs');
    await p.locator('tr.job-row').first().waitFor();
    const unlabelled = await p.evaluate(`[...document.querySelectorAll('.run-form select, .run-form input')].filter((e) => e.labels.length === 0).map((e) => e.id)`);
    expect(unlabelled).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('says so when the supervisor is not reachable, and recovers when it is back', async () => {
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password');
    await p.locator('tr.job-row').first().waitFor();
    await p.getByLabel('Template', { exact: true }).selectOption('quick');
    await jv.stopSupervisor();
    try {
      await p.getByRole('button', { name: 'Run', exact: true }).click();
      await expect.poll(() => p.getByTestId('run-form-error').textContent(), { timeout: 20_000 }).toContain('The supervisor is not reachable');
      await p.reload();
      await expect.poll(() => p.locator('.jobs-page').textContent(), { timeout: 20_000 }).toContain('Could not load your jobs: The supervisor is not reachable');
      await screenshot(p, '11-supervisor-down');
    } finally {
      await jv.startSupervisor();
    }
    // Back: the server's resync (or the Try again button) brings the list.
    const tryAgain = p.locator('.jobs-page').getByRole('button', { name: 'Try again' }).first();
    await expect
      .poll(
        async () => {
          if (await tryAgain.isVisible()) await tryAgain.click().catch(() => undefined);
          return p.locator('tr.job-row').count();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBeGreaterThan(0);
    expect(errors.filter((e) => !e.includes('status of 502'))).toEqual([]);
  });
});
