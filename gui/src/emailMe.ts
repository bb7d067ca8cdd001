/** The run form's "E-mail me when this run ends" box (the address is the one of the user's e-mail settings). */
import { h, uid } from './dom.js';

export function emailMeField(): { el: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { id: uid('email-me'), name: 'notifyEmail', type: 'checkbox' });
  const el = h(
    'div',
    { class: 'field field-check' },
    h('label', { for: input.id }, input, ' E-mail me when this run ends'),
    h('p', { class: 'hint' }, 'At the address of your e-mail settings (below the form).'),
  );
  return { el, input };
}
