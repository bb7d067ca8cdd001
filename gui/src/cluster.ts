/**
 * Logging in to the Slurm cluster with the user's own cluster account: a <dialog> asking for the
 * cluster user name, password and one-time code (POST /api/cluster/login). The password and
 * code are sent once and cleared from the form right after; nothing is kept.
 */
import { api, ApiError } from './api.js';
import { h, replaceChildren, uid } from './dom.js';
import { describeError } from './notify.js';
import { formatTime } from './format.js';
import type { ClusterStatus } from './types.js';

function clusterErrorText(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'CLUSTER_CREDENTIALS_REFUSED':
        return 'Invalid credentials: the cluster refused the user name, password or one-time code. Check them (a one-time code is only valid for a short time) and try again.';
      case 'HOST_KEY_MISMATCH':
        return `The cluster's login node did not identify itself as expected (host key mismatch), so nothing was sent. Tell the administrator. (${err.message})`;
      case 'CLUSTER_UNREACHABLE':
        return `The cluster's login node does not answer. Try again later. (${err.message})`;
      case 'INVALID_INPUT':
        return 'Check the marked fields.';
      default:
        return describeError(err);
    }
  }
  return describeError(err);
}

/**
 * Opens the dialog; resolves true once the user is logged in to the cluster, false when they
 * close it. `why` says why it opened (e.g. "This run needs a cluster login").
 */
export function openClusterLogin(why?: string, status?: ClusterStatus): Promise<boolean> {
  return new Promise((resolve) => {
    const id = uid('cluster');
    const field = (name: string, label: string, attrs: Record<string, string>, hint?: string) => {
      const input = h('input', { id: `${id}-${name}`, name, required: true, 'aria-describedby': `${id}-${name}-error`, ...attrs });
      const error = h('p', { class: 'field-error', id: `${id}-${name}-error` });
      return { input, error, el: h('div', { class: 'field' }, h('label', { for: `${id}-${name}` }, label), input, hint ? h('p', { class: 'hint' }, hint) : null, error) };
    };
    const user = field('username', 'Cluster user name', { type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
    const password = field('password', 'Password', { type: 'password', autocomplete: 'current-password' });
    const otp = field('otp', 'One-time code', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}' }, '6 to 8 digits from your authenticator app');
    const message = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'cluster-login-error' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in to the cluster');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h(
      'form',
      { method: 'dialog', class: 'dialog-form', novalidate: true },
      h('h2', { id: `${id}-title` }, 'Log in to the cluster'),
      h('p', null, why ?? 'Runs on the Slurm cluster go under your own cluster account.', status?.host ? ` Login node: ${status.host}.` : ''),
      user.el,
      password.el,
      otp.el,
      message,
      h('div', { class: 'actions' }, submit, cancel),
    );
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title`, 'data-testid': 'cluster-login' }, form);
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      password.input.value = '';
      otp.input.value = '';
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(ok);
    };
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('close', () => finish(false));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      for (const f of [user, password, otp]) {
        replaceChildren(f.error);
        f.input.removeAttribute('aria-invalid');
      }
      replaceChildren(message);
      const problems: [typeof user, string][] = [];
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user.input.value)) problems.push([user, 'A cluster user name: lower-case letters, digits, "_" and "-".']);
      if (password.input.value === '') problems.push([password, 'Enter your cluster password.']);
      if (otp.input.value !== '' && !/^[0-9]{6,8}$/.test(otp.input.value)) problems.push([otp, 'The code has 6 to 8 digits.']);
      if (problems.length > 0) {
        for (const [f, text] of problems) {
          replaceChildren(f.error, text);
          f.input.setAttribute('aria-invalid', 'true');
        }
        problems[0]?.[0].input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Logging in…';
      api
        .clusterLogin(user.input.value, password.input.value, otp.input.value)
        .then((s) => {
          if (s.loggedIn) finish(true);
          else replaceChildren(message, `The login went through but no agent runs on the cluster (state: ${s.state ?? 'none'}). Try again.`);
        })
        .catch((err: unknown) => {
          replaceChildren(message, clusterErrorText(err));
          if (err instanceof ApiError && err.code === 'CLUSTER_CREDENTIALS_REFUSED') {
            password.input.value = '';
            otp.input.value = '';
            password.input.focus();
          }
          if (err instanceof ApiError) {
            for (const issue of err.issues) {
              const f = { username: user, password, otp }[String(issue.path[0])];
              if (f) {
                replaceChildren(f.error, issue.message);
                f.input.setAttribute('aria-invalid', 'true');
              }
            }
          }
        })
        .finally(() => {
          submit.disabled = false;
          submit.textContent = 'Log in to the cluster';
        });
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    user.input.focus();
  });
}

/** A line saying whether the user is logged in to the cluster, and until when. */
export function clusterStatusText(s: ClusterStatus): string {
  if (!s.configured) return 'No cluster is configured.';
  if (!s.loggedIn) return `Not logged in to the cluster${s.host ? ` (${s.host})` : ''}.`;
  return `Logged in to the cluster${s.host ? ` (${s.host})` : ''}${s.expiresAt ? ` until ${formatTime(s.expiresAt)}` : ''}.`;
}
