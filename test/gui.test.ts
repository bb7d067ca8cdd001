/**
 * The web GUI in a real Chromium against a real jobvisor (server, supervisor, agents, the
 * example templates): logging in, running heat1d from the generated form and following it live
 * (jobs table, job page, progress, plot), the log and file downloads, canceling, form validation,
 * who may see which job, the admin page, a reload in the middle of a run, and a narrow window.
 * Every test saves a screenshot to test-artifacts/gui/. Waiting is always for a condition.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changes, launchBrowser, logIn, newPage, screenshot, watchPage, type Change, type TestPage } from './helpers/browser.js';
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

describe('web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let browser: Browser;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  const opened: TestPage[] = [];

  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startJobvisor(), launchBrowser()]);
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'fulfilled') jv = started.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
  }, 90_000);

  afterEach(async () => {
    for (const t of opened.splice(0)) await t.context.close().catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await jv?.stop();
  });

  async function open(viewport?: { width: number; height: number }): Promise<TestPage> {
    const t = await newPage(browser, jv.serverUrl, viewport);
    opened.push(t);
    return t;
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
    expect(await p.getByLabel('Run mode').locator('option').allTextContents()).toEqual(['sequential', 'parallel']); // no cluster: no sbatch
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

    // Agents (alice's and bob's local agents ran their jobs) and slot usage.
    await p.locator('.agents-table tbody tr').first().waitFor();
    expect(await p.locator('.agents-table tbody tr td:first-child').allTextContents()).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(await p.locator('.slots-table tbody tr').count()).toBeGreaterThanOrEqual(2);
    await screenshot(p, '6-admin');

    // The filter is in the address: a reload keeps it.
    await p.reload();
    await p.locator('.admin-page tr.job-row').first().waitFor();
    await expect.poll(() => p.locator('.admin-page tr.job-row:visible').count()).toBe(bobs.length);
    expect(await p.getByLabel('User', { exact: true }).inputValue()).toBe('bob');
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

  it('asks for the cluster login when a cluster run needs it, says when it is refused, then runs', async () => {
    // No test cluster here: the cluster's answers are played by the browser's request routing.
    const { page: p, errors } = await open();
    const calls: string[] = [];
    let logins = 0;
    let runs = 0;
    await p.route('**/api/cluster/status', (route) =>
      route.fulfill({ json: { configured: true, host: 'login.cluster.test', loggedIn: logins > 1, state: logins > 1 ? 'connected' : null, since: null, expiresAt: null } }),
    );
    await p.route('**/api/cluster/login', (route) => {
      logins += 1;
      calls.push(`cluster login ${route.request().postData()}`);
      return logins === 1
        ? route.fulfill({ status: 403, json: { error: { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' } } })
        : route.fulfill({ json: { configured: true, host: 'login.cluster.test', loggedIn: true, state: 'connected', since: Date.now(), expiresAt: Date.now() + 3_600_000 } });
    });
    await p.route('**/api/jobs', (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      runs += 1;
      calls.push(`run ${route.request().postData()}`);
      if (runs === 1) return route.fulfill({ status: 428, json: { error: { code: 'LOGIN_REQUIRED', message: 'no agent of yours runs on the cluster: log in first' } } });
      const now = Date.now();
      const job = {
        jobId: 'c0ffee00c0ffee00', user: 'alice', jobKey: 'on-cluster', template: 'sleep', runMode: 'sbatch', driver: 'sbatch', serial: 1, status: 'pending',
        parameters: { seconds: 5, lines: 10 }, progress: null, progressMessage: null, waitingFor: 'starting run', queuePosition: null, reason: null,
        queuedAt: now, startedAt: null, endedAt: null, updatedAt: now, logLines: 0, externalId: null, nextRequestMs: 1000, history: [],
      };
      return route.fulfill({ json: { job } });
    });
    await logIn(p, 'alice', 'alice-password');
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    expect(await p.getByLabel('Run mode').locator('option').allTextContents()).toEqual(['sequential', 'parallel', 'Slurm cluster (sbatch)']);
    await p.getByLabel('Run mode').selectOption('sbatch');
    await p.getByLabel('Time limit (minutes)').fill('5');
    await p.getByLabel('Job key').fill('on-cluster');
    expect(await p.locator('.cluster-line').textContent()).toContain('Not logged in to the cluster (login.cluster.test).');
    await p.getByRole('button', { name: 'Run', exact: true }).click();

    const dialog = p.getByTestId('cluster-login');
    await dialog.waitFor();
    await dialog.getByLabel('Cluster user name').fill('jdoe');
    await dialog.getByLabel('Password').fill('wrong-password');
    await dialog.getByLabel('One-time code').fill('123456');
    await dialog.getByRole('button', { name: 'Log in to the cluster' }).click();
    await expect.poll(() => dialog.getByTestId('cluster-login-error').textContent()).toContain('Invalid credentials');
    expect(await dialog.getByLabel('Password').inputValue()).toBe(''); // not kept
    await screenshot(p, '9-cluster-login-refused');

    await dialog.getByLabel('Password').fill('right-password');
    await dialog.getByLabel('One-time code').fill('654321');
    await dialog.getByRole('button', { name: 'Log in to the cluster' }).click();
    await dialog.waitFor({ state: 'detached' });
    await p.locator('tr.job-row[data-job-id="c0ffee00c0ffee00"]').waitFor();
    const run = JSON.stringify({ template: 'sleep', parameters: { seconds: 5, lines: 10 }, runMode: 'sbatch', jobKey: 'on-cluster', slurm: { minutes: 5 } });
    expect(calls).toEqual([
      `run ${run}`,
      `cluster login ${JSON.stringify({ username: 'jdoe', password: 'wrong-password', otp: '123456' })}`,
      `cluster login ${JSON.stringify({ username: 'jdoe', password: 'right-password', otp: '654321' })}`,
      `run ${run}`,
    ]);
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
