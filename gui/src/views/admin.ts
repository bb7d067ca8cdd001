/**
 * The admin page: every user's jobs (filter by user, status and target; cancel), live from the
 * event stream; the agents (refreshed every 5 s and soon after job events); CPU slot usage per
 * target, pool and size; and the user accounts (list, create). Filters are kept in the
 * address (#/admin?user=alice&status=running), so a reload or a shared link keeps them.
 */
import { api, ApiError } from '../api.js';
import { usageTable } from '../runsView.js';
import { cancelRun } from '../actions.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { agoCell, formatDateTime, sizeText } from '../format.js';
import { JobTable } from '../jobTable.js';
import { describeError, notify } from '../notify.js';
import { replaceHash } from '../router.js';
import { knownTargets, loadTargets, targetOf, targetTitle } from '../targets.js';
import { isActive, STATUSES, type AgentView, type JobView, type SlotUsage } from '../types.js';
import { Disposer, type View, type ViewContext } from './view.js';
import { deliveriesSection, lifetimesSection, staleSection } from './adminNotify.js';
import { workerSections } from './adminWorkers.js';
import { auditSection, usersTable } from './adminUsers.js';
import { templatesSection } from './adminTemplates.js';

const REFRESH_MS = 5000;

/** A target's place in the site's order (unknown targets last). */
function targetOrder(name: string): number {
  const i = (knownTargets() ?? []).findIndex((t) => t.name === name);
  return i === -1 ? Number.MAX_SAFE_INTEGER : i;
}

/** A table cell naming a target: its title, with its name and driver. */
function targetCell(name: string, driver: string): HTMLTableCellElement {
  const title = targetTitle(name);
  const more = [...new Set([name, driver])].filter((x) => x !== title);
  return h('td', { class: 'col-target', 'data-target': name }, title, more.length > 0 ? h('span', { class: 'muted' }, ` (${more.join(' · ')})`) : null);
}

function selectField(label: string, name: string): { el: HTMLElement; select: HTMLSelectElement } {
  const id = uid(`filter-${name}`);
  const select = h('select', { id, name });
  return { select, el: h('div', { class: 'field field-inline' }, h('label', { for: id }, label), select) };
}

function setOptions(select: HTMLSelectElement, values: string[], allText: string, keep: string, text: (v: string) => string = (v) => v): void {
  const wanted = ['', ...values];
  const now = [...select.options].map((o) => `${o.value}\t${o.textContent ?? ''}`);
  const labels = wanted.map((v) => (v === '' ? allText : text(v)));
  if (wanted.map((v, i) => `${v}\t${labels[i] ?? ''}`).join('\n') !== now.join('\n')) {
    replaceChildren(select, wanted.map((v, i) => h('option', { value: v }, labels[i] ?? v)));
  }
  select.value = wanted.includes(keep) ? keep : '';
}

