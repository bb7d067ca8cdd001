/**
 * The GUI's pipeline pages, in a real Chromium: the pipelines list, a pipeline's page with its
 * stages in order (state, reason, progress, times, a link to each stage's job), following the
 * pipeline live; Resume after a failed stage, Cancel of a running pipeline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineView } from '../src/shared/pipelines.js';
import { launchBrowser, logIn, newPage, screenshot, type TestPage } from './helpers/browser.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');

function chain(gate: string, aSeconds = 0) {
  return {
    name: 'scale and sum',
    stages: {
      a: { template: 'pipe-gen', parameters: { count: 4, factor: 3, seconds: aSeconds } },
      b: { template: 'pipe-scale', parameters: { gate }, inputs: { numbers: { from: 'a', file: 'out/numbers.txt' } }, parameterFrom: { factor: { from: 'a', file: 'out/meta.json', pointer: '/scale/factor' } } },
      c: { template: 'pipe-sum', inputs: { numbers: { from: 'b', file: 'out/scaled.txt' } } },
    },
  };
}

describe('pipelines in the web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let browser: Browser;
  let alice: Client;
  let scratch: string;
  const opened: TestPage[] = [];

  beforeAll(async () => {
    [jv, browser] = await Promise.all([startJobvisor({ extraTemplates: FIXTURES }), launchBrowser()]);
    alice = await jv.addUser(await jv.login(), 'alice');
    scratch = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-gui-pipes-'));
  }, 90_000);
  afterAll(async () => {
    for (const t of opened) await t.context.close().catch(() => undefined);
    await browser?.close();
    await jv?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shows the stages of a failed pipeline with the reason, resumes it, and cancels a running one', async () => {
    const gate = path.join(scratch, 'gate');
    writeFileSync(gate, 'fail');
    const created = (await alice.post<{ pipeline: PipelineView }>('/api/pipelines', chain(gate))).body.pipeline;

    const t = await newPage(browser, jv.serverUrl);
    opened.push(t);
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await p.getByRole('link', { name: 'Pipelines' }).click();
    const row = p.locator(`tr[data-pipeline-id="${created.pipelineId}"]`);
    await row.getByRole('link', { name: 'scale and sum' }).click();

    const stage = (name: string) => p.locator(`li.stage[data-stage="${name}"]`);
    await expect.poll(() => stage('c').getAttribute('data-state'), { timeout: 30_000 }).toBe('blocked');
    expect(await p.locator('li.stage').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.stage))).toEqual(['a', 'b', 'c']);
    expect(await stage('a').getAttribute('data-state')).toBe('completed');
    expect(await stage('b').getAttribute('data-state')).toBe('failed');
    expect(await stage('b').locator('.stage-reason').textContent()).toContain('gate says fail');
    expect(await stage('c').locator('.stage-reason').textContent()).toMatch(/^stage b failed: /);
    expect(await stage('c').locator('.stage-deps').textContent()).toContain('after b');
    expect(await stage('c').locator('a.stage-job').count()).toBe(0);
    expect(await stage('a').locator('.stage-times').textContent()).toMatch(/queued .* started .* ended /);
    await screenshot(p, 'pipelines-1-failed');

    // Fix the cause, resume: the page follows the pipeline to its end by its events.
    writeFileSync(gate, 'ok');
    await p.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => p.locator('li.stage[data-state="completed"]').count(), { timeout: 30_000 }).toBe(3);
    expect(await stage('b').textContent()).toContain('attempt 2');
    expect(await p.getByRole('button', { name: 'Resume' }).isHidden()).toBe(true);
    await screenshot(p, 'pipelines-2-resumed');
    // Each stage links to its job's page.
    await stage('c').locator('a.stage-job').click();
    await p.locator('.job-layout[data-status="completed"]').waitFor();
    expect(p.url()).toContain('#/jobs/');
    await p.locator('.job-pipeline').getByRole('link', { name: `pipeline ${created.pipelineId}` }).click();
    await p.locator('li.stage[data-stage="c"]').waitFor();

    // A running pipeline: Cancel stops its stage; the rest never start.
    const running = (await alice.post<{ pipeline: PipelineView }>('/api/pipelines', chain('', 60))).body.pipeline;
    await p.goto(`${jv.serverUrl}/#/pipelines/${running.pipelineId}`);
    await expect.poll(() => stage('a').getAttribute('data-state'), { timeout: 30_000 }).toBe('running');
    await p.getByRole('button', { name: 'Cancel pipeline' }).click();
    await expect.poll(() => p.locator('li.stage[data-state="canceled"]').count(), { timeout: 20_000 }).toBe(3);
    expect(await p.getByRole('button', { name: 'Resume' }).isVisible()).toBe(true);
    await screenshot(p, 'pipelines-3-canceled');
    expect(t.errors).toEqual([]);
  }, 120_000);
});
