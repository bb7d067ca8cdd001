/**
 * The GUI's pipeline pages, in a real Chromium: the pipelines list, a pipeline's page with its
 * stages in order (state, reason, progress, times, a link to each stage's job), following the
 * pipeline live; Resume after a failed stage, Cancel of a running pipeline; the New pipeline form
 * (a two-stage pipeline passing a file and a parameter on, made in the form, run to its end; a
 * cycle answered at the stages' "runs after" fields; edit as JSON).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineView } from '../src/shared/pipelines.js';
import { logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
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
  let alice: Client;
  let scratch: string;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: FIXTURES })));
    alice = await jv.addUser(await jv.login(), 'alice');
    scratch = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-gui-pipes-'));
  }, 90_000);
  afterAll(async () => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shows the stages of a failed pipeline with the reason, resumes it, and cancels a running one', async () => {
    const gate = path.join(scratch, 'gate');
    writeFileSync(gate, 'fail');
    const created = (await alice.post<{ pipeline: PipelineView }>('/api/pipelines', chain(gate))).body.pipeline;

    const t = await gui.page();
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

  it('creates a two-stage pipeline from the form that passes a file and a parameter on, and it completes', async () => {
    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await p.getByRole('link', { name: 'Pipelines' }).click();
    await p.getByRole('button', { name: 'New pipeline' }).click();
    const form = p.getByTestId('pipeline-form');
    const ed = (name: string) => form.locator(`li.stage-editor[data-stage="${name}"]`);
    await form.getByLabel('Pipeline name (optional)').fill('made in the form');
    // Stage a: writes the numbers 1..5 and meta.json {scale: {factor: 7}}.
    await ed('a').getByLabel('Template').selectOption('pipe-gen');
    await ed('a').getByLabel('Count', { exact: true }).fill('5');
    await ed('a').getByLabel('Factor written to meta.json').fill('7');
    // Stage b: its input file from a, its factor from a's meta.json.
    await form.getByRole('button', { name: 'Add stage' }).click();
    await ed('b').getByLabel('Template').selectOption('pipe-scale');
    await ed('b').getByLabel('input numbers: from stage').selectOption({ label: 'a' });
    await ed('b').getByLabel('input numbers: file').fill('out/numbers.txt');
    await ed('b').getByRole('button', { name: 'Take a parameter from a file of another stage' }).click();
    const row = ed('b').locator('.stage-param-from .field').first();
    await row.getByLabel('parameter', { exact: true }).selectOption('factor');
    await row.getByLabel('from stage', { exact: true }).selectOption({ label: 'a' });
    await row.getByLabel('JSON file').fill('out/meta.json');
    await row.getByLabel('JSON pointer').fill('/scale/factor');
    // The file's stage is ticked (and fixed) in "runs after"; the factor field is not typed in.
    expect(await ed('b').locator('[data-after="a"] input').isChecked()).toBe(true);
    expect(await ed('b').locator('[data-after="a"] input').isDisabled()).toBe(true);
    expect(await ed('b').getByLabel('Factor', { exact: true }).isDisabled()).toBe(true);
    // Nothing is sent while a field is not valid.
    await ed('a').getByLabel('Count', { exact: true }).fill('0');
    await form.getByTestId('pipeline-submit').click();
    expect(await form.getByTestId('pipeline-form-error').textContent()).toContain('Nothing was sent');
    expect(await ed('a').locator('[data-field-error="count"]').textContent()).toContain('at least 1');
    await ed('a').getByLabel('Count', { exact: true }).fill('5');
    await screenshot(p, 'pipelines-4-new-form');

    await form.getByTestId('pipeline-submit').click();
    await p.waitForURL(/#\/pipelines\/[0-9a-f]{12}$/);
    const pipelineId = /#\/pipelines\/([0-9a-f]{12})$/.exec(p.url())![1]!;
    const stage = (name: string) => p.locator(`li.stage[data-stage="${name}"]`);
    await expect.poll(() => p.locator('li.stage[data-state="completed"]').count(), { timeout: 60_000 }).toBe(2);
    expect(await p.locator('h1').textContent()).toBe('made in the form');
    expect(await stage('b').locator('.stage-deps').textContent()).toContain('after a');
    await screenshot(p, 'pipelines-5-made-in-form-completed');

    const made = (await alice.get<{ pipeline: PipelineView }>(`/api/pipelines/${pipelineId}`)).body.pipeline;
    const b = made.stages.find((s) => s.name === 'b')!;
    const job = (await alice.get(`/api/jobs/${b.jobId!}`)).body.job as { parameters: Record<string, unknown>; inputs: { name: string; fileName: string }[] };
    expect(job.parameters.factor).toBe(7);
    expect(job.inputs.map((i) => [i.name, i.fileName])).toEqual([['numbers', 'numbers.txt']]);
    const scaled = await fetch(`${jv.serverUrl}/api/jobs/${b.jobId!}/files/out/scaled.txt`, { headers: { authorization: `Bearer ${alice.token!}` } });
    expect((await scaled.text()).trim().split('\n')).toEqual(['7', '14', '21', '28', '35']);
    expect(t.errors).toEqual([]);
  }, 120_000);

  it('answers a cycle at the "runs after" field of each stage in it, and creates nothing; edit as JSON shows and sends the body', async () => {
    const before = (await alice.get<{ pipelines: PipelineView[] }>('/api/pipelines')).body.pipelines.length;
    const t = await gui.page();
    const p = t.page;
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`${jv.serverUrl}/#/pipelines`);
    await p.getByRole('button', { name: 'New pipeline' }).click();
    const form = p.getByTestId('pipeline-form');
    const ed = (name: string) => form.locator(`li.stage-editor[data-stage="${name}"]`);
    await ed('a').getByLabel('Template').selectOption('quick');
    await form.getByRole('button', { name: 'Add stage' }).click();
    await ed('b').getByLabel('Template').selectOption('quick');
    await ed('a').locator('[data-after="b"] input').check();
    await ed('b').locator('[data-after="a"] input').check();
    // A rename keeps the references: b becomes solve, and a still runs after it.
    await ed('b').getByLabel('Stage name').fill('solve');
    expect(await ed('a').locator('[data-after="solve"] input').isChecked()).toBe(true);

    await form.getByTestId('pipeline-json-toggle').click();
    const body = JSON.parse(await form.getByTestId('pipeline-json').inputValue()) as { stages: Record<string, { template: string; after?: string[] }> };
    expect([body.stages.a?.after, body.stages.solve?.after, body.stages.a?.template]).toEqual([['solve'], ['a'], 'quick']);
    await form.getByTestId('pipeline-json-toggle').click();
    expect(await ed('solve').locator('[data-after="a"] input').isChecked()).toBe(true);

    await form.getByTestId('pipeline-submit').click();
    const afterError = (name: string) => ed(name).locator('[data-field-error="after"]');
    await expect.poll(() => afterError('a').textContent(), { timeout: 20_000 }).toContain('These stages form a cycle: ');
    expect(await afterError('solve').textContent()).toMatch(/cycle: (a → solve → a|solve → a → solve)/);
    expect(await form.getByTestId('pipeline-form-error').textContent()).toContain('The server refused the pipeline: the stages form a cycle');
    await screenshot(p, 'pipelines-6-cycle');
    expect((await alice.get<{ pipelines: PipelineView[] }>('/api/pipelines')).body.pipelines.length).toBe(before);
    expect(p.url()).toMatch(/#\/pipelines$/);

    // As JSON: the body is sent as it is; fixed, it is created and the page goes to it.
    await form.getByTestId('pipeline-json-toggle').click();
    const json = form.getByTestId('pipeline-json');
    await json.fill(JSON.stringify({ name: 'from JSON', stages: { a: { template: 'quick', parameters: { samples: 5 } } } }));
    await form.getByTestId('pipeline-submit').click();
    await expect.poll(() => form.getByTestId('pipeline-form-error').textContent()).toContain('stage a: parameters of quick');
    await json.fill(JSON.stringify({ name: 'from JSON', stages: { a: { template: 'quick', parameters: { samples: 5000 } }, b: { template: 'quick', after: ['a'] } } }));
    await form.getByTestId('pipeline-submit').click();
    await p.waitForURL(/#\/pipelines\/[0-9a-f]{12}$/);
    await expect.poll(() => p.locator('h1').textContent()).toBe('from JSON');
    expect(await p.locator('li.stage').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.stage))).toEqual(['a', 'b']);
    expect(t.errors).toEqual([]);
  }, 90_000);
});
