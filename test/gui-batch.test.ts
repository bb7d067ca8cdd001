/**
 * The "Submit a batch" dialog of the jobs page, in a real Chromium: a batch with a bad entry
 * lists it by index and queues nothing; the fixed batch (read from a .json file) lists the jobs
 * it created, and they appear in the jobs table.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('submitting a batch from the web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let alice: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'batch-templates') })));
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 90_000);

  it('shows the bad entries of a refused batch, then the jobs of an accepted one', async () => {
    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await p.getByTestId('batch-open').click();
    const dialog = p.getByTestId('batch-dialog');
    const runs = (bad: boolean) => [0, 1, 2].map((n) => ({ template: bad && n === 1 ? 'nope' : 'batch-echo', jobKey: `gui-${n}`, parameters: { n } }));
    await dialog.getByTestId('batch-text').fill(JSON.stringify({ runs: runs(true) }));
    await dialog.getByRole('button', { name: 'Submit batch' }).click();
    const bad = dialog.locator('[data-testid="batch-errors"] tbody tr');
    await expect.poll(() => bad.count()).toBe(1);
    expect(await bad.first().getAttribute('data-index')).toBe('1');
    expect(await bad.first().textContent()).toContain('UNKNOWN_TEMPLATE');
    expect(await dialog.getByTestId('batch-result').textContent()).toContain('Nothing was queued: 1 of 3 entries are not valid.');
    await screenshot(p, 'batch-1-refused');
    expect((await alice.get('/api/jobs')).body.jobs).toEqual([]);

    const file = path.join(os.tmpdir(), `jv-batch-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(runs(false)));
    await dialog.getByTestId('batch-file').setInputFiles(file);
    await expect.poll(() => dialog.getByTestId('batch-text').inputValue()).toContain('"gui-2"');
    await dialog.getByRole('button', { name: 'Submit batch' }).click();
    const created = dialog.locator('[data-testid="batch-jobs"] li');
    await expect.poll(() => created.count()).toBe(3);
    expect(await created.allTextContents()).toEqual(['gui-0 (run 1)', 'gui-1 (run 1)', 'gui-2 (run 1)']);
    await screenshot(p, 'batch-2-queued');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => p.locator('tr[data-job-id]').count()).toBe(3);
  }, 90_000);
});
