/** The caller's e-mail settings: an address, and when to be e-mailed of a run's end (never, long runs, always). */
import { api } from '../api.js';
import { h, setText, uid } from '../dom.js';
import { describeError } from '../notify.js';
import type { Disposer } from './view.js';

export function emailSettingsSection(d: Disposer): HTMLElement {
  const email = h('input', { id: uid('settings-email'), name: 'email', type: 'email', autocomplete: 'email', placeholder: 'you@example.org' });
  const when = h(
    'select',
    { id: uid('settings-notify'), name: 'notifyOnEnd' },
    h('option', { value: 'never' }, 'never'),
    h('option', { value: 'long' }, 'when a long run ends'),
    h('option', { value: 'always' }, 'when any run ends'),
  );
  const error = h('p', { class: 'form-error', role: 'alert' });
  const saved = h('span', { class: 'action-status is-ok', role: 'status', 'data-testid': 'settings-status' });
  const form = h(
    'form',
    { class: 'settings-form', novalidate: true, 'aria-label': 'E-mail settings' },
    h('div', { class: 'field field-inline' }, h('label', { for: email.id }, 'E-mail address'), email),
    h('div', { class: 'field field-inline' }, h('label', { for: when.id }, 'E-mail me'), when),
    h('button', { type: 'submit' }, 'Save'),
    saved,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setText(error, '');
    setText(saved, '');
    const address = email.value.trim();
    if (address !== '' && !email.checkValidity()) {
      setText(error, 'That is not an e-mail address.');
      email.focus();
      return;
    }
    api
      .saveSettings({ email: address === '' ? null : address, notifyOnEnd: when.value as 'never' | 'long' | 'always' })
      .then(() => setText(saved, 'Saved.')) // next to the button, where the user looks
      .catch((err: unknown) => setText(error, describeError(err)));
  });
  // Until the stored values are in, the form takes no input: a late answer would undo the typing.
  const controls = [email, when, form.querySelector('button')!];
  for (const c of controls) c.disabled = true;
  void api
    .settings()
    .then((s) => {
      if (d.destroyed) return;
      email.value = s.email ?? '';
      when.value = s.notifyOnEnd;
    })
    .catch((err: unknown) => !d.destroyed && setText(error, `Could not load your settings: ${describeError(err)}`))
    .finally(() => {
      for (const c of controls) c.disabled = false;
    });
  return h('section', { class: 'card', 'aria-labelledby': 'email-settings-title' }, h('h2', { id: 'email-settings-title' }, 'E-mail notifications'), form);
}
