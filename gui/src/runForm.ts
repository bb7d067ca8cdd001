/**
 * The new-run form: pick a template, fill its parameters (a form generated from its schema),
 * choose a target among those the template allows and a size among its sizes, the target's own
 * options (generated from the option fields `GET /api/targets` lists for it) with its login
 * state for targets that need one, an optional job key, and run. Nothing is sent while a field
 * is not valid; what the server refuses is shown next to its field.
 */
import { ApiError } from './api.js';
import { startRun } from './actions.js';
import { h, replaceChildren, setText, uid, type Child } from './dom.js';
import { jobHref } from './router.js';
import { checkNumber, ParameterForm } from './form.js';
import { InputFields, removeUploads } from './inputFields.js';
import { renderMarkdown } from './markdown.js';
import { formatDuration, SIZE_HINT, sizeText } from './format.js';
import { describeError } from './notify.js';
import { openTargetLogin } from './targetLogin.js';
import { loadTargets, loginStateText, withLogin } from './targets.js';
import { emailMeField } from './emailMe.js';
import type { Issue, JobView, OptionField, RunOptions, RunRequest, Size, TargetView, Template } from './types.js';

export interface RunFormOptions {
  templates: Template[];
  /** The site's targets; null when they could not be read (then targets show by name, with no options). */
  targets: TargetView[] | null;
  initial?: { template: string; parameters?: Record<string, unknown>; target?: string; size?: Size; options?: RunOptions | null; jobKey?: string };
  submitLabel?: string;
  /** For a run of an existing job: while the job key is still `jobKey`, `text` says what the new run replaces, and a button runs it as a new job instead. */
  replaces?: { jobKey: string; text: string };
  onRan: (job: JobView) => void;
  onCancel?: () => void;
}

