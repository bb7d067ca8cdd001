/**
 * The admin page: every user's jobs (filter by user, status and driver; cancel), live from the
 * event stream; the agents (refreshed every 5 s and soon after job events); CPU slot usage per
 * driver, pool and run mode; and the user accounts (list, create). Filters are kept in the
 * address (#/admin?user=alice&status=running), so a reload or a shared link keeps them.
 */
import { api, ApiError } from '../api.js';
import { cancelRun } from '../actions.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { agoCell, formatDateTime, runModeText } from '../format.js';
import { JobTable } from '../jobTable.js';
import { describeError, notify } from '../notify.js';
import { replaceHash } from '../router.js';
import { isActive, STATUSES, type AgentView, type JobView, type SlotUsage } from '../types.js';
import { Disposer, type View, type ViewContext } from './view.js';

const REFRESH_MS = 5000;

function selectField(label: string, name: string): { el: HTMLElement; select: HTMLSelectElement } {
  const id = uid(`filter-${name}`);
  const select = h('select', { id, name });
  return { select, el: h('div', { class: 'field field-inline' }, h('label', { for: id }, label), select) };
}

function setOptions(select: HTMLSelectElement, values: string[], allText: string, keep: string): void {
  const wanted = ['', ...values];
  const now = [...select.options].map((o) => o.value);
  if (wanted.join('\n') !== now.join('\n')) {
    replaceChildren(select, wanted.map((v) => h('option', { value: v }, v === '' ? allText : v)));
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
  const filters = { user: query.get('user') ?? '', status: query.get('status') ?? '', driver: query.get('driver') ?? '' };
  const userF = selectField('User', 'user');
  const statusF = selectField('Status', 'status');
  const driverF = selectField('Driver', 'driver');
  const table = new JobTable({
    caption: 'All jobs',
    showUser: true,
    emptyText: 'No jobs yet.',
    onCancel: (job, button) => {
      void cancelRun(job, button).then((j) => j && table.upsert(j));
    },
  });
  const jobsStatus = h('p', { class: 'muted', role: 'status' }, 'Loading the jobs…');
  const clear = h('button', { type: 'button', class: 'small', onclick: () => setFilters({ user: '', status: '', driver: '' }) }, 'Clear filters');

  function refreshFilterOptions(): void {
    const jobs = table.jobs();
    const users = [...new Set(jobs.map((j) => j.user).concat(filters.user ? [filters.user] : []))].sort();
    const drivers = [...new Set(jobs.map((j) => j.driver).concat(filters.driver ? [filters.driver] : []))].sort();
    setOptions(userF.select, users, 'all users', filters.user);
    setOptions(statusF.select, ['active', ...STATUSES], 'any status', filters.status);
    setOptions(driverF.select, drivers, 'all drivers', filters.driver);
  }

  function applyFilters(): void {
    const { user, status, driver } = filters;
    table.setFilter(
      (j: JobView) =>
        (user === '' || j.user === user) && (driver === '' || j.driver === driver) && (status === '' || (status === 'active' ? isActive(j.status) : j.status === status)),
    );
    clear.hidden = user === '' && status === '' && driver === '';
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
  driverF.select.addEventListener('change', () => setFilters({ ...filters, driver: driverF.select.value }));

  async function loadJobs(): Promise<void> {
    table.beginFetch();
    try {
      const jobs = await api.jobs(true);
      if (d.destroyed) return;
      table.setJobs(jobs);
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
      replaceChildren(agentsBox, h('p', { class: 'muted' }, 'No agents run now. An agent starts with a user’s first run of a run mode.'));
      return;
    }
    const sorted = [...agents].sort((a, b) => a.user.localeCompare(b.user) || a.runMode.localeCompare(b.runMode));
    replaceChildren(
      agentsBox,
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Agents' },
        h(
          'table',
          { class: 'agents-table' },
          h('thead', null, h('tr', null, ['User', 'Driver', 'Run mode', 'Host / pool', 'State', 'Since', 'Last heartbeat', 'Runs going', 'Agent id'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            null,
            sorted.map((a) =>
              h(
                'tr',
                { 'data-agent-id': a.agentId },
                h('td', null, a.user),
                h('td', null, a.driver),
                h('td', null, runModeText(a.runMode)),
                h('td', null, a.host, a.pool && a.pool !== a.host ? h('span', { class: 'muted' }, ` / ${a.pool}`) : null),
                h('td', null, h('span', { class: `agent-state agent-${a.state}` }, a.state)),
                h('td', { title: formatDateTime(a.since) }, agoCell(a.since)),
                h('td', null, a.lastHeartbeat ? agoCell(a.lastHeartbeat) : '—'),
                h('td', { class: 'num' }, String(a.runs)),
                h('td', null, h('code', null, a.agentId)),
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
          h('thead', null, h('tr', null, ['Driver', 'Pool', 'Run mode', 'Used', 'Waiting'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            null,
            slots.map((s) => {
              const meter = h('meter', { min: '0', max: String(Math.max(1, s.total)), value: String(s.used), 'aria-label': `${s.used} of ${s.total} slots used` });
              return h(
                'tr',
                null,
                h('td', null, s.driver),
                h('td', null, s.pool),
                h('td', null, runModeText(s.runMode)),
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
      const users = await api.users();
      if (d.destroyed) return;
      replaceChildren(
        usersBox,
        h(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Users' },
          h(
            'table',
            { class: 'users-table' },
            h('thead', null, h('tr', null, ['User', 'Role', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', null, users.map((u) => h('tr', null, h('td', null, u.username), h('td', null, u.role), h('td', null, formatDateTime(u.createdAt))))),
          ),
        ),
      );
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
      .createUser(newUser.value, newPassword.value, newRole.value === 'admin' ? 'admin' : 'user')
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
      h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' }, userF.el, statusF.el, driverF.el, clear),
      jobsStatus,
      table.el,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'slots-title' }, h('h2', { id: 'slots-title' }, 'CPU slots'), slotsBox),
    h('section', { class: 'card', 'aria-labelledby': 'agents-title' }, h('h2', { id: 'agents-title' }, 'Agents'), agentsBox, refreshedAt),
    h('section', { class: 'card', 'aria-labelledby': 'users-title' }, h('h2', { id: 'users-title' }, 'Users'), usersBox, userForm),
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
  d.add(
    ctx.events.on('resync', () => {
      void loadJobs();
      void refreshAgents();
    }),
  );
  d.interval(() => void refreshAgents(), REFRESH_MS);
  void loadJobs();
  void refreshAgents();
  void loadUsers();
  return { el, title: 'Admin', destroy: () => d.dispose() };
}
