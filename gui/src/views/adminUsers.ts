/**
 * The admin page's user accounts with their actions (disable/enable, reset password, revoke
 * sessions, delete, asked for again before it happens), and the audit log of account changes.
 */
import { api, ApiError } from '../api.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { formatDateTime } from '../format.js';
import { describeError, notify } from '../notify.js';
import type { Account, User } from '../types.js';
import type { Disposer } from './view.js';

/** Sent on the document after a change to an account: the audit log shows it. */
const ACCOUNTS_CHANGED = 'jobvisor-accounts-changed';

/** The users table; `reload` refetches it (after a change). */
export function usersTable(users: Account[], me: User, reload: () => void): HTMLElement {
  const panel = h('div', { class: 'user-action-panel', role: 'region', 'aria-label': 'User action', 'aria-live': 'polite' });
  const done = (text: string) => {
    notify(text, { kind: 'success', timeoutMs: 6000 });
    reload();
    document.dispatchEvent(new Event(ACCOUNTS_CHANGED));
  };
  const failed = (what: string) => (err: unknown) => notify(`${what}: ${describeError(err)}`, { kind: 'error' });

  function askDelete(u: Account, cancelRuns: boolean, message: string): void {
    const go = h('button', {
      type: 'button',
      class: 'danger',
      onclick: () => {
        go.disabled = true;
        api
          .deleteUser(u.username, cancelRuns)
          .then((r) => {
            replaceChildren(panel);
            done(`Deleted ${r.deleted} and their ${r.jobsDeleted} job(s).`);
          })
          .catch((err: unknown) => {
            if (err instanceof ApiError && err.code === 'USER_HAS_ACTIVE_RUNS') {
              askDelete(u, true, `${u.username} has runs going now. Cancel them, and delete ${u.username} with every job and file?`);
              return;
            }
            replaceChildren(panel);
            failed(`Could not delete ${u.username}`)(err);
          });
      },
    }, cancelRuns ? 'Cancel the runs and delete' : `Delete ${u.username}`);
    replaceChildren(panel, h('div', { class: 'confirm' }, h('p', null, message), go, h('button', { type: 'button', onclick: () => replaceChildren(panel) }, 'Keep the account')));
    go.focus();
  }

  function askReset(u: Account): void {
    const input = h('input', { id: uid('reset-password'), type: 'password', autocomplete: 'new-password', placeholder: 'leave empty to generate one' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h(
      'form',
      { class: 'confirm', novalidate: true, 'aria-label': `Reset the password of ${u.username}` },
      h('div', { class: 'field field-inline' }, h('label', { for: input.id }, `New password for ${u.username}`), input),
      h('button', { type: 'submit', class: 'primary' }, 'Reset password'),
      h('button', { type: 'button', onclick: () => replaceChildren(panel) }, 'Cancel'),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      api
        .resetPassword(u.username, input.value === '' ? undefined : input.value)
        .then((r) => {
          if (r.generatedPassword === undefined) {
            replaceChildren(panel);
            done(`Password of ${u.username} reset; ${r.sessionsEnded} login(s) ended.`);
            return;
          }
          const shown = h('input', { type: 'text', readonly: true, value: r.generatedPassword, class: 'token-value', 'aria-label': `New password of ${u.username}`, 'data-testid': 'generated-password' });
          replaceChildren(
            panel,
            h(
              'div',
              { class: 'confirm' },
              h('p', null, h('strong', null, `New password of ${u.username}:`), ' give it to them now; it is shown only this once.'),
              shown,
              h('button', { type: 'button', onclick: () => replaceChildren(panel) }, 'Done'),
            ),
          );
          shown.select(); // no reload: it would replace this panel (a reset changes nothing the table shows)
          document.dispatchEvent(new Event(ACCOUNTS_CHANGED));
        })
        .catch((err: unknown) => setText(error, describeError(err)));
    });
    replaceChildren(panel, form);
    input.focus();
  }

  const row = (u: Account) => {
    const disabled = u.disabledAt !== null && u.disabledAt !== undefined;
    const act = (label: string, fn: () => void, cls = 'small') => h('button', { type: 'button', class: cls, onclick: fn }, label);
    return h(
      'tr',
      { 'data-user': u.username, class: disabled ? 'is-disabled' : null },
      h('td', null, u.username, u.username === me.username ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', null, u.role),
      h('td', null, formatDateTime(u.createdAt)),
      h('td', null, disabled ? h('span', { class: 'is-warn' }, `disabled ${formatDateTime(u.disabledAt as number)}`) : 'active'),
      h(
        'td',
        { class: 'row-actions' },
        act(disabled ? 'Enable' : 'Disable', () =>
          void api.updateUser(u.username, { disabled: !disabled }).then(() => done(`${u.username} ${disabled ? 'enabled' : 'disabled'}.`), failed(`Could not change ${u.username}`)),
        ),
        act('Reset password', () => askReset(u)),
        act('Revoke sessions', () => void api.revokeSessions(u.username).then((r) => done(`${r.sessionsEnded} login(s) of ${u.username} ended.`), failed('Could not revoke the sessions'))),
        act('Delete', () => askDelete(u, false, `Delete ${u.username}? Their jobs, runs, files and schedules are deleted with the account. This cannot be undone.`), 'small danger-outline'),
      ),
    );
  };
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Users' },
      h('table', { class: 'users-table' }, h('thead', null, h('tr', null, ['User', 'Role', 'Created', 'State', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, users.map(row))),
    ),
    panel,
  );
}

const ACTIONS = ['user.create', 'user.role', 'user.disable', 'user.enable', 'user.delete', 'password.change', 'password.reset', 'sessions.revoke', 'token.create', 'token.revoke', 'login.failed'];

/** The audit log: newest first, filtered by user and action, with a button for older entries. */
export function auditSection(d: Disposer): HTMLElement {
  const user = h('input', { id: uid('audit-user'), name: 'user', type: 'text', placeholder: 'any user', spellcheck: 'false' });
  const action = h('select', { id: uid('audit-action'), name: 'action' }, h('option', { value: '' }, 'any action'), ACTIONS.map((a) => h('option', { value: a }, a)));
  const body = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'small', hidden: true }, 'Older entries');
  let next: number | null = null;

  async function load(append: boolean): Promise<void> {
    try {
      const page = await api.audit({ user: user.value.trim(), action: action.value, before: append ? (next ?? undefined) : undefined, limit: 50 });
      if (d.destroyed) return;
      next = page.next;
      more.hidden = next === null;
      const rows = page.entries.map((e) =>
        h(
          'tr',
          { 'data-audit-id': String(e.id) },
          h('td', null, formatDateTime(e.at)),
          h('td', null, e.actor ?? h('span', { class: 'muted' }, '—')),
          h('td', null, h('code', null, e.action)),
          h('td', null, e.target ?? ''),
          h('td', null, e.address ?? ''),
          h('td', { class: 'audit-details' }, e.details ? Object.entries(e.details).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ') : ''),
        ),
      );
      if (append) body.append(...rows);
      else replaceChildren(body, rows);
      setText(status, body.childElementCount === 0 ? 'No entries.' : '');
    } catch (err) {
      if (!d.destroyed) setText(status, `Could not load the audit log: ${describeError(err)}`);
    }
  }
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log' },
    h('div', { class: 'field field-inline' }, h('label', { for: user.id }, 'User (who or whom)'), user),
    h('div', { class: 'field field-inline' }, h('label', { for: action.id }, 'Action'), action),
    h('button', { type: 'submit', class: 'small' }, 'Show'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load(false);
  });
  action.addEventListener('change', () => void load(false));
  more.addEventListener('click', () => void load(true));
  const changed = () => void load(false);
  document.addEventListener(ACCOUNTS_CHANGED, changed);
  d.add(() => document.removeEventListener(ACCOUNTS_CHANGED, changed));
  void load(false);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, 'Audit log'),
    h('p', { class: 'hint' }, 'Every account change: who did it, to whom, when and from which address. Failed logins are counted per user name, address and hour.'),
    form,
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Audit log' },
      h('table', { class: 'audit-table' }, h('thead', null, h('tr', null, ['When', 'Who', 'Action', 'Whom', 'From', 'Details'].map((t) => h('th', { scope: 'col' }, t)))), body),
    ),
    status,
    more,
  );
}