const JOB_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** What a string option may hold (the same as the server's check of scheduler options). */
const OPTION_VALUE = /^[A-Za-z0-9_.,:@%+=/-]{1,128}$/;

interface SimpleField {
  el: HTMLElement;
  input: HTMLInputElement;
  error: HTMLElement;
}

function simpleField(id: string, name: string, label: string, hint: string, attrs: Record<string, string> = {}): SimpleField {
  const input = h('input', { id, name, type: 'text', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${id}-hint ${id}-error`, ...attrs });
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite', 'data-field-error': name });
  return { input, error, el: h('div', { class: 'field', 'data-param': name }, h('label', { for: id }, label), input, h('p', { class: 'hint', id: `${id}-hint` }, hint), error) };
}

function setFieldError(f: SimpleField, message: string | undefined): void {
  setText(f.error, message ?? '');
  f.el.classList.toggle('invalid', message !== undefined);
  if (message === undefined) f.input.removeAttribute('aria-invalid');
  else f.input.setAttribute('aria-invalid', 'true');
}

/** The option fields of one target, built from its OptionField list. */
class TargetOptions {
  readonly fields = new Map<string, { spec: OptionField; field: SimpleField }>();
  readonly grid: HTMLElement;

  constructor(target: TargetView, idPrefix: string, initial: RunOptions | null | undefined) {
    for (const spec of target.options) {
      const f = simpleField(
        `${idPrefix}-${spec.name}`,
        `options.${spec.name}`,
        spec.label,
        [spec.hint, spec.type === 'integer' ? 'a whole number' : '', 'empty: the site default'].filter((p) => p !== '').join(' · '),
        spec.type === 'integer' ? { inputmode: 'numeric' } : {},
      );
      f.el.dataset.option = spec.name;
      const v = initial?.[spec.name];
      if (typeof v === 'number' || typeof v === 'string') f.input.value = String(v);
      f.input.addEventListener('input', () => this.check(spec.name));
      this.fields.set(spec.name, { spec, field: f });
    }
    this.grid = h('div', { class: 'param-grid' }, [...this.fields.values()].map((f) => f.field.el));
  }

  check(name: string): { value?: number | string; error?: string } {
    const entry = this.fields.get(name);
    if (!entry) return {};
    const { spec, field } = entry;
    const text = field.input.value.trim();
    let r: { value?: number | string; error?: string } = {};
    if (text !== '') {
      if (spec.type === 'integer') r = checkNumber(text, { type: 'integer', label: spec.label, default: 1, min: 1 });
      else r = OPTION_VALUE.test(text) ? { value: text } : { error: 'Letters, digits and _.,:@%+=/- only (no spaces or quotes), at most 128.' };
    }
    setFieldError(field, r.error);
    return r;
  }

  /** The options set (empty fields left out), or the first field that is not valid. */
  values(): { options: RunOptions; invalid?: HTMLInputElement } {
    const options: RunOptions = {};
    let invalid: HTMLInputElement | undefined;
    for (const [name, { field }] of this.fields) {
      const r = this.check(name);
      if (r.error) invalid ??= field.input;
      else if (r.value !== undefined) options[name] = r.value;
    }
    return { options, invalid };
  }

  clear(): void {
    for (const { field } of this.fields.values()) {
      field.input.value = '';
      setFieldError(field, undefined);
    }
  }

  showIssue(name: string, message: string): boolean {
    const entry = this.fields.get(name);
    if (!entry) return false;
    setFieldError(entry.field, message);
    return true;
  }
}

/** A template's description (Markdown, a safe subset): a long one shows its first lines and a "Show more" button. */
function descriptionBlock(text: string): HTMLElement | null {
  const desc = text.trim();
  if (desc === '') return null;
  const body = renderMarkdown(desc);
  if (desc.length <= 280) return body;
  body.classList.add('clamped');
  body.id = uid('description');
  const more: HTMLButtonElement = h('button', {
    type: 'button',
    class: 'link-button',
    'aria-expanded': 'false',
    'aria-controls': body.id,
    onclick: () => {
      const open = body.classList.toggle('clamped') === false;
      more.setAttribute('aria-expanded', String(open));
      setText(more, open ? 'Show less' : 'Show more');
    },
  }, 'Show more');
  return h('div', null, body, more);
}

export class RunForm {
  readonly el: HTMLFormElement;
  private template: Template | undefined;
  private params: ParameterForm | undefined;
  private inputs: InputFields | undefined;
  private readonly inputBox = h('div', { class: 'input-box' });
  private targets: TargetView[] | null;
  private readonly id = uid('run');
  private readonly templateSelect: HTMLSelectElement;
  private readonly description = h('div', { class: 'template-description' });
  private readonly paramBox = h('div', { class: 'param-box' });
  private readonly targetSelect: HTMLSelectElement;
  private readonly targetHint = h('p', { class: 'hint' });
  private readonly sizeSelect: HTMLSelectElement;
  private readonly sizeHint = h('p', { class: 'hint' });
  private readonly jobKey: SimpleField;
  private readonly emailMe = emailMeField();
  private readonly targetBox: HTMLFieldSetElement;
  private readonly targetLegend = h('legend');
  private readonly optionsBox = h('div', { class: 'target-options' });
  private readonly loginLine = h('p', { class: 'login-line', 'data-testid': 'target-login-state' });
  /** The option fields of each target shown so far: what the user typed stays when they switch back. */
  private readonly options = new Map<string, TargetOptions>();
  private readonly formError = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'run-form-error' });
  private readonly submit: HTMLButtonElement;
  /** What pressing Run did, next to the button: "Starting the run…", then the run started (and a link to it). */
  private readonly status = h('span', { class: 'action-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'run-status' });
  private busy = false;

  constructor(private readonly opts: RunFormOptions) {
    this.targets = opts.targets;
    const initial = opts.initial;
    const tid = `${this.id}-template`;
    this.templateSelect = h(
      'select',
      { id: tid, name: 'template' },
      opts.templates.map((t) => h('option', { value: t.name }, `${t.title} (${t.name})`)),
    );
    this.targetHint.id = `${this.id}-target-hint`;
    this.targetSelect = h('select', { id: `${this.id}-target`, name: 'target', 'aria-describedby': this.targetHint.id });
    this.sizeHint.id = `${this.id}-size-hint`;
    this.sizeSelect = h('select', { id: `${this.id}-size`, name: 'size', 'aria-describedby': this.sizeHint.id });
    this.jobKey = simpleField(`${this.id}-key`, 'jobKey', 'Job key (optional)', '');
    if (initial?.jobKey) this.jobKey.input.value = initial.jobKey;
    this.targetBox = h('fieldset', { class: 'target-box', hidden: true, 'data-testid': 'target-options' }, this.targetLegend, this.loginLine, this.optionsBox);
    this.submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'run-submit' }, opts.submitLabel ?? 'Run');
    const reset = h('button', { type: 'button', onclick: () => this.resetDefaults() }, 'Reset to defaults');
    const cancel = opts.onCancel ? h('button', { type: 'button', onclick: () => opts.onCancel?.() }, 'Cancel') : null;

    this.el = h(
      'form',
      { class: 'run-form', novalidate: true, 'aria-label': 'New run' },
      h('div', { class: 'field' }, h('label', { for: tid }, 'Template'), this.templateSelect),
      this.description,
      h('fieldset', { class: 'params' }, h('legend', null, 'Parameters'), this.paramBox),
      this.inputBox,
      h(
        'fieldset',
        { class: 'run-options' },
        h('legend', null, 'Where and how to run'),
        h(
          'div',
          { class: 'param-grid' },
          h('div', { class: 'field' }, h('label', { for: this.targetSelect.id }, 'Target'), this.targetSelect, this.targetHint),
          h('div', { class: 'field' }, h('label', { for: this.sizeSelect.id }, 'Size'), this.sizeSelect, this.sizeHint),
          this.jobKey.el,
          this.emailMe.el,
        ),
        this.targetBox,
      ),
      this.formError,
      this.replacesNote,
      h('div', { class: 'actions' }, this.submit, this.newJobButton, reset, cancel, this.status),
    );
    this.updateReplaces();

    this.templateSelect.addEventListener('change', () => this.selectTemplate(this.templateSelect.value));
    this.targetSelect.addEventListener('change', () => this.updateTarget());
    this.sizeSelect.addEventListener('change', () => this.updateTarget());
    this.jobKey.input.addEventListener('input', () => {
      this.checkJobKey();
      this.updateReplaces();
    });
    // "Nothing was sent: ..." goes once every marked field is fixed.
    this.el.addEventListener('input', () => {
      if (this.formError.textContent?.startsWith('Nothing was sent') && !this.el.querySelector('.field.invalid')) setText(this.formError, '');
    });
    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });

    if (opts.templates.length === 0) {
      replaceChildren(this.paramBox, h('p', { class: 'muted' }, 'No job templates are offered.'));
      this.submit.disabled = true;
      return;
    }
    const first = opts.templates.find((t) => t.name === initial?.template) ?? opts.templates[0];
    if (first) {
      this.templateSelect.value = first.name;
      if (initial?.target && initial.options) {
        const t = this.targetView(initial.target);
        if (t) this.options.set(t.name, new TargetOptions(t, `${this.id}-opt-${t.name}`, initial.options));
      }
      this.selectTemplate(first.name, initial?.parameters, initial?.target, initial?.size);
    }
  }

  private targetView(name: string): TargetView | undefined {
    return this.targets?.find((t) => t.name === name);
  }

  /** The targets the template allows that the site lists (all of its names when the targets are not known). */
  private allowedTargets(t: Template): { name: string; view: TargetView | undefined }[] {
    if (!this.targets) return t.targets.map((name) => ({ name, view: undefined }));
    return t.targets.flatMap((name) => {
      const view = this.targetView(name);
      return view ? [{ name, view }] : [];
    });
  }

  private selectTemplate(name: string, parameters?: Record<string, unknown>, target?: string, size?: Size): void {
    const t = this.opts.templates.find((x) => x.name === name);
    if (!t) return;
    this.template = t;
    this.params = new ParameterForm(t.parameters, parameters ?? {});
    replaceChildren(this.paramBox, this.params.el);
    this.inputs = new InputFields(t.inputs ?? {}, `${this.id}-input`);
    replaceChildren(this.inputBox, this.inputs.el);
    replaceChildren(
      this.description,
      descriptionBlock(t.description),
      h('p', { class: 'hint' }, `Time limit ${formatDuration(t.timeLimitSeconds * 1000)} · ${t.resources.cores} core${t.resources.cores === 1 ? '' : 's'}`, t.results.length > 0 ? ` · results: ${t.results.join(', ')}` : ''),
    );
    const targets = this.allowedTargets(t);
    const previousTarget = target ?? this.targetSelect.value;
    replaceChildren(
      this.targetSelect,
      targets.map((x) => h('option', { value: x.name }, x.view ? `${x.view.title} (${x.view.driver})` : x.name)),
    );
    this.targetSelect.value = targets.some((x) => x.name === previousTarget) ? previousTarget : (targets[0]?.name ?? '');
    this.targetSelect.disabled = targets.length <= 1;
    const previousSize = size ?? (this.sizeSelect.value as Size);
    replaceChildren(this.sizeSelect, t.sizes.map((s) => h('option', { value: s }, sizeText(s))));
    this.sizeSelect.value = t.sizes.includes(previousSize) ? previousSize : (t.sizes[0] ?? '');
    this.sizeSelect.disabled = t.sizes.length <= 1;
    setText(this.jobKey.el.querySelector('.hint') ?? this.jobKey.error, `Empty: "${t.name}". Running a job key that exists starts a new run of that job (an active run is canceled first).`);
    this.jobKey.input.placeholder = t.name;
    setText(this.formError, '');
    this.setStatus('none');
    this.updateTarget();
  }

  /** Shows what the chosen target and size mean: hints, its login state and its option fields. */
  private updateTarget(): void {
    const name = this.targetSelect.value;
    const size = this.sizeSelect.value as Size;
    const view = this.targetView(name);
    setText(
      this.targetHint,
      name === ''
        ? 'This template can run on none of the targets here.'
        : view
          ? `${view.needsLogin ? 'under your own account there' : 'no login needed'}${view.host ? ` · login node ${view.host}` : ''}`
          : `target ${name}`,
    );
    const max = view && size ? view.maxTimeSeconds[size] : undefined;
    setText(this.sizeHint, size ? `${SIZE_HINT[size] ?? size}${max ? ` · at most ${formatDuration(max * 1000)} here` : ''}` : '');
    this.submit.disabled = this.busy || name === '' || !size;
    const show = view !== undefined && (view.needsLogin || view.options.length > 0);
    this.targetBox.hidden = !show;
    if (!view || !show) {
      replaceChildren(this.optionsBox);
      return;
    }
    this.targetBox.dataset.target = view.name;
    setText(this.targetLegend, view.options.length > 0 ? `Options for ${view.title}` : view.title);
    let options = this.options.get(view.name);
    if (!options) {
      options = new TargetOptions(view, `${this.id}-opt-${view.name}`, undefined);
      this.options.set(view.name, options);
    }
    replaceChildren(this.optionsBox, view.options.length > 0 ? options.grid : null);
    this.renderLogin(view);
  }

  private renderLogin(view: TargetView): void {
    this.loginLine.hidden = !view.needsLogin;
    if (!view.needsLogin) {
      replaceChildren(this.loginLine);
      return;
    }
    const button = view.login?.loggedIn
      ? null
      : h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: async () => {
              const s = await openTargetLogin(view.name);
              if (s) this.setTarget(withLogin(view, s));
            },
          },
          'Log in…',
        );
    this.loginLine.dataset.loggedIn = String(view.login?.loggedIn === true);
    replaceChildren(this.loginLine, loginStateText(view), ' ', button);
  }

  /** Takes a fresher view of one target (after a login) and shows it if it is the chosen one. */
  private setTarget(view: TargetView): void {
    if (this.targets) this.targets = this.targets.map((t) => (t.name === view.name ? view : t));
    if (this.targetSelect.value === view.name) this.updateTarget();
  }

  /** Reads the targets again (their login states may have changed) and shows the chosen one's. */
  private async refreshTargets(): Promise<void> {
    const ts = await loadTargets();
    if (!ts) return;
    this.targets = ts;
    this.updateTarget();
  }

  private readonly replacesNote = h('p', { class: 'muted replaces', 'data-testid': 'run-replaces', hidden: true });
  private readonly newJobButton = h('button', { type: 'button', 'data-testid': 'run-as-new-job', hidden: true, onclick: () => this.runAsNewJob() }, 'Run as a new job');

  /** Shows what a run under the job's own key replaces (and the way out: a new job key). */
  private updateReplaces(): void {
    const r = this.opts.replaces;
    const same = r !== undefined && this.jobKey.input.value.trim() === r.jobKey;
    this.replacesNote.hidden = !same;
    this.newJobButton.hidden = !same;
    if (same) setText(this.replacesNote, r.text);
  }

  /** Runs the form's values under a new job key (the job key and a suffix), leaving the job as it is. */
  private runAsNewJob(): void {
    const base = (this.opts.replaces?.jobKey ?? 'job').slice(0, 50);
    this.jobKey.input.value = `${base}-${Date.now().toString(36)}`;
    this.updateReplaces();
    void this.send();
  }

  private resetDefaults(): void {
    this.params?.resetToDefaults();
    this.jobKey.input.value = '';
    setFieldError(this.jobKey, undefined);
    for (const o of this.options.values()) o.clear();
    setText(this.formError, '');
  }

  private checkJobKey(): string | undefined {
    const v = this.jobKey.input.value.trim();
    const error = v === '' || JOB_KEY.test(v) ? undefined : 'Letters, digits, "_", "." and "-", 1 to 64, starting with a letter or digit.';
    setFieldError(this.jobKey, error);
    return error;
  }

  /** Checks everything; sends the run when all is valid. */
  private async send(): Promise<void> {
    if (this.busy || !this.template || !this.params) return;
    setText(this.formError, '');
    const values = this.params.values();
    const keyError = this.checkJobKey();
    const target = this.targetSelect.value;
    const size = this.sizeSelect.value as Size;
    const view = this.targetView(target);
    const chosen = view && view.options.length > 0 ? this.options.get(target)?.values() : undefined;
    const optionsInvalid = chosen?.invalid;
    const fileInvalid = this.inputs?.check();
    if (!values.ok || keyError || optionsInvalid || fileInvalid) {
      const count = this.el.querySelectorAll('.field.invalid').length;
      setText(this.formError, `Nothing was sent: ${count === 1 ? 'one field needs' : `${count} fields need`} a change (see the marked field${count === 1 ? '' : 's'}).`);
      (values.ok ? (keyError ? this.jobKey.input : (optionsInvalid ?? fileInvalid)) : values.first.input)?.focus();
      return;
    }
    const body: RunRequest = { template: this.template.name, parameters: values.values, target, size };
    const key = this.jobKey.input.value.trim();
    if (key !== '') body.jobKey = key;
    if (this.emailMe.input.checked) body.notify = { email: true };
    if (chosen && Object.keys(chosen.options).length > 0) body.options = chosen.options;
    this.busy = true;
    this.submit.disabled = true;
    this.submit.setAttribute('aria-busy', 'true');
    const label = this.submit.textContent;
    let uploaded: Record<string, string> = {};
    try {
      if (this.inputs) {
        this.submit.textContent = 'Uploading…';
        this.setStatus('busy', 'Uploading the input files…');
        uploaded = await this.inputs.upload();
        if (Object.keys(uploaded).length > 0) body.inputs = uploaded;
      }
      this.submit.textContent = 'Starting…';
      this.setStatus('busy', 'Starting the run…');
      const job = await startRun(body);
      this.setStatus('ok', `Started ${job.jobKey} (run ${job.serial}). `, h('a', { href: jobHref(job.jobId), 'data-testid': 'run-status-link' }, 'Open its page'));
      this.opts.onRan(job);
    } catch (err) {
      this.setStatus('none');
      await removeUploads(uploaded);
      this.inputs?.dropped(uploaded);
      this.showError(err);
      this.formError.scrollIntoView({ block: 'nearest' });
    } finally {
      this.busy = false;
      this.submit.removeAttribute('aria-busy');
      this.submit.textContent = label;
      this.updateTarget();
      if (view?.needsLogin) void this.refreshTargets(); // a login may have happened on the way
    }
  }

  private setStatus(kind: 'busy' | 'ok' | 'none', ...content: Child[]): void {
    this.status.className = `action-status${kind === 'none' ? '' : ` is-${kind}`}`;
    this.status.dataset.status = kind;
    replaceChildren(this.status, ...content);
    if (kind !== 'none') this.status.scrollIntoView({ block: 'nearest' });
  }

  private showError(err: unknown): void {
    if (err instanceof ApiError && err.code === 'INVALID_INPUT' && err.issues.length > 0) {
      const options = this.options.get(this.targetSelect.value);
      // A driver's check of the options names them by themselves ("options of a run on ..."); the body's schema as options.<name>.
      const optionIssues = err.message.startsWith('options of');
      let rest: Issue[] = err.message.startsWith('parameters of') ? (this.params?.showIssues(err.issues) ?? err.issues) : err.issues;
      rest = rest.filter((issue) => {
        const [first, second] = issue.path;
        if (first === 'jobKey') setFieldError(this.jobKey, issue.message);
        else if (optionIssues && typeof first === 'string' && options?.showIssue(first, issue.message)) {
          /* shown at its field */
        } else if (first === 'options' && typeof second === 'string' && options?.showIssue(second, issue.message)) {
          /* shown at its field */
        } else if (first === 'parameters' && this.params && this.params.showIssues([issue]).length === 0) {
          /* shown at its field */
        } else return true;
        return false;
      });
      const text = rest.length > 0 ? rest.map((i) => `${[optionIssues ? 'options' : '', ...i.path].filter((p) => p !== '').join('.') || 'request'}: ${i.message}`).join('; ') : '';
      setText(this.formError, `The server refused the run: ${text || 'see the marked fields.'}`);
      (this.el.querySelector('.field.invalid input, .field.invalid select') as HTMLElement | null)?.focus();
      return;
    }
    setText(this.formError, `The run was not started: ${describeError(err)}`);
  }
}
