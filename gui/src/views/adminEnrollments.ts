/**
 * Admin page section of enrollment tokens (`/api/admin/enrollments`): the form that makes one
 * (name, the `workers` target, an optional labels limit, users limit and expiry); the new token,
 * shown once, with a copy button and the command lines that start a worker with it (labels and
 * slots editable, the command follows); and the list of tokens, each with Revoke (after a
 * confirm; its workers are disconnected, and the workers list is refreshed at once).
 */
import type { EnrollmentCreated, EnrollmentList, EnrollmentRevoked, EnrollmentView } from '../../../src/shared/workersApi.js';
import { ApiError, call } from '../api.js';
import { h, replaceChildren, setText, uid } from '../dom.js';
import { formatDateTime } from '../format.js';
import { describeError, notify } from '../notify.js';
import { loadTargets } from '../targets.js';
import type { Disposer } from './view.js';

export const enrollmentApi = {
  list: () => call<EnrollmentList>('GET', '/api/admin/enrollments'),
  create: (body: Record<string, unknown>) => call<EnrollmentCreated>('POST', '/api/admin/enrollments', body),
  revoke: (id: string) => call<EnrollmentRevoked>('DELETE', `/api/admin/enrollments/${encodeURIComponent(id)}`),
};

/** Where the GUI downloads the agent bundle from (admins; the browser's cookie makes the link work). */
export const AGENT_BUNDLE_URL = '/api/admin/agent-bundle';

const labelsText = (l: Record<string, string> | null): string => (l === null ? 'any' : Object.entries(l).map(([k, v]) => `${k}=${v}`).join(', ') || 'none');

/** "k=v, k2=v2" (commas or spaces between) as an object; the first bad pair as an error. */
export function parseLabelList(text: string): { labels?: Record<string, string>; error?: string } {
  const labels: Record<string, string> = {};
  for (const part of text.split(/[,\s]+/).filter((p) => p !== '')) {
    const m = /^([^=]+)=(.+)$/.exec(part);
    if (!m) return { error: `"${part}" is not key=value` };
    labels[m[1] as string] = m[2] as string;
  }
  return { labels };
}

function stateOf(e: EnrollmentView, now = Date.now()): string {
  if (e.revokedAt !== null) return 'revoked';
  if (e.expiresAt !== null && e.expiresAt <= now) return 'expired';
  return 'active';
}

/** A copy button for the text of `source` (the clipboard API; else the text is selected for Ctrl+C). */
function copyButton(source: () => string, what: string, selectIn: HTMLElement): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'small' }, 'Copy');
  b.setAttribute('aria-label', `Copy ${what}`);
  b.addEventListener('click', () => {
    const text = source();
    const select = () => {
      const r = document.createRange();
      r.selectNodeContents(selectIn);
      const s = window.getSelection();
      s?.removeAllRanges();
      s?.addRange(r);
    };
    if (!navigator.clipboard) {
      select();
      notify(`Press Ctrl+C to copy ${what} (it is selected).`);
      return;
    }
    navigator.clipboard.writeText(text).then(
      () => notify(`Copied ${what}.`, { kind: 'success', timeoutMs: 3000 }),
      () => {
        select();
        notify(`Press Ctrl+C to copy ${what} (it is selected).`);
      },
    );
  });
  return b;
}

function codeBlock(testid: string, what: string, text: () => string): { el: HTMLElement; update: () => void } {
  const code = h('code', { 'data-testid': testid });
  const pre = h('pre', { class: 'command' }, code);
  const update = () => setText(code, text());
  update();
  return { el: h('div', { class: 'command-row' }, pre, copyButton(text, what, code)), update };
}

