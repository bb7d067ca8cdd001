/**
 * Admin page section of enrolled workers (GET /api/admin/workers, every 5 s): each worker's
 * name, target, labels, slots used of total, runs, last heartbeat, and whether it is connected
 * or stale (no heartbeat for more than 3 intervals). Workers of a revoked token (refused for
 * good) are left out, with a count. Next to it, the enrollment tokens (adminEnrollments.ts).
 */
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { agoCell } from '../format.js';
import { describeError } from '../notify.js';
import { enrollmentsSection } from './adminEnrollments.js';
import type { Disposer } from './view.js';

interface WorkerRow {
  id: string;
  name: string;
  target: string;
  enrollment: string;
  enrollmentId?: string;
  revoked?: boolean;
  host: string;
  labels: Record<string, string>;
  slots: { used: number; total: number };
  free: { cores: number; memoryMb: number } | null;
  runs: string[];
  connected: boolean;
  lastHeartbeat: number | null;
  stale: boolean;
}

const REFRESH_MS = 5000;

function stateOf(w: WorkerRow): string {
  if (w.connected) return w.stale ? 'stale' : 'connected';
  return w.stale ? 'disconnected (stale)' : 'disconnected';
}

function row(w: WorkerRow): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-worker': w.name, 'data-state': stateOf(w) },
    h('td', null, w.name, h('span', { class: 'muted' }, ` (${w.host})`)),
    h('td', null, w.target),
    h('td', { class: 'worker-labels' }, Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '—'),
    h('td', { class: 'num worker-slots' }, `${w.slots.used} / ${w.slots.total}`),
    h('td', { class: 'worker-runs' }, w.runs.length === 0 ? '—' : w.runs.map((id, i) => [i > 0 ? ', ' : '', h('a', { href: `#/jobs/${encodeURIComponent(id)}` }, id)])),
    h('td', null, w.lastHeartbeat === null ? '—' : agoCell(w.lastHeartbeat)),
    h('td', { class: 'worker-state' }, stateOf(w)),
    h('td', { class: 'muted' }, w.enrollment),
  );
}

export function workersSection(d: Disposer): { el: HTMLElement; refresh: () => Promise<void> } {
  const box = h('div', { 'data-testid': 'workers' }, h('p', { class: 'muted' }, 'Loading the workers…'));
  const refresh = async () => {
    try {
      const all = await api.workers<WorkerRow>();
      if (d.destroyed) return;
      const workers = all.filter((w) => w.revoked !== true);
      const revoked = all.length - workers.length;
      const note = revoked > 0 ? h('p', { class: 'muted', 'data-testid': 'workers-revoked' }, `${revoked} worker${revoked === 1 ? '' : 's'} of revoked tokens not shown.`) : null;
      if (workers.length === 0) {
        replaceChildren(box, h('p', { class: 'muted' }, all.length === 0 ? 'No worker has enrolled yet.' : 'No worker of an active token.'), note);
        return;
      }
      const head = ['Worker', 'Target', 'Labels', 'Slots used', 'Runs', 'Last heartbeat', 'State', 'Enrollment'];
      replaceChildren(
        box,
        h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Enrolled workers' },
          h('table', { class: 'workers-table' }, h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, workers.map(row)))),
        note,
      );
    } catch (err) {
      if (!d.destroyed) replaceChildren(box, h('p', { class: 'error' }, describeError(err)));
    }
  };
  d.interval(() => void refresh(), REFRESH_MS);
  void refresh();
  return { el: h('section', { class: 'card', 'aria-labelledby': 'workers-title' }, h('h2', { id: 'workers-title' }, 'Enrolled workers'), box), refresh };
}

/** The admin page's workers and enrollment tokens sections: a revoke shows in the workers list at once. */
export function workerSections(d: Disposer): HTMLElement[] {
  const workers = workersSection(d);
  return [workers.el, enrollmentsSection(d, { workersChanged: () => void workers.refresh() })];
}
