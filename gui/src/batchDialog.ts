/**
 * "Submit a batch": a dialog that takes run requests as JSON (typed or pasted, or read from a
 * .json file) — `{"runs": [...]}` or just the array — and sends them as one batch
 * (POST /api/jobs/batch). A refused batch lists every bad entry by its index (nothing was
 * queued); an accepted one lists the jobs it created, each a link to its page.
 */
import { api, ApiError } from './api.js';
import { h, replaceChildren } from './dom.js';
import { describeError } from './notify.js';
import { jobHref } from './router.js';
import type { BatchJob } from '../../src/shared/api.js';

const EXAMPLE = '{"runs": [\n  {"template": "quick", "parameters": {"seed": 1}},\n  {"template": "quick", "parameters": {"seed": 2}}\n]}';

/** The run requests of the text, or what is wrong with it. */
function readRuns(text: string): { runs: unknown[] } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `This is not JSON: ${(err as Error).message}` };
  }
  const runs = Array.isArray(value) ? value : (value as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs)) return { problem: 'Give an array of run requests, or an object {"runs": [...]}.' };
  if (runs.length === 0) return { problem: 'The batch holds no run request.' };
  return { runs };
}

interface EntryError {
  index: number;
  code: string;
  message: string;
}

function errorTable(errors: EntryError[]): HTMLElement {
  return h(
    'table',
    { class: 'batch-errors', 'data-testid': 'batch-errors' },
    h('thead', null, h('tr', null, h('th', null, 'Entry'), h('th', null, 'Error'), h('th', null, 'Why'))),
    h('tbody', null, ...errors.map((e) => h('tr', { 'data-index': String(e.index) }, h('td', null, String(e.index)), h('td', null, h('code', null, e.code)), h('td', null, e.message)))),
  );
}

function jobList(jobs: BatchJob[]): HTMLElement {
  const shown = jobs.slice(0, 200);
  return h(
    'div',
    { 'data-testid': 'batch-jobs' },
    h('p', { class: 'is-success' }, `Queued ${jobs.length} run${jobs.length === 1 ? '' : 's'}.`),
    h('ol', { class: 'batch-jobs', start: '0' }, ...shown.map((j) => h('li', { 'data-index': String(j.index) }, h('a', { href: jobHref(j.jobId) }, j.jobKey), ` (run ${j.serial})`))),
    jobs.length > shown.length ? h('p', { class: 'muted' }, `… and ${jobs.length - shown.length} more, in your jobs list.`) : null,
  );
}

/** Opens the dialog; `onQueued` hears each accepted batch. */
export function openBatchDialog(onQueued: (jobs: BatchJob[]) => void): void {
  const text = h('textarea', { id: 'batch-text', rows: 10, spellcheck: false, 'data-testid': 'batch-text', placeholder: EXAMPLE });
  const file = h('input', { type: 'file', id: 'batch-file', accept: '.json,application/json', 'data-testid': 'batch-file' });
  const result = h('div', { class: 'batch-result', role: 'status', 'data-testid': 'batch-result' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit batch');
  const close = h('button', { type: 'button' }, 'Close');
  const form = h(
    'form',
    { class: 'dialog-form', novalidate: true },
    h('h2', { id: 'batch-title' }, 'Submit a batch'),
    h('p', null, 'Run requests as JSON, one per run, as for a single run (template, parameters, target, size, jobKey, inputs by upload id). All are checked first: one bad entry refuses the whole batch.'),
    h('label', { class: 'field-label', for: 'batch-file' }, 'From a file'),
    file,
    h('label', { class: 'field-label', for: 'batch-text' }, 'Run requests'),
    text,
    result,
    h('div', { class: 'actions' }, submit, close),
  );
  const dialog = h('dialog', { class: 'dialog batch-dialog', 'aria-labelledby': 'batch-title', 'data-testid': 'batch-dialog' }, form);
  const finish = () => {
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  close.addEventListener('click', finish);
  dialog.addEventListener('close', finish);
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (!f) return;
    f.text().then(
      (t) => (text.value = t),
      (err: unknown) => replaceChildren(result, h('p', { class: 'is-error' }, `The file could not be read: ${describeError(err)}`)),
    );
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const read = readRuns(text.value);
    if ('problem' in read) {
      replaceChildren(result, h('p', { class: 'is-error' }, read.problem));
      return;
    }
    submit.disabled = true;
    replaceChildren(result, h('p', { class: 'muted' }, `Checking and queueing ${read.runs.length} runs…`));
    api.batch(read.runs).then(
      (jobs) => {
        replaceChildren(result, jobList(jobs));
        onQueued(jobs);
      },
      (err: unknown) => {
        const errors = err instanceof ApiError && err.code === 'BATCH_INVALID' ? ((err.details as { errors?: EntryError[] } | undefined)?.errors ?? []) : [];
        replaceChildren(result, h('p', { class: 'is-error' }, errors.length > 0 ? `Nothing was queued: ${errors.length} of ${read.runs.length} entries are not valid.` : `Nothing was queued: ${describeError(err)}`), errors.length > 0 ? errorTable(errors) : null);
      },
    ).finally(() => (submit.disabled = false));
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  text.focus();
}