const shellQuote = (s: string): string => (/^[A-Za-z0-9_.,:@%+=/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The new token, shown once, and the command lines that start a worker with it. */
function tokenPanel(created: EnrollmentCreated, onDone: () => void): HTMLElement {
  const { enrollment: e, token } = created;
  const url = created.agentUrl ?? '<the supervisor agent URL>';
  const fixed = Object.entries(e.labels ?? {}).filter(([, v]) => v !== '*');
  const anyValue = Object.entries(e.labels ?? {}).filter(([, v]) => v === '*').map(([k]) => k);
  const labels = h('input', { id: uid('wlabels'), type: 'text', name: 'workerLabels', value: fixed.map(([k, v]) => `${k}=${v}`).join(','), autocomplete: 'off', spellcheck: 'false' });
  const slots = h('input', { id: uid('wslots'), type: 'number', name: 'workerSlots', min: '1', value: '1' });
  const args = () => {
    const l = labels.value.trim().replace(/\s*,\s*/g, ',');
    const n = Number.parseInt(slots.value, 10);
    return `--enroll ${shellQuote(url)} --token-file worker.token${l ? ` --labels ${shellQuote(l)}` : ''} --slots ${Number.isFinite(n) && n > 0 ? n : 1}`;
  };
  const tokenCode = h('code', { class: 'token', 'data-testid': 'enrollment-token-value' }, token);
  const save = codeBlock('worker-save-token', 'the command that saves the token', () => `umask 077 && printf '%s\\n' ${shellQuote(token)} > worker.token`);
  const cli = codeBlock('worker-command', 'the jobvisor command', () => `jobvisor agent ${args()}`);
  const node = codeBlock('worker-command-bundle', 'the node command', () => `node jobvisor-agent.mjs ${args()}`);
  for (const input of [labels, slots]) input.addEventListener('input', () => [cli, node].forEach((c) => c.update()));
  const loopback = /^wss?:\/\/(127\.|localhost|\[::1\])/.test(url) || url.startsWith('ws+unix:');
  return h(
    'div',
    { class: 'token-panel', 'data-testid': 'enrollment-token', role: 'region', 'aria-label': `New token ${e.name}` },
    h('h3', null, `Token ${e.name} for target ${e.target}`),
    h('p', { class: 'is-warning' }, 'This token is shown only now: jobvisor keeps only its hash. Copy it to the worker’s machine.'),
    h('div', { class: 'command-row' }, h('pre', { class: 'command' }, tokenCode), copyButton(() => token, 'the token', tokenCode)),
    h('p', null, 'On the worker’s machine, save it to a file (mode 0600):'),
    save.el,
    h(
      'div',
      { class: 'param-grid' },
      h('div', { class: 'field' }, h('label', { for: labels.id }, 'Worker labels'), labels, h('p', { class: 'hint' }, `what this worker offers, key=value,...${anyValue.length ? ` (the token allows any value of ${anyValue.join(', ')})` : ''}`)),
      h('div', { class: 'field' }, h('label', { for: slots.id }, 'Slots'), slots, h('p', { class: 'hint' }, 'how many cores’ worth of runs it takes at once')),
    ),
    h('p', null, 'Then start the worker, with a jobvisor checkout:'),
    cli.el,
    h('p', null, 'or with the agent bundle alone (one file; Node 20): ', h('a', { href: AGENT_BUNDLE_URL, download: 'jobvisor-agent.mjs', 'data-testid': 'agent-bundle-link' }, 'download jobvisor-agent.mjs')),
    node.el,
    loopback
      ? h('p', { class: 'hint' }, `${url} is the supervisor’s address on its own machine: for workers elsewhere the site sets agentUrl (JOBVISOR_AGENT_URL) to an address they reach.`)
      : null,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: onDone }, 'Done (hide the token)')),
  );
}

interface Hooks {
  /** Called after a revoke: the workers list shows the change at once. */
  workersChanged: () => void;
}

