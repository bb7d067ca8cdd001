/**
 * The admin page's Templates section, in a real Chromium: a template broken on disk shows as a
 * problem with its file, line and field, the template still offered in its last good version;
 * the Reload button reloads the folder once it is fixed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

describe('templates on the admin page (Chromium)', () => {
  let jv: Jobvisor;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ env: { JOBVISOR_TEMPLATES_WATCH: 'false' } })));
  }, 90_000);

  it('shows a broken template’s problem with its file and line, and reloads the fixed folder', async () => {
    const file = path.join(jv.templatesDir, 'quick', 'template.json');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('"title"', '"title" "oops",'));
    const admin = await jv.login();
    await admin.post('/api/admin/templates/reload', {});

    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.goto(`${jv.serverUrl}/#/admin`);
    const problems = p.locator('table[data-testid="template-problems"] tbody tr');
    await expect.poll(() => problems.count(), { timeout: 30_000 }).toBe(1);
    expect(await problems.first().locator('td').first().textContent()).toMatch(/^quick\/template\.json:\d+:\d+$/);
    expect(await problems.first().textContent()).toMatch(/not valid JSON/);
    expect(await p.locator('li[data-template="quick"]').textContent()).toBe('quick (last good version kept)');
    await p.locator('section[aria-labelledby="templates-title"]').scrollIntoViewIfNeeded();
    await screenshot(p, 'templates-1-problem');
    await p.locator('section[aria-labelledby="templates-title"]').screenshot({ path: path.join(ARTIFACTS_DIR, 'templates-1-section.png') });

    writeFileSync(file, good);
    await p.getByRole('button', { name: 'Reload templates' }).click();
    await expect.poll(() => p.locator('p[data-testid="template-problems"]').textContent(), { timeout: 30_000 }).toBe('No problems.');
    expect(await p.locator('li[data-template="quick"]').textContent()).toBe('quick');
    await screenshot(p, 'templates-2-reloaded');
  }, 120_000);
});
