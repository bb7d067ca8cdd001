/**
 * Logging in to a target that needs one (a cluster) with the user's own account there: a
 * <dialog> titled after the target, naming its login node, asking for the user name, password
 * and one-time code (POST /api/targets/<name>/login). The password and code are sent once and
 * cleared from the form right after; nothing is kept.
 */
import { api, ApiError } from './api.js';
import { h, replaceChildren, uid } from './dom.js';
import { describeError } from './notify.js';
import { loadTargets, targetOf, withLogin } from './targets.js';
import type { TargetStatus } from './types.js';

interface LoginTarget {
  name: string;
  title: string;
  host: string | null;
}

function loginErrorText(err: unknown, t: LoginTarget): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'CLUSTER_CREDENTIALS_REFUSED':
        return `Invalid credentials: ${t.title} refused the user name, password or one-time code. Check them (a one-time code is only valid for a short time) and try again.`;
      case 'HOST_KEY_MISMATCH':
        return `The login node of ${t.title} did not identify itself as expected (host key mismatch), so nothing was sent. Tell the administrator. (${err.message})`;
      case 'CLUSTER_UNREACHABLE':
        return `The login node of ${t.title} does not answer. Try again later. (${err.message})`;
      case 'INVALID_INPUT':
        return 'Check the marked fields.';
      default:
        return describeError(err);
    }
  }
  return describeError(err);
}

/** The target to log in to, as the page knows it (its title and login node), reading the targets if need be. */
async function loginTarget(name: string): Promise<LoginTarget> {
  const t = targetOf(name) ?? (await loadTargets(), targetOf(name));
  return t ? { name: t.name, title: t.title, host: t.host } : { name, title: name, host: null };
}

/**
 * Opens the login dialog of a target; resolves with its status once the user is logged in, or
 * null when they close it. `why` says why it opened (e.g. "This run needs your login there").
 */
export async function openTargetLogin(targetName: string, why?: string): Promise<TargetStatus | null> {
  const t = await loginTarget(targetName);
  return new Promise((resolve) => {
    const id = uid('target-login');
    const field = (name: string, label: string, attrs: Record<string, string>, hint?: string) => {
      const describedBy = hint ? `${id}-${name}-hint ${id}-${name}-error` : `${id}-${name}-error`;
      const input = h('input', { id: `${id}-${name}`, name, required: true, 'aria-describedby': describedBy, ...attrs });
      const error = h('p', { class: 'field-error', id: `${id}-${name}-error` });
      return {
        input,
        error,
        el: h('div', { class: 'field' }, h('label', { for: `${id}-${name}` }, label), input, hint ? h('p', { class: 'hint', id: `${id}-${name}-hint` }, hint) : null, error),
      };
    };
    const user = field('username', 'Cluster user name', { type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }, `your own account on ${t.title}`);
    const password = field('password', 'Password', { type: 'password', autocomplete: 'current-password' });
    const otp = field('otp', 'One-time code', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}' }, '6 to 8 digits from your authenticator app');
    const message = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'target-login-error' });
    const submitText = 'Log in';
    const submit = h('button', { type: 'submit', class: 'primary' }, submitText);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h(
      'form',
      { method: 'dialog', class: 'dialog-form', novalidate: true },
      h('h2', { id: `${id}-title` }, `Log in to ${t.title}`),
      h('p', null, why ?? `Runs on ${t.title} go under your own account there.`),
      t.host ? h('p', { class: 'login-host', 'data-testid': 'target-login-host' }, 'Login node: ', h('code', null, t.host)) : null,
      user.el,
      password.el,
      otp.el,
      message,
      h('div', { class: 'actions' }, submit, cancel),
    );
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title`, 'data-testid': 'target-login', 'data-target': t.name }, form);
    let done = false;
    const finish = (status: TargetStatus | null) => {
      if (done) return;
      done = true;
      password.input.value = '';
      otp.input.value = '';
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(status);
    };
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('close', () => finish(null));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      for (const f of [user, password, otp]) {
        replaceChildren(f.error);
        f.input.removeAttribute('aria-invalid');
      }
      replaceChildren(message);
      const problems: [typeof user, string][] = [];
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user.input.value)) problems.push([user, 'A cluster user name: lower-case letters, digits, "_" and "-".']);
      if (password.input.value === '') problems.push([password, 'Enter your password.']);
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
        .targetLogin(t.name, user.input.value, password.input.value, otp.input.value)
        .then((s) => {
          const view = targetOf(t.name);
          if (view) withLogin(view, s);
          if (s.loggedIn) finish(s);
          else replaceChildren(message, `The login went through but no agent of yours runs on ${t.title} (state: ${s.state ?? 'none'}). Try again.`);
        })
        .catch((err: unknown) => {
          replaceChildren(message, loginErrorText(err, t));
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
          submit.textContent = submitText;
        });
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    user.input.focus();
  });
}
