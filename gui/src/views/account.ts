/**
 * The Account page (#/account): change the password, the e-mail settings, and API tokens for
 * scripts (create: the token is shown once, with a copy button; list; revoke).
 */
import { api, ApiError } from '../api.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { agoCell, formatDateTime } from '../format.js';
import { describeError, notify } from '../notify.js';
import { emailSettingsSection } from './emailSettings.js';
import { Disposer, type View, type ViewContext } from './view.js';

export function accountView(ctx: ViewContext): View {
  const d = new Disposer();
  const el = h(
    'div',
    { class: 'page account-page' },
    h('section', { class: 'card' }, h('h1', null, 'Your account'), h('p', null, 'Logged in as ', h('strong', null, ctx.user.username), ` (${ctx.user.role}).`)),
    passwordSection(),
    emailSettingsSection(d),
    tokensSection(d),
  );
  return { el, title: 'Account', destroy: () => d.dispose() };
}

function field(label: string, input: HTMLElement & { id: string }): HTMLElement {
  return h('div', { class: 'field field-inline' }, h('label', { for: input.id }, label), input);
}

function passwordSection(): HTMLElement {
  const current = h('input', { id: uid('current-password'), name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: uid('new-password'), name: 'newPassword', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { id: uid('new-password-again'), name: 'newPasswordAgain', type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'settings-form password-form', novalidate: true, 'aria-label': 'Change your password' },
    field('Current password', current),
    field('New password', next),
    field('New password again', again),
    h('button', { type: 'submit' }, 'Change password'),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setText(error, '');
    if (next.value !== again.value) {
      setText(error, 'The two new passwords differ.');
      again.focus();
      return;
    }
    api
      .changePassword(current.value, next.value)
      .then((r) => {
        form.reset();
        notify(`Password changed. ${r.sessionsEnded === 0 ? 'You had no other logins.' : `Your ${r.sessionsEnded} other login(s) ended.`}`, { kind: 'success', timeoutMs: 8000 });
      })
      .catch((err: unknown) => {
        setText(error, err instanceof ApiError && err.code === 'WRONG_PASSWORD' ? 'The current password is wrong.' : describeError(err));
        (err instanceof ApiError && err.code === 'WRONG_PASSWORD' ? current : next).focus();
      });
  });
  return h('section', { class: 'card', 'aria-labelledby': 'password-title' }, h('h2', { id: 'password-title' }, 'Password'), form);
}

function tokensSection(d: Disposer): HTMLElement {
  const name = h('input', { id: uid('token-name'), name: 'name', type: 'text', maxlength: '64', placeholder: 'e.g. nightly submit script', required: true });
  const scope = h('select', { id: uid('token-scope'), name: 'scope' }, h('option', { value: 'read' }, 'read only (GET routes)'), h('option', { value: 'full' }, 'full (may run and cancel jobs)'));
  const days = h('input', { id: uid('token-days'), name: 'expiresInDays', type: 'number', min: '1', step: '1', placeholder: 'the site’s longest' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const created = h('div', { class: 'token-created', role: 'status', 'data-testid': 'token-created' });
  const list = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const form = h(
    'form',
    { class: 'settings-form token-form', novalidate: true, 'aria-label': 'Create an API token' },
    field('Name', name),
    field('Scope', scope),
    field('Valid for (days)', days),
    h('button', { type: 'submit' }, 'Create token'),
    error,
  );

  async function load(): Promise<void> {
    try {
      const tokens = await api.tokens();
      if (d.destroyed) return;
      if (tokens.length === 0) {
        replaceChildren(list, h('p', { class: 'muted' }, 'You have no API tokens.'));
        return;
      }
      const rows = tokens.map((t) =>
        h(
          'tr',
          { 'data-token-id': t.tokenId },
          h('td', null, t.name),
          h('td', null, t.scope),
          h('td', null, h('code', null, `${t.prefix}…`)),
          h('td', { title: formatDateTime(t.createdAt) }, agoCell(t.createdAt)),
          h('td', { title: t.lastUsedAt ? formatDateTime(t.lastUsedAt) : '' }, t.lastUsedAt ? agoCell(t.lastUsedAt) : 'never', t.lastUsedFrom ? h('span', { class: 'muted' }, ` from ${t.lastUsedFrom}`) : null),
          h('td', null, formatDateTime(t.expiresAt)),
          h('td', null, h('button', { type: 'button', class: 'small danger-outline', onclick: (e: Event) => void revoke(t.tokenId, t.name, e.currentTarget as HTMLButtonElement) }, 'Revoke')),
        ),
      );
      replaceChildren(
        list,
        h(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'API tokens' },
          h('table', { class: 'tokens-table' }, h('thead', null, h('tr', null, ['Name', 'Scope', 'Starts with', 'Created', 'Last used', 'Expires', ''].map((x) => h('th', { scope: 'col' }, x)))), h('tbody', null, rows)),
        ),
      );
    } catch (err) {
      if (!d.destroyed) replaceChildren(list, h('p', { class: 'is-error' }, `Could not load your tokens: ${describeError(err)}`));
    }
  }

  async function revoke(tokenId: string, tokenName: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await api.revokeToken(tokenId);
      notify(`Token “${tokenName}” revoked: it no longer works.`, { kind: 'success', timeoutMs: 6000 });
    } catch (err) {
      notify(`Could not revoke “${tokenName}”: ${describeError(err)}`, { kind: 'error' });
    }
    await load();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setText(error, '');
    if (name.value.trim() === '') {
      setText(error, 'Give the token a name, to tell it apart later.');
      name.focus();
      return;
    }
    const n = days.value === '' ? undefined : Number(days.value);
    api
      .createToken(name.value.trim(), scope.value as 'read' | 'full', n)
      .then((r) => {
        form.reset();
        showCreated(r.token, r.tokenInfo.name);
        void load();
      })
      .catch((err: unknown) => setText(error, describeError(err)));
  });

  function showCreated(token: string, tokenName: string): void {
    const value = h('input', { type: 'text', readonly: true, value: token, class: 'token-value', 'aria-label': `The new token ${tokenName}`, 'data-testid': 'new-token' });
    const copied = h('span', { class: 'muted', role: 'status' });
    const copy = h('button', {
      type: 'button',
      class: 'small',
      onclick: () => {
        value.select();
        navigator.clipboard
          .writeText(token)
          .then(() => setText(copied, 'Copied.'))
          .catch(() => setText(copied, 'Select the text and copy it (Ctrl+C).'));
      },
    }, 'Copy');
    replaceChildren(
      created,
      h('p', null, h('strong', null, `Token “${tokenName}” created.`), ' Copy it now: it is shown only this once (jobvisor keeps only its hash).'),
      h('div', { class: 'token-row' }, value, copy, copied),
      h('p', { class: 'hint' }, 'Scripts send it as the header ', h('code', null, 'Authorization: Bearer <token>'), ' (the CLI: --token or JOBVISOR_TOKEN).'),
      h('button', { type: 'button', class: 'small', onclick: () => replaceChildren(created) }, 'Done, hide it'),
    );
    value.focus();
    value.select();
  }

  void load();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'tokens-title' },
    h('h2', { id: 'tokens-title' }, 'API tokens'),
    h('p', { class: 'hint' }, 'For scripts and the command line. A read-only token may only read (GET); a full one may also run, cancel and delete your jobs. Neither can change your password or make more tokens.'),
    form,
    created,
    list,
  );
}
