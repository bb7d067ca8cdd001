/**
 * Admin page section of the templates folder (GET /api/admin/templates, every 10 s): the
 * templates offered (a template kept in its last good version is marked so) and every problem
 * with its file, line and field; a button reloads the folder (POST /api/admin/templates/reload).
 */
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { describeError, notify } from '../notify.js';
import type { Disposer } from './view.js';

interface Problem { file: string; field: string; message: string; line?: number; column?: number }
interface TemplatesView {
  dir: string;
  watching: boolean;
  templates: { name: string; folder: string; loadedAt: number; kept: boolean }[];
  problems: Problem[];
  lastReload: { at: number; trigger: string; loaded: string[]; changed: string[]; removed: string[] };
}

const REFRESH_MS = 10_000;

function where(p: Problem): string {
  const short = p.file.split('/').slice(-2).join('/');
  return `${short}${p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : ''}`;
}

function render(box: HTMLElement, v: TemplatesView): void {
  const names = v.templates.map((t) => h('li', { 'data-template': t.name }, t.name, t.kept ? h('span', { class: 'muted' }, ' (last good version kept)') : null));
  const problems = v.problems.length === 0
    ? h('p', { class: 'muted', 'data-testid': 'template-problems' }, 'No problems.')
    : h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Template problems' },
        h('table', { class: 'template-problems', 'data-testid': 'template-problems' },
          h('thead', null, h('tr', null, ['File', 'Field', 'Problem'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, v.problems.map((p) => h('tr', { class: 'error-row' }, h('td', null, h('code', null, where(p))), h('td', null, p.field ? h('code', null, p.field) : '—'), h('td', null, p.message))))));
  const last = v.lastReload.at ? `Last loaded ${new Date(v.lastReload.at).toLocaleTimeString()} (${v.lastReload.trigger})` : '';
  replaceChildren(box,
    h('p', { class: 'muted' }, `${v.dir} · ${v.watching ? 'reloaded on change' : 'not watched: reload by hand'}${last ? ` · ${last}` : ''}`),
    h('ul', { class: 'template-names' }, names),
    h('h3', null, v.problems.length === 0 ? 'Problems' : `Problems (${v.problems.length})`),
    problems);
}

export function templatesSection(d: Disposer): HTMLElement {
  const box = h('div', { 'data-testid': 'admin-templates' }, h('p', { class: 'muted' }, 'Loading the templates…'));
  const refresh = async () => {
    try {
      const v = await api.adminTemplates<TemplatesView>();
      if (!d.destroyed) render(box, v);
    } catch (err) {
      if (!d.destroyed) replaceChildren(box, h('p', { class: 'error' }, describeError(err)));
    }
  };
  const reload = h('button', { type: 'button', class: 'secondary' }, 'Reload templates');
  reload.addEventListener('click', () => {
    reload.disabled = true;
    api.reloadTemplates<TemplatesView['lastReload'] & { problems: Problem[] }>()
      .then((r) => {
        const what = [r.loaded.length && `added ${r.loaded.join(', ')}`, r.changed.length && `changed ${r.changed.join(', ')}`, r.removed.length && `removed ${r.removed.join(', ')}`].filter(Boolean).join('; ') || 'nothing changed';
        notify(`Templates reloaded: ${what}${r.problems.length ? `; ${r.problems.length} problem(s)` : ''}.`, { kind: r.problems.length ? 'error' : 'success', timeoutMs: 6000 });
        return refresh();
      })
      .catch((err: unknown) => notify(describeError(err), { kind: 'error' }))
      .finally(() => (reload.disabled = false));
  });
  d.interval(() => void refresh(), REFRESH_MS);
  void refresh();
  return h('section', { class: 'card', 'aria-labelledby': 'templates-title' }, h('h2', { id: 'templates-title' }, 'Templates'), reload, box);
}
