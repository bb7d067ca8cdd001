/**
 * Logging in to a target that needs one (a cluster) with the user's own account there: a
 * <dialog> titled after the target, naming its login node, asking for the user name and then,
 * as the user chooses, the password and one-time code or a private key file (and its passphrase,
 * if it has one) (POST /api/targets/<name>/login). Only the chosen way's fields are checked and
 * sent. The key file is read here, in the browser (File.text()), and its text goes only into
 * that request. The password, code, key and passphrase are sent once and cleared from the form
 * right after; nothing is kept.
 */
import { api, ApiError } from './api.js';
import { h, replaceChildren, uid } from './dom.js';
import { describeError } from './notify.js';
import { loadTargets, targetOf, withLogin } from './targets.js';
import type { TargetLoginBody, TargetStatus } from './types.js';

interface LoginTarget {
  name: string;
  title: string;
  host: string | null;
}

type Method = 'password' | 'key';

/** The API's limits of a key login (TargetLoginBody). */
const MAX_KEY_CHARS = 16_384;
const MAX_PASSPHRASE_CHARS = 1024;

function loginErrorText(err: unknown, t: LoginTarget, method: Method): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'CLUSTER_CREDENTIALS_REFUSED':
        return method === 'key'
          ? `Invalid credentials: ${t.title} refused the user name or the private key. Check that your account there accepts this key (its public key is in ~/.ssh/authorized_keys there) and try again.`
          : `Invalid credentials: ${t.title} refused the user name, password or one-time code. Check them (a one-time code is only valid for a short time) and try again.`;
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

/** Whether a private key's text has a "-----BEGIN … PRIVATE KEY-----" line (OpenSSH, PKCS#1, PKCS#8, SEC1). */
function looksLikePrivateKey(text: string): boolean {
  return /^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\s*$/m.test(text);
}

/**
 * Whether a private key is protected by a passphrase, as far as its text tells: an encrypted
 * PEM key says so in its header; an OpenSSH key names its cipher ("none" when it has no
 * passphrase) right after its magic. False when it cannot tell.
 */
