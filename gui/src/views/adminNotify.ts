/**
 * Admin page sections of notifications and lifetimes: the runs flagged stale now, how long runs
 * spent in each state per template and target over a chosen period, and the latest completion
 * callbacks with their attempts.
 */
import { api } from '../api.js';
import { h, replaceChildren, uid } from '../dom.js';
import { formatDateTime, formatDuration } from '../format.js';
import { describeError } from '../notify.js';
import { isActive, type JobView } from '../types.js';
import type { Disposer } from './view.js';

const PERIODS: [string, number][] = [
  ['last hour', 3600_000],
  ['last day', 86_400_000],
  ['last 7 days', 7 * 86_400_000],
  ['last 30 days', 30 * 86_400_000],
];

function table(label: string, cls: string, head: string[], rows: HTMLTableRowElement[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': label },
    h('table', { class: cls }, h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, rows)),
  );
}

/** The runs flagged stale, from the admin page's job list. */
export function staleSection(): { el: HTMLElement; update(jobs: JobView[]): void } {
  const box = h('div', null);
  const el = h('section', { class: 'card', 'aria-labelledby': 'stale-title' }, h('h2', { id: 'stale-title' }, 'Stale runs'), box);
  return {
    el,
    update(jobs) {
      const stale = jobs.filter((j) => isActive(j.status) && j.stale);
      if (stale.length === 0) {
        replaceChildren(box, h('p', { class: 'muted' }, 'No run is over the time its template expects.'));
        return;
      }
      const rows = stale.map((j) =>
        h(
          'tr',
          { 'data-job-id': j.jobId },
          h('td', null, h('a', { href: `#/jobs/${encodeURIComponent(j.jobId)}` }, j.jobKey)),
          h('td', null, j.user),
          h('td', null, j.template),
          h('td', null, j.target),
          h('td', null, j.stale!.state),
          h('td', { class: 'num' }, formatDuration(Date.now() - j.stale!.sinceMs)),
          h('td', { class: 'num' }, formatDuration(j.stale!.expectedSeconds * 1000)),
        ),
      );
      replaceChildren(box, table('Stale runs', 'stale-table', ['Job', 'User', 'Template', 'Target', 'State', 'For', 'Expected'], rows));
    },
  };
}

/** Lifetimes per template, target and state over a period the admin picks. */
export function lifetimesSection(d: Disposer): HTMLElement {
  const id = uid('lifetimes-period');
  const select = h('select', { id, name: 'period' }, PERIODS.map(([label, ms]) => h('option', { value: String(ms) }, label)));
  select.value = String(7 * 86_400_000);
  const box = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  async function load(): Promise<void> {
    const until = Date.now() + 1;
    try {
      const rows = await api.lifetimes(until - Number(select.value), until);
      if (d.destroyed) return;
      if (rows.length === 0) {
        replaceChildren(box, h('p', { class: 'muted' }, 'No run ended in this period.'));
        return;
      }
      const trs = rows.map((r) =>
        h(
          'tr',
          { 'data-template': r.template, 'data-state': r.state },
          h('td', null, r.template),
          h('td', null, r.target),
          h('td', null, r.state),
          h('td', { class: 'num' }, String(r.count)),
          h('td', { class: 'num' }, formatDuration(r.medianMs)),
          h('td', { class: 'num' }, formatDuration(r.p90Ms)),
          h('td', { class: 'num' }, formatDuration(r.maxMs)),
        ),
      );
      replaceChildren(box, table('Run lifetimes', 'lifetimes-table', ['Template', 'Target', 'State', 'Runs', 'Median', '90th percentile', 'Longest'], trs));
    } catch (err) {
      if (!d.destroyed) replaceChildren(box, h('p', { class: 'is-error' }, `Could not load the lifetimes: ${describeError(err)}`));
    }
  }
  select.addEventListener('change', () => void load());
  void load();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'lifetimes-title' },
    h('h2', { id: 'lifetimes-title' }, 'Run lifetimes'),
    h('p', { class: 'hint' }, 'How long runs that ended in the period spent pending (queued → started), running and finishing.'),
    h('div', { class: 'filters', role: 'group', 'aria-label': 'Period' }, h('div', { class: 'field field-inline' }, h('label', { for: id }, 'Period'), select)),
    box,
  );
}

/** The latest completion callbacks and how each fared. */
export function deliveriesSection(d: Disposer): HTMLElement {
  const box = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  async function load(): Promise<void> {
    try {
      const rows = await api.deliveries(50);
      if (d.destroyed) return;
      if (rows.length === 0) {
        replaceChildren(box, h('p', { class: 'muted' }, 'No completion callbacks yet (setting callbacks, see README).'));
        return;
      }
      const trs = rows.map((r) => {
        const last = r.attempts.at(-1);
        return h(
          'tr',
          { 'data-delivery-id': String(r.id) },
          h('td', null, h('a', { href: `#/jobs/${encodeURIComponent(r.jobId)}` }, r.jobId), ` (run ${r.serial})`),
          h('td', null, h('code', null, r.url)),
          h('td', null, r.state),
          h('td', { class: 'num' }, String(r.attempts.length)),
          h('td', null, last ? `${last.status ?? '—'}${last.error ? ` ${last.error}` : ''}` : '—'),
          h('td', null, r.nextAt ? formatDateTime(r.nextAt) : '—'),
        );
      });
      replaceChildren(box, table('Completion callbacks', 'deliveries-table', ['Job', 'URL', 'State', 'Attempts', 'Last answer', 'Next attempt'], trs));
    } catch (err) {
      if (!d.destroyed) replaceChildren(box, h('p', { class: 'is-error' }, `Could not load the callbacks: ${describeError(err)}`));
    }
  }
  d.interval(() => void load(), 15_000);
  void load();
  return h('section', { class: 'card', 'aria-labelledby': 'deliveries-title' }, h('h2', { id: 'deliveries-title' }, 'Completion callbacks'), box);
}