export function enrollmentsSection(d: Disposer, hooks: Hooks): HTMLElement {
  const id = uid('enroll');
  const name = h('input', { id: `${id}-name`, type: 'text', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'gpu-lab' });
  const target = h('select', { id: `${id}-target`, name: 'target' });
  const labels = h('input', { id: `${id}-labels`, type: 'text', name: 'labels', autocomplete: 'off', spellcheck: 'false', placeholder: 'os=linux,gpu=*' });
  const users = h('input', { id: `${id}-users`, type: 'text', name: 'users', autocomplete: 'off', spellcheck: 'false', placeholder: 'alice,bob' });
  const expires = h('input', { id: `${id}-expires`, type: 'datetime-local', name: 'expiresAt' });
  const field = (input: HTMLInputElement | HTMLSelectElement, label: string, hint: string) => {
    const error = h('p', { class: 'field-error', 'aria-live': 'polite', 'data-field-error': input.name });
    return { el: h('div', { class: 'field', 'data-field': input.name }, h('label', { for: input.id }, label), input, h('p', { class: 'hint' }, hint), error), error };
  };
  const fields = {
    name: field(name, 'Token name', 'letters, digits, "_", "." and "-"'),
    target: field(target, 'Workers target', 'the target of driver workers its workers join'),
    labels: field(labels, 'Labels limit (optional)', 'what its workers may claim, key=value,... ("*": any value); empty: any labels'),
    users: field(users, 'Users limit (optional)', 'whose runs its workers take, comma-separated; empty: everyone’s'),
    expiresAt: field(expires, 'Expires (optional)', 'empty: never'),
  };
  const setError = (f: keyof typeof fields, message: string) => {
    setText(fields[f].error, message);
    fields[f].el.classList.toggle('invalid', message !== '');
  };
  const formError = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'enrollment-form-error' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create token');
  const form = h(
    'form',
    { class: 'enrollment-form', 'data-testid': 'enrollment-form', novalidate: true, 'aria-label': 'New enrollment token' },
    h('div', { class: 'param-grid' }, Object.values(fields).map((f) => f.el)),
    formError,
    h('div', { class: 'actions' }, submit),
  );
  const noTarget = h('p', { class: 'muted', hidden: true, 'data-testid': 'enrollment-no-target' }, 'No target of this site takes enrolled workers: tokens are for a target with "driver": "workers" (README, "Enrolled workers").');
  const created = h('div', { class: 'token-box' });
  const listBox = h('div', { 'data-testid': 'enrollments' }, h('p', { class: 'muted' }, 'Loading the tokens…'));

  const body = (): Record<string, unknown> | undefined => {
    for (const f of Object.keys(fields) as (keyof typeof fields)[]) setError(f, '');
    const b: Record<string, unknown> = { name: name.value.trim() };
    if (b.name === '') setError('name', 'Give the token a name.');
    if (target.value !== '') b.target = target.value;
    const l = parseLabelList(labels.value);
    if (l.error) setError('labels', l.error);
    else if (l.labels && Object.keys(l.labels).length > 0) b.labels = l.labels;
    const u = users.value.split(/[,\s]+/).filter((x) => x !== '');
    if (u.length > 0) b.users = u;
    if (expires.value !== '') {
      const at = new Date(expires.value).getTime();
      if (!Number.isFinite(at) || at <= Date.now()) setError('expiresAt', 'Choose a time in the future.');
      else b.expiresAt = at;
    }
    return form.querySelector('.field.invalid') ? undefined : b;
  };
  const showError = (err: unknown) => {
    let placed = false;
    if (err instanceof ApiError && err.code === 'INVALID_INPUT') {
      for (const issue of err.issues) {
        const f = issue.path[0];
        if (typeof f === 'string' && f in fields) {
          setError(f as keyof typeof fields, `${issue.path.slice(1).join('.')}${issue.path.length > 1 ? ': ' : ''}${issue.message}`);
          placed = true;
        }
      }
      if (!placed && /expiresAt/.test(err.message)) placed = (setError('expiresAt', err.message), true);
      if (!placed && /target/.test(err.message)) placed = (setError('target', err.message), true);
    }
    setText(formError, placed ? 'The server refused the token: see the marked fields.' : `The token was not made: ${describeError(err)}`);
  };

  let rows: EnrollmentView[] = [];
  const revokeButton = (e: EnrollmentView) => {
    const b = h('button', { type: 'button', class: 'small danger-outline' }, 'Revoke');
    b.setAttribute('aria-label', `Revoke ${e.name}`);
    b.addEventListener('click', () => {
      const workers = e.connectedWorkers === 1 ? 'Its connected worker is' : `Its ${e.connectedWorkers} connected workers are`;
      if (!window.confirm(`Revoke token ${e.name}? ${workers} disconnected now (their running runs end as error), and refused when they come back.`)) return;
      b.disabled = true;
      enrollmentApi.revoke(e.id).then(
        (r) => {
          notify(`Revoked ${r.enrollment.name}${r.disconnected ? `; ${r.disconnected} worker${r.disconnected === 1 ? '' : 's'} disconnected` : ''}.`, { kind: 'success', timeoutMs: 6000 });
          hooks.workersChanged();
          void refresh();
        },
        (err: unknown) => {
          b.disabled = false;
          notify(`Revoke ${e.name}: ${describeError(err)}`, { kind: 'error' });
        },
      );
    });
    return b;
  };
  const row = (e: EnrollmentView) =>
    h(
      'tr',
      { 'data-enrollment': e.name, 'data-enrollment-id': e.id, 'data-state': stateOf(e) },
      h('td', null, e.name),
      h('td', null, e.target),
      h('td', { class: 'enrollment-labels' }, labelsText(e.labels)),
      h('td', null, e.users === null ? 'everyone' : e.users.join(', ')),
      h('td', null, formatDateTime(e.createdAt), h('span', { class: 'muted' }, ` by ${e.createdBy}`)),
      h('td', null, e.expiresAt === null ? 'never' : formatDateTime(e.expiresAt)),
      h('td', { class: 'enrollment-state' }, stateOf(e) === 'revoked' ? `revoked ${formatDateTime(e.revokedAt)}` : stateOf(e)),
      h('td', { class: 'num enrollment-workers' }, String(e.connectedWorkers)),
      h('td', null, stateOf(e) === 'revoked' ? null : revokeButton(e)),
    );
  const render = () => {
    if (rows.length === 0) {
      replaceChildren(listBox, h('p', { class: 'muted' }, 'No enrollment tokens yet.'));
      return;
    }
    const head = ['Name', 'Target', 'Labels limit', 'Users', 'Created', 'Expires', 'State', 'Workers', ''];
    replaceChildren(
      listBox,
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Enrollment tokens' },
        h('table', { class: 'enrollments-table' }, h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, rows.map(row)))),
    );
  };
  async function refresh(): Promise<void> {
    try {
      const r = await enrollmentApi.list();
      if (d.destroyed) return;
      rows = [...r.enrollments].sort((a, b) => b.createdAt - a.createdAt);
      render();
    } catch (err) {
      if (!d.destroyed) replaceChildren(listBox, h('p', { class: 'error' }, describeError(err)));
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setText(formError, '');
    const b = body();
    if (!b) {
      setText(formError, 'Nothing was sent: see the marked fields.');
      return;
    }
    submit.disabled = true;
    enrollmentApi
      .create(b)
      .then((r) => {
        replaceChildren(created, tokenPanel(r, () => replaceChildren(created)));
        form.reset();
        void refresh();
      }, showError)
      .finally(() => (submit.disabled = false));
  });

  void loadTargets().then((ts) => {
    if (d.destroyed) return;
    const workers = (ts ?? []).filter((t) => t.driver === 'workers');
    replaceChildren(target, workers.map((t) => h('option', { value: t.name }, `${t.title} (${t.name})`)));
    fields.target.el.hidden = workers.length <= 1;
    // Without a workers target a token would be refused: say so instead of offering the form.
    form.hidden = ts !== null && workers.length === 0;
    noTarget.hidden = !form.hidden;
  });
  d.interval(() => void refresh(), 5000);
  void refresh();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, 'Enrollment tokens'),
    h('p', { class: 'muted' }, 'Anyone holding a token can start a worker that joins a workers target. Revoking a token disconnects its workers.'),
    noTarget,
    form,
    created,
    listBox,
  );
}
