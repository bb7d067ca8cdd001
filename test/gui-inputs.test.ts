/**
 * Input files in the web GUI (real Chromium, real jobvisor): the run form has a file field per
 * template input (accept list, size limit, required mark), checks a chosen file, uploads it
 * with a progress bar, and the run completes with it; a refusal of the server shows at the
 * file's field and leaves nothing stored.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { PDB, uploadFiles } from './helpers/inputs.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const MiB = 1024 * 1024;

describe('input files in the web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let alice: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates'), env: { JOBVISOR_MAX_UPLOAD_BYTES: String(2 * MiB) } })));
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 90_000);

  it('uploads a file from the run form with progress and the run completes with it', async () => {
    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await p.getByLabel('Template', { exact: true }).selectOption('count-lines');
    const structure = p.locator('input[type="file"][data-input="structure"]');
    expect(await structure.getAttribute('accept')).toBe('.pdb,.txt,chemical/x-pdb');
    expect(await structure.evaluate((e) => (e as HTMLInputElement).required)).toBe(true);
    expect(await p.locator('[data-param="inputs.structure"] .hint').first().textContent()).toMatch(/accepts \.pdb, \.txt, chemical\/x-pdb · at most 1(\.0)? MiB · required/);
    expect(await p.locator('[data-param="inputs.structure"] label .required').count()).toBe(1);
    expect(await p.locator('[data-param="inputs.notes"] label .required').count()).toBe(0);

    // Nothing chosen, a wrong type, too large: marked at the field, nothing sent.
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    expect(await p.locator('[data-field-error="inputs.structure"]').textContent()).toBe('Choose a file.');
    expect(await p.getByTestId('run-form-error').textContent()).toContain('Nothing was sent');
    await structure.setInputFiles({ name: 'tool.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ') });
    expect(await p.locator('[data-field-error="inputs.structure"]').textContent()).toContain('accepts .pdb, .txt, chemical/x-pdb');
    await structure.setInputFiles({ name: 'big.pdb', mimeType: 'chemical/x-pdb', buffer: Buffer.alloc(MiB + 1, 65) });
    expect(await p.locator('[data-field-error="inputs.structure"]').textContent()).toMatch(/^At most 1/);
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    expect((await alice.get('/api/jobs')).body.jobs).toEqual([]);

    // A file the server refuses (over the site's 2 MiB; the form does not know that limit): shown at its field, nothing stored.
    await structure.setInputFiles({ name: 'protein.pdb', mimeType: 'chemical/x-pdb', buffer: Buffer.from(PDB) });
    const data = p.locator('input[type="file"][data-input="data"]');
    await data.setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(2 * MiB + 100, 1) });
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await p.locator('[data-field-error="inputs.data"]').filter({ hasText: 'Not uploaded' }).waitFor();
    await p.getByTestId('run-form-error').filter({ hasText: 'The run was not started' }).waitFor();
    await expect.poll(async () => (await alice.get('/api/uploads')).body.uploads.length).toBe(0);
    expect(uploadFiles(jv.dataDir)).toEqual([]);
    expect((await alice.get('/api/jobs')).body.jobs).toEqual([]);
    await screenshot(p, 'inputs-1-refused');

    // Now fine: uploaded with progress, then the run.
    await data.setInputFiles({ name: 'frames.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1.5 * MiB, 2) });
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    const row = p.locator('tr.job-row').first();
    await row.waitFor({ timeout: 30_000 });
    expect(await p.getByTestId('upload-progress-structure').evaluate((e) => (e as HTMLProgressElement).value)).toBe(1);
    expect(await p.getByTestId('upload-status-data').textContent()).toMatch(/^Uploaded frames\.bin \(1\.5 MiB\)$/);
    const jobId = (await row.getAttribute('data-job-id')) ?? '';
    await p.locator(`tr.job-row[data-job-id="${jobId}"][data-status="completed"]`).waitFor({ timeout: 60_000 });
    const out = JSON.parse(readFileSync(path.join(jv.dataDir, 'runs', 'alice', jobId, '1', 'result.json'), 'utf8'));
    expect(out).toMatchObject({ lines: 4, inputs: ['frames.bin', 'protein.pdb'], data: { bytes: 1.5 * MiB } });
    await screenshot(p, 'inputs-2-completed');
    // The job page names the run's input files, each a download of the staged file.
    await p.goto(`/#/jobs/${jobId}`);
    const inputs = p.getByTestId('job-inputs');
    await inputs.waitFor();
    const text = (await inputs.textContent()) ?? '';
    expect(text).toContain(`protein.pdb (${PDB.length} B)`);
    expect(text).toContain('frames.bin (1.5 MiB)');
    expect(await inputs.locator('a', { hasText: 'protein.pdb' }).getAttribute('href')).toBe(`/api/jobs/${jobId}/files/inputs/protein.pdb`);
    await screenshot(p, 'inputs-3-job-page');
    expect(t.errors).toEqual([]);
  }, 120_000);
});