function keyIsEncrypted(text: string): boolean {
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----/m.test(text) || /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(text)) return true;
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text)?.[1];
  if (body === undefined) return false;
  let head: string;
  try {
    head = atob(body.replace(/\s+/g, '').slice(0, 64)); // 48 bytes: the magic, the cipher name's length and the name
  } catch {
    return false;
  }
  const magic = 'openssh-key-v1\0';
  if (!head.startsWith(magic) || head.length < magic.length + 4) return false;
  const at = magic.length;
  const length = ((head.charCodeAt(at) << 24) | (head.charCodeAt(at + 1) << 16) | (head.charCodeAt(at + 2) << 8) | head.charCodeAt(at + 3)) >>> 0;
  const cipher = head.slice(at + 4, at + 4 + length);
  return cipher.length === length && cipher !== 'none';
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
    const field = (name: string, label: string, attrs: Record<string, string | boolean>, hint?: string) => {
      const describedBy = hint ? `${id}-${name}-hint ${id}-${name}-error` : `${id}-${name}-error`;
      const input = h('input', { id: `${id}-${name}`, name, required: true, 'aria-describedby': describedBy, ...attrs });
      const error = h('p', { class: 'field-error', id: `${id}-${name}-error` });
      return {
        input,
        error,
        el: h('div', { class: 'field' }, h('label', { for: `${id}-${name}` }, label), input, hint ? h('p', { class: 'hint', id: `${id}-${name}-hint` }, hint) : null, error),
      };
    };
    type Field = ReturnType<typeof field>;
    const user = field('username', 'Cluster user name', { type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }, `your own account on ${t.title}`);
    const password = field('password', 'Password', { type: 'password', autocomplete: 'current-password' });
    const otp = field('otp', 'One-time code', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}' }, '6 to 8 digits from your authenticator app');
    const keyFile = field('privateKey', 'Private key file', { type: 'file' }, 'the private key itself, e.g. ~/.ssh/id_ed25519 (not the .pub file); it is read in this browser and sent only for this login');
    const passphrase = field('passphrase', 'Key passphrase', { type: 'password', autocomplete: 'off', required: false }, 'only if the key has one');
    const fields: Record<Method, Field[]> = { password: [password, otp], key: [keyFile, passphrase] };

    // The way to log in: a radio group (WAI-ARIA radio pattern: Tab reaches the chosen one, the
    // arrow keys, Home and End choose another). Its options are buttons, named by their text.
    const methodLabel = h('span', { class: 'field-label', id: `${id}-method-label` }, 'Log in with');
    const option = (value: Method, text: string) =>
      h('button', { type: 'button', role: 'radio', 'data-method': value, 'aria-checked': value === 'password' ? 'true' : 'false', tabindex: value === 'password' ? 0 : -1 }, text);
    const options: Record<Method, HTMLButtonElement> = { password: option('password', 'Password and one-time code'), key: option('key', 'Private key') };
    const order: Method[] = ['password', 'key'];
    const groups: Record<Method, HTMLElement> = {
      password: h('div', { class: 'login-fields', id: `${id}-by-password` }, password.el, otp.el),
      key: h('div', { class: 'login-fields', id: `${id}-by-key`, hidden: true }, keyFile.el, passphrase.el),
    };
    for (const m of order) options[m].setAttribute('aria-controls', groups[m].id);
    const methodGroup = h('div', { role: 'radiogroup', class: 'segmented', 'aria-labelledby': `${id}-method-label`, 'data-testid': 'target-login-method' }, options.password, options.key);
    let method: Method = 'password';

    const clearField = (f: Field) => {
      replaceChildren(f.error);
      f.input.removeAttribute('aria-invalid');
    };
    const choose = (m: Method, focus: boolean) => {
      if (focus) options[m].focus();
      if (m === method) return;
      method = m;
      for (const x of order) {
        options[x].setAttribute('aria-checked', x === m ? 'true' : 'false');
        options[x].tabIndex = x === m ? 0 : -1;
        groups[x].hidden = x !== m;
      }
      for (const f of [...fields.password, ...fields.key]) clearField(f);
      replaceChildren(message);
    };
    for (const m of order) options[m].addEventListener('click', () => choose(m, true));
    keyFile.input.addEventListener('change', () => clearField(keyFile)); // another file: the old one's message no longer holds
    methodGroup.addEventListener('keydown', (e) => {
      const i = order.indexOf(method);
      const next = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: order.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      choose(order[(next + order.length) % order.length] ?? method, true);
    });

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
      h('div', { class: 'field' }, methodLabel, methodGroup),
      groups.password,
      groups.key,
      message,
      h('div', { class: 'actions' }, submit, cancel),
    );
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title`, 'data-testid': 'target-login', 'data-target': t.name }, form);
    let done = false;
    /** Forgets the secrets the form holds: the password and code, the chosen key file and its passphrase. */
    const clearSecrets = () => {
      password.input.value = '';
      otp.input.value = '';
      keyFile.input.value = '';
      passphrase.input.value = '';
    };
    const finish = (status: TargetStatus | null) => {
      if (done) return;
      done = true;
      clearSecrets();
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(status);
    };
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('close', () => finish(null));

    /** The key file's text, or what is wrong with the file. */
    const readKey = async (file: File): Promise<{ text: string } | { problem: string }> => {
      const tooBig = `This file is too big for a private key (more than ${MAX_KEY_CHARS} characters). Choose your private key file, e.g. id_ed25519.`;
      if (file.size > 4 * MAX_KEY_CHARS) return { problem: tooBig }; // not even read
      let text: string;
      try {
        text = await file.text();
      } catch (err) {
        return { problem: `The file could not be read (${err instanceof Error ? err.message : String(err)}). Choose it again.` };
      }
      if (text.length > MAX_KEY_CHARS) return { problem: tooBig };
      if (!looksLikePrivateKey(text)) {
        return { problem: 'This file is not a private key (it has no "BEGIN … PRIVATE KEY" line). Choose the private key itself, e.g. id_ed25519, not the public key (.pub).' };
      }
      return { text };
    };

    const attempt = async () => {
      for (const f of [user, password, otp, keyFile, passphrase]) clearField(f);
      replaceChildren(message);
      const by = method;
      const problems: [Field, string][] = [];
      const username = user.input.value;
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(username)) problems.push([user, 'A cluster user name: lower-case letters, digits, "_" and "-".']);
      let credentials: TargetLoginBody | undefined;
      if (by === 'password') {
        if (password.input.value === '') problems.push([password, 'Enter your password.']);
        if (otp.input.value !== '' && !/^[0-9]{6,8}$/.test(otp.input.value)) problems.push([otp, 'The code has 6 to 8 digits.']);
        credentials = otp.input.value === '' ? { username, password: password.input.value } : { username, password: password.input.value, otp: otp.input.value };
      } else {
        const file = keyFile.input.files?.[0];
        let privateKey: string | undefined;
        if (!file) problems.push([keyFile, 'Choose your private key file.']);
        else {
          submit.disabled = true; // while the file is read
          const read = await readKey(file);
          submit.disabled = false;
          if (done) return;
          if ('problem' in read) problems.push([keyFile, read.problem]);
          else privateKey = read.text;
        }
        const phrase = passphrase.input.value;
        if (phrase.length > MAX_PASSPHRASE_CHARS) problems.push([passphrase, `A passphrase has at most ${MAX_PASSPHRASE_CHARS} characters.`]);
        else if (phrase === '' && privateKey !== undefined && keyIsEncrypted(privateKey)) problems.push([passphrase, 'This key is protected by a passphrase: enter it.']);
        if (privateKey !== undefined) credentials = phrase === '' ? { username, privateKey } : { username, privateKey, passphrase: phrase };
      }
      if (problems.length > 0 || credentials === undefined) {
        for (const [f, text] of problems) {
          replaceChildren(f.error, text);
          f.input.setAttribute('aria-invalid', 'true');
        }
        problems[0]?.[0].input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Logging in…';
      try {
        const s = await api.targetLogin(t.name, credentials);
        const view = targetOf(t.name);
        if (view) withLogin(view, s);
        if (s.loggedIn) finish(s);
        else replaceChildren(message, `The login went through but no agent of yours runs on ${t.title} (state: ${s.state ?? 'none'}). Try again.`);
      } catch (err) {
        replaceChildren(message, loginErrorText(err, t, by));
        if (err instanceof ApiError && err.code === 'CLUSTER_CREDENTIALS_REFUSED') {
          clearSecrets();
          (by === 'key' ? keyFile : password).input.focus();
        }
        if (err instanceof ApiError) {
          for (const issue of err.issues) {
            const f = { username: user, password, otp, privateKey: keyFile, passphrase }[String(issue.path[0])];
            if (f) {
              replaceChildren(f.error, issue.message);
              f.input.setAttribute('aria-invalid', 'true');
            }
          }
        }
      } finally {
        submit.disabled = false;
        submit.textContent = submitText;
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!submit.disabled) void attempt();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    user.input.focus();
  });
}
