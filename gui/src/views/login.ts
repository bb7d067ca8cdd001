/** The login page: user name and password; the server answers with the login cookie. */
import { api, ApiError } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { describeError } from '../notify.js';
import type { User } from '../types.js';

export function loginView(onLoggedIn: (user: User) => void, message?: string): { el: HTMLElement; title: string; destroy(): void } {
  const username = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'login-form card', novalidate: true },
    h('h1', null, 'Log in to jobvisor'),
    message ? h('p', { class: 'notice notice-info', role: 'status' }, message) : null,
    h('div', { class: 'field' }, h('label', { for: username.id }, 'User name'), username),
    h('div', { class: 'field' }, h('label', { for: password.id }, 'Password'), password),
    error,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    replaceChildren(error);
    if (username.value.trim() === '' || password.value === '') {
      replaceChildren(error, 'Enter your user name and password.');
      (username.value.trim() === '' ? username : password).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    api
      .login(username.value.trim(), password.value)
      .then((user) => {
        password.value = '';
        onLoggedIn(user);
      })
      .catch((err: unknown) => {
        const text =
          err instanceof ApiError && (err.code === 'INVALID_CREDENTIALS' || err.code === 'INVALID_INPUT')
            ? 'Wrong user name or password.'
            : describeError(err);
        replaceChildren(error, text);
        password.select();
        password.focus();
      })
      .finally(() => {
        submit.disabled = false;
        submit.textContent = 'Log in';
      });
  });
  const el = h('section', { class: 'login-page' }, form);
  queueMicrotask(() => username.focus());
  return { el, title: 'Log in', destroy: () => undefined };
}
