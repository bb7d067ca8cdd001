/**
 * The GUI's earlier runs, in a real Chromium: the runs table says whether each run's files are
 * kept, opens an earlier run's files (downloaded with ?serial=N) and log; the re-run form says
 * what the new run replaces and runs it as a new job on request; disk use on the jobs page and
 * per user on the admin page.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('earlier runs in the web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ env: { JOBVISOR_KEEP_RUNS: '1' } })));
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 90_000);

  it('lists earlier runs with their files, opens one, says what a re-run replaces, runs as a new job; shows disk use', async () => {
    const first = await alice.run({ template: 'sleep', jobKey: 'twice', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(first.jobId, (j) => j.status === 'completed', 30_000, 'run 1');
    await alice.run({ template: 'sleep', jobKey: 'twice', parameters: { seconds: 0, lines: 2 } });
    await alice.waitJob(first.jobId, (j) => j.serial === 2 && j.status === 'completed' && j.bytes !== null, 30_000, 'run 2, measured');

    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await expect.poll(() => p.getByTestId('my-usage').textContent()).toMatch(/Disk use of your runs' files: .* in 2 runs/);
    await p.goto(`${jv.serverUrl}/#/jobs/${first.jobId}`);
    await p.locator('.job-layout[data-status="completed"]').waitFor();
    const row1 = p.locator('.history-table tr[data-serial="1"]');
    await expect.poll(() => row1.locator('td.run-files').textContent()).toMatch(/^kept/);
    await row1.getByTestId('earlier-run-open').click();
    const panel = p.locator('[data-testid="earlier-run"][data-serial="1"]');
    await expect.poll(() => panel.getByTestId('earlier-log').textContent()).toContain('line 1');
    expect(await panel.getByTestId('earlier-log').textContent()).not.toContain('line 2');
    const link = panel.getByRole('link', { name: 'parameters.json' });
    expect(await link.getAttribute('href')).toBe(`/api/jobs/${first.jobId}/files/parameters.json?serial=1`);
    const [download] = await Promise.all([p.waitForEvent('download'), link.click()]);
    expect(JSON.parse(readFileSync(await download.path(), 'utf8'))).toEqual({ seconds: 0, lines: 1 });
    await screenshot(p, 'runs-1-earlier-run');

    // keepRuns = 1: a new run would remove run 1's files; the form says so, and can run a new job instead.
    await p.getByRole('button', { name: 'Change parameters and run…' }).click();
    await expect.poll(() => p.getByTestId('run-replaces').textContent()).toBe("Run 2 becomes an earlier run; 1 earlier run keeps its files, run 1's files will be removed.");
    await screenshot(p, 'runs-2-replaces');
    await p.getByTestId('run-as-new-job').click();
    await p.waitForURL((u) => u.hash.startsWith('#/jobs/') && !u.hash.includes(first.jobId), { timeout: 30_000 });
    const jobs = (await alice.get('/api/jobs')).body.jobs as { jobId: string; jobKey: string }[];
    expect(jobs.map((j) => j.jobKey).sort()[1]).toMatch(/^twice-/);
    expect((await alice.job(first.jobId)).history.map((h) => [h.serial, h.files])).toEqual([[1, 'kept']]);

    // Run 3 of the first job: run 1's files go (keepRuns = 1), and its page says so.
    await p.goto(`${jv.serverUrl}/#/jobs/${first.jobId}`);
    await p.locator('.job-layout[data-status="completed"]').waitFor();
    await p.getByRole('button', { name: 'Run again' }).click();
    await expect.poll(() => p.locator('.history-table tr[data-serial="1"] td.run-files').textContent(), { timeout: 30_000 }).toBe('removed');
    expect(await p.locator('.history-table tr[data-serial="1"]').getByTestId('earlier-run-open').count()).toBe(0);
    expect(await p.locator('.history-table tr[data-serial="2"]').getByTestId('earlier-run-open').count()).toBe(1);

    const a = await gui.page();
    await logIn(a.page, 'admin', ADMIN_PASSWORD);
    await a.page.goto(`${jv.serverUrl}/#/admin`);
    await expect.poll(() => a.page.locator('[data-testid="usage-table"] tr[data-user="alice"]').count()).toBe(1);
    await screenshot(a.page, 'runs-3-admin-usage');
  }, 120_000);
});
