/**
 * The web GUI in a real Chromium against a real jobvisor with a real Grid Engine target (behind
 * the real sshd asking for a password and a one-time code): a run on the cluster asks for the
 * login in its dialog, then goes to Grid Engine and completes, followed live on the job page.
 * Then another user logs in there with a private key file instead (a key the sshd accepts).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { nextCode, startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { ADMIN_PASSWORD, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { clusterTarget, killAgentOnLoginNode } from './schedulers/contract.js';

const TARGET = 'gui-grid';

describe('web GUI on a real Grid Engine target (Chromium)', () => {
  const gui = guiFile();
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  let t: TestPage;
  let keyPage: TestPage | undefined;

  beforeAll(async () => {
    cluster = startTestCluster('sge');
    const targets = [{ name: 'local', driver: 'local' }, clusterTarget('sge', TARGET, cluster, { title: 'Institute grid' })];
    ({ jv } = await gui.start(() => startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) } })));
    admin = await jv.login();
    t = await gui.page();
  }, 600_000);
  afterAll(async () => {
    if (cluster) killAgentOnLoginNode(cluster, TARGET);
  });

  it('runs a template on the Grid Engine target after its login dialog, and shows the run to its end', async () => {
    const p = t.page;
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    const target = p.getByLabel('Target', { exact: true });
    expect(await target.locator('option').allTextContents()).toEqual(['This machine (local)', 'Institute grid (sge)']);
    await target.selectOption(TARGET);
    const box = p.getByTestId('target-options');
    await box.waitFor();
    expect(await box.locator('legend').textContent()).toBe('Options for Institute grid');
    expect(await box.locator('.field label').allTextContents()).toEqual(['Queue', 'Project', 'Parallel environment', 'Slots', 'Minutes']);
    await box.getByLabel('Queue').fill('all.q');
    await p.getByLabel('Duration').fill('6');
    await p.getByLabel('Log lines').fill('6');
    await p.getByLabel('Job key').fill('on-the-grid');
    await p.getByRole('button', { name: 'Run', exact: true }).click();

    // Not logged in there: the target's login dialog; a real login with a fresh one-time code; then the run goes.
    const dialog = p.getByTestId('target-login');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Log in to Institute grid');
    expect(await dialog.getByTestId('target-login-host').textContent()).toBe(`Login node: ${cluster.host}`);
    await dialog.getByLabel('Cluster user name').fill(cluster.user);
    await dialog.getByLabel('Password').fill(cluster.password);
    await dialog.getByLabel('One-time code').fill(nextCode(cluster));
    await screenshot(p, 'cluster-1-login-dialog');
    await dialog.getByRole('button', { name: 'Log in', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });

    const row = p.locator('tr.job-row').first();
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('.col-target').textContent()).toBe('Institute grid · sequential');
    const jobId = (await row.getAttribute('data-job-id')) ?? '';
    await p.goto(`/#/jobs/${jobId}`);
    await p.locator('.job-layout[data-status="running"], .job-layout[data-status="completed"]').waitFor({ timeout: 90_000 });
    await screenshot(p, 'cluster-2-job-running');
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 90_000 });
    const view = await admin.job(jobId);
    expect(view).toMatchObject({ status: 'completed', target: TARGET, driver: 'sge', options: { queue: 'all.q' }, logLines: 12 });
    expect(view.externalId).toMatch(/^[0-9]+$/);
    const scheduler = await p.evaluate(() => {
      const dt = [...document.querySelectorAll('.summary dt')].find((e) => e.textContent === 'Scheduler');
      return dt?.nextElementSibling?.textContent ?? null;
    });
    expect(scheduler).toContain(`Grid Engine job ${view.externalId}`);
    expect(await p.getByTestId('job-progress').getAttribute('data-value')).toBe('1');
    // Its result file, written on the cluster at the end, listed once the run completed.
    await p.locator('.files', { hasText: 'done.txt' }).waitFor({ timeout: 15_000 });
    await screenshot(p, 'cluster-3-job-completed');
    expect(t.errors).toEqual([]);
  });

  it('logs in to the Grid Engine target with a private key file instead, and runs there', async () => {
    // Another jobvisor user, not logged in there yet; the login (as the same cluster account) replaces the agent there.
    const kim = await jv.addUser(admin, 'kim');
    keyPage = await gui.page();
    const p = keyPage.page;
    await logIn(p, 'kim', 'kim-password');
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    await p.getByLabel('Target', { exact: true }).selectOption(TARGET);
    await p.getByTestId('target-options').getByLabel('Queue').fill('all.q');
    await p.getByLabel('Duration').fill('3');
    await p.getByLabel('Log lines').fill('3');
    await p.getByLabel('Job key').fill('with-a-key');
    await p.getByRole('button', { name: 'Run', exact: true }).click();

    const dialog = p.getByTestId('target-login');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Log in to Institute grid');
    await dialog.getByLabel('Cluster user name').fill(cluster.user);
    await dialog.getByRole('radio', { name: 'Private key' }).click();
    await dialog.getByLabel('Private key file').setInputFiles({ name: 'id_ed25519', mimeType: 'text/plain', buffer: readFileSync(cluster.privateKeyFile) });
    await screenshot(p, 'cluster-4-key-login-dialog');
    await dialog.getByRole('button', { name: 'Log in', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });

    const row = p.locator('tr.job-row').first();
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('.col-target').textContent()).toBe('Institute grid · sequential');
    const jobId = (await row.getAttribute('data-job-id')) ?? '';
    await p.goto(`/#/jobs/${jobId}`);
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 120_000 });
    const view = await kim.job(jobId);
    expect(view).toMatchObject({ status: 'completed', target: TARGET, driver: 'sge', jobKey: 'with-a-key', options: { queue: 'all.q' }, logLines: 6 });
    expect(view.externalId).toMatch(/^[0-9]+$/);
    await screenshot(p, 'cluster-5-key-job-completed');
    expect(keyPage.errors).toEqual([]);
  });
});