export function adminView(ctx: ViewContext, query: URLSearchParams): View {
  const d = new Disposer();
  if (ctx.user.role !== 'admin') {
    const el = h('section', { class: 'card' }, h('h1', null, 'Admins only'), h('p', null, 'This page is for administrators. '), h('a', { href: '#/jobs' }, '← Your jobs'));
    return { el, title: 'Admin', destroy: () => undefined };
  }

  // --- all jobs, with filters
  const filters = { user: query.get('user') ?? '', status: query.get('status') ?? '', target: query.get('target') ?? '' };
  const userF = selectField('User', 'user');
  const statusF = selectField('Status', 'status');
  const targetF = selectField('Target', 'target');
  const table = new JobTable({
    caption: 'All jobs',
    showUser: true,
    emptyText: 'No jobs yet.',
    onCancel: (job, button) => {
      void cancelRun(job, button).then((j) => j && table.upsert(j));
    },
  });
  const jobsStatus = h('p', { class: 'muted', role: 'status' }, 'Loading the jobs…');
  const clear = h('button', { type: 'button', class: 'small', onclick: () => setFilters({ user: '', status: '', target: '' }) }, 'Clear filters');

  function refreshFilterOptions(): void {
    const jobs = table.jobs();
    const users = [...new Set(jobs.map((j) => j.user).concat(filters.user ? [filters.user] : []))].sort();
    // The site's targets in its order, then any other target a job names (one no longer configured).
    const named = new Set(jobs.map((j) => j.target).concat(filters.target ? [filters.target] : []));
    const site = (knownTargets() ?? []).map((t) => t.name);
    const targets = [...site.filter((n) => named.has(n)), ...[...named].filter((n) => !site.includes(n)).sort()];
    setOptions(userF.select, users, 'all users', filters.user);
    setOptions(statusF.select, ['active', ...STATUSES], 'any status', filters.status);
    setOptions(targetF.select, targets, 'all targets', filters.target, (n) => {
      const t = targetOf(n);
      return t ? `${t.title} (${t.driver})` : n;
    });
  }

  const stale = staleSection();
  function applyFilters(): void {
    stale.update(table.jobs());
    const { user, status, target } = filters;
    table.setFilter(
      (j: JobView) =>
        (user === '' || j.user === user) && (target === '' || j.target === target) && (status === '' || (status === 'active' ? isActive(j.status) : j.status === status)),
    );
    clear.hidden = user === '' && status === '' && target === '';
  }

  function setFilters(next: typeof filters): void {
    Object.assign(filters, next);
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const s = q.toString();
    replaceHash(s ? `#/admin?${s}` : '#/admin');
    refreshFilterOptions();
    applyFilters();
  }

  userF.select.addEventListener('change', () => setFilters({ ...filters, user: userF.select.value }));
  statusF.select.addEventListener('change', () => setFilters({ ...filters, status: statusF.select.value }));
  targetF.select.addEventListener('change', () => setFilters({ ...filters, target: targetF.select.value }));

  /** The "Show more jobs" button: the page after `cursor` (the filters apply to the jobs loaded). */
  function moreAfter(cursor: string | undefined): void {
    table.setMore(
      cursor === undefined
        ? null
        : async () => {
            try {
              const page = await api.jobs({ all: true, cursor });
              if (d.destroyed) return;
              table.addJobs(page.jobs);
              moreAfter(page.nextCursor);
              refreshFilterOptions();
              applyFilters();
            } catch (err) {
              if (d.destroyed) return;
              jobsStatus.hidden = false;
              replaceChildren(jobsStatus, h('span', { class: 'is-error' }, `Could not load more jobs: ${describeError(err)}`));
            }
          },
    );
  }

  async function loadJobs(): Promise<void> {
    table.beginFetch();
    try {
      const page = await api.jobs({ all: true });
      if (d.destroyed) return;
      table.setJobs(page.jobs);
      moreAfter(page.nextCursor);
      jobsStatus.hidden = true;
      refreshFilterOptions();
      applyFilters();
    } catch (err) {
      if (d.destroyed) return;
      jobsStatus.hidden = false;
      replaceChildren(jobsStatus, h('span', { class: 'is-error' }, `Could not load the jobs: ${describeError(err)} `), h('button', { type: 'button', class: 'small', onclick: () => void loadJobs() }, 'Try again'));
    }
  }

  // --- agents and slots
  const agentsBox = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const slotsBox = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const refreshedAt = h('p', { class: 'hint' });
  let refreshing = false;
  let soon: ReturnType<typeof setTimeout> | undefined;

  function renderAgents(agents: AgentView[]): void {
    if (agents.length === 0) {
      replaceChildren(agentsBox, h('p', { class: 'muted' }, 'No agents run now. An agent starts with a user’s first run of a size on a target, or with a login to a cluster.'));
      return;
    }
    const sorted = [...agents].sort((a, b) => a.user.localeCompare(b.user) || targetOrder(a.target) - targetOrder(b.target) || (a.size ?? '').localeCompare(b.size ?? ''));
    replaceChildren(
      agentsBox,
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Agents' },
        h(
          'table',
          { class: 'agents-table' },
          h('thead', null, h('tr', null, ['User', 'Target', 'Size', 'Host / pool', 'State', 'Since', 'Last heartbeat', 'Runs going', 'Agent id'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            null,
            sorted.map((a) =>
              h(
                'tr',
                { 'data-agent-id': a.agentId },
                h('td', null, a.user),
                targetCell(a.target, a.driver),
                h('td', null, a.size ? sizeText(a.size) : h('span', { class: 'muted', title: 'a cluster login’s agent serves every size' }, 'every size')),
                h('td', null, a.host, a.pool && a.pool !== a.host ? h('span', { class: 'muted' }, ` / ${a.pool}`) : null),
                h('td', null, h('span', { class: `agent-state agent-${a.state}` }, a.state)),
                h('td', { title: formatDateTime(a.since) }, agoCell(a.since)),
                h('td', null, a.lastHeartbeat ? agoCell(a.lastHeartbeat) : '—'),
                h('td', { class: 'num' }, String(a.runs)),
                h('td', { class: 'col-agent-id' }, h('code', null, a.agentId)),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function renderSlots(slots: SlotUsage[]): void {
    if (slots.length === 0) {
      replaceChildren(slotsBox, h('p', { class: 'muted' }, 'No slot pools.'));
      return;
    }
    replaceChildren(
      slotsBox,
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'CPU slots' },
        h(
          'table',
          { class: 'slots-table' },
          h('thead', null, h('tr', null, ['Target', 'Pool', 'Size', 'Used', 'Waiting'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            null,
            [...slots].sort((a, b) => targetOrder(a.target) - targetOrder(b.target)).map((s) => {
              const meter = h('meter', { min: '0', max: String(Math.max(1, s.total)), value: String(s.used), 'aria-label': `${s.used} of ${s.total} slots used` });
              return h(
                'tr',
                null,
                targetCell(s.target, s.driver),
                h('td', null, s.pool),
                h('td', null, sizeText(s.size)),
                h('td', null, h('div', { class: 'slot-cell' }, meter, h('span', { class: 'num' }, `${s.used} / ${s.total}`))),
                h('td', { class: `num${s.waiting > 0 ? ' is-warn' : ''}` }, String(s.waiting)),
              );
            }),
          ),
        ),
      ),
    );
  }

  async function refreshAgents(): Promise<void> {
    if (refreshing || d.destroyed) return;
    refreshing = true;
    try {
      const [agents, slots] = await Promise.allSettled([api.agents(), api.slots()]);
      if (d.destroyed) return;
      if (agents.status === 'fulfilled') renderAgents(agents.value);
      else replaceChildren(agentsBox, h('p', { class: 'is-error' }, `Could not load the agents: ${describeError(agents.reason)}`));
      if (slots.status === 'fulfilled') renderSlots(slots.value);
      else replaceChildren(slotsBox, h('p', { class: 'is-error' }, `Could not load the slot usage: ${describeError(slots.reason)}`));
      setText(refreshedAt, `Refreshed every ${REFRESH_MS / 1000} s and after job changes; last at ${new Date().toLocaleTimeString()}.`);
    } finally {
      refreshing = false;
    }
  }

  /** Soon after job events (slots and agents change with runs), at most every 1.5 s. */
  function refreshSoon(): void {
    if (soon !== undefined) return;
    soon = setTimeout(() => {
      soon = undefined;
      void refreshAgents();
    }, 1500);
  }
  d.add(() => clearTimeout(soon));

  // --- users
  const usersBox = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  async function loadUsers(): Promise<void> {
    try {
      const { users, roles } = await api.usersAndRoles();
      if (d.destroyed) return;
      const chosen = newRole.value;
      replaceChildren(newRole, roles.map((r) => h('option', { value: r }, r)));
      newRole.value = roles.includes(chosen) ? chosen : 'user';
      replaceChildren(usersBox, usersTable(users, ctx.user, () => void loadUsers()));
    } catch (err) {
      if (!d.destroyed) replaceChildren(usersBox, h('p', { class: 'is-error' }, `Could not load the users: ${describeError(err)}`));
    }
  }
  const newUser = h('input', { id: uid('new-user'), name: 'username', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
  const newPassword = h('input', { id: uid('new-password'), name: 'password', type: 'password', autocomplete: 'new-password', minlength: '8', required: true });
  const newRole = h('select', { id: uid('new-role'), name: 'role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
  const userError = h('p', { class: 'form-error', role: 'alert' });
  const userForm = h(
    'form',
    { class: 'user-form', novalidate: true, 'aria-label': 'Add a user' },
    h('div', { class: 'field field-inline' }, h('label', { for: newUser.id }, 'User name'), newUser),
    h('div', { class: 'field field-inline' }, h('label', { for: newPassword.id }, 'Password (8+ characters)'), newPassword),
    h('div', { class: 'field field-inline' }, h('label', { for: newRole.id }, 'Role'), newRole),
    h('button', { type: 'submit' }, 'Add user'),
    userError,
  );
  userForm.addEventListener('submit', (e) => {
    e.preventDefault();
    setText(userError, '');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(newUser.value)) {
      setText(userError, 'A user name has 1 to 64 letters, digits, "_", "." and "-", starting with a letter or digit.');
      newUser.focus();
      return;
    }
    if (newPassword.value.length < 8) {
      setText(userError, 'The password needs at least 8 characters.');
      newPassword.focus();
      return;
    }
    api
      .createUser(newUser.value, newPassword.value, newRole.value || 'user')
      .then((u) => {
        notify(`Added ${u.role} ${u.username}.`, { kind: 'success', timeoutMs: 6000 });
        newUser.value = '';
        newPassword.value = '';
        void loadUsers();
      })
      .catch((err: unknown) => setText(userError, err instanceof ApiError && err.code === 'USER_EXISTS' ? `A user named ${newUser.value} exists already.` : describeError(err)));
  });

  const el = h(
    'div',
    { class: 'page admin-page' },
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'admin-jobs-title' },
      h('h1', { id: 'admin-jobs-title' }, 'All jobs'),
      h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' }, userF.el, statusF.el, targetF.el, clear),
      jobsStatus,
      table.el,
    ),
    stale.el,
    h('section', { class: 'card', 'aria-labelledby': 'slots-title' }, h('h2', { id: 'slots-title' }, 'CPU slots'), slotsBox),
    h('section', { class: 'card', 'aria-labelledby': 'agents-title' }, h('h2', { id: 'agents-title' }, 'Agents'), agentsBox, refreshedAt),
    workerSections(d),
    templatesSection(d),
    h('section', { class: 'card', 'aria-labelledby': 'users-title' }, h('h2', { id: 'users-title' }, 'Users'), usersBox, userForm),
    auditSection(d),
    lifetimesSection(d),
    deliveriesSection(d),
    h('section', { class: 'card', 'aria-labelledby': 'usage-title' }, h('h2', { id: 'usage-title' }, 'Disk use per user'), usageTable()),
  );

  refreshFilterOptions();
  applyFilters();
  d.add(
    ctx.events.on('job', (e) => {
      table.upsert(e.job);
      refreshFilterOptions();
      applyFilters();
      refreshSoon();
    }),
  );
  d.add(ctx.events.on('progress', (e) => table.patch(e)));
  d.add(ctx.events.on('log', (e) => table.patch(e)));
  d.add(
    ctx.events.on('resync', () => {
      void loadJobs();
      void refreshAgents();
    }),
  );
  d.interval(() => void refreshAgents(), REFRESH_MS);
  // The targets' titles (and their order) for the tables and the target filter.
  void loadTargets().then(() => {
    if (d.destroyed) return;
    table.refresh();
    refreshFilterOptions();
    void refreshAgents();
  });
  void loadJobs();
  void refreshAgents();
  void loadUsers();
  return { el, title: 'Admin', destroy: () => d.dispose() };
}
