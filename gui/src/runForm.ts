/**
 * The new-run form: pick a template, fill its parameters (a form generated from its schema),
 * choose a run mode among the template's (sbatch only when a cluster is configured), Slurm
 * options for cluster runs, an optional job key, and run. Nothing is sent while a field is not
 * valid; what the server refuses is shown next to its field.
 */
import { ApiError } from './api.js';
import { startRun } from './actions.js';
import { clusterStatusText, openClusterLogin } from './cluster.js';
import { h, replaceChildren, setText, uid } from './dom.js';
import { checkNumber, ParameterForm } from './form.js';
import { RUN_MODE_HINT, runModeText } from './format.js';
import { describeError } from './notify.js';
import type { ClusterStatus, Issue, JobView, RunMode, RunRequest, SlurmOptions, Template } from './types.js';

export interface RunFormOptions {
  templates: Template[];
  /** The caller's cluster status; null when it could not be asked (then sbatch is offered if the template allows it). */
  cluster: ClusterStatus | null;
  initial?: { template: string; parameters?: Record<string, unknown>; runMode?: RunMode; jobKey?: string };
  submitLabel?: string;
  onRan: (job: JobView) => void;
  onCancel?: () => void;
  /** Asks the caller for a fresh cluster status (after a cluster login). */
  refreshCluster?: () => Promise<ClusterStatus | null>;
}

const JOB_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SLURM_VALUE = /^[A-Za-z0-9_.,:@%+=/-]{1,128}$/;

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

const SLURM_FIELDS: { name: keyof SlurmOptions; label: string; kind: 'int' | 'text'; hint: string }[] = [
  { name: 'minutes', label: 'Time limit (minutes)', kind: 'int', hint: 'empty: the site default' },
  { name: 'nodes', label: 'Nodes', kind: 'int', hint: 'empty: the site default' },
  { name: 'cpusPerTask', label: 'CPUs per task', kind: 'int', hint: 'empty: the site default' },
  { name: 'partition', label: 'Partition', kind: 'text', hint: 'empty: the site default' },
  { name: 'account', label: 'Account', kind: 'text', hint: 'empty: the site default' },
  { name: 'qos', label: 'QOS', kind: 'text', hint: 'empty: the site default' },
];

export class RunForm {
  readonly el: HTMLFormElement;
  private template: Template | undefined;
  private params: ParameterForm | undefined;
  private cluster: ClusterStatus | null;
  private readonly id = uid('run');
  private readonly templateSelect: HTMLSelectElement;
  private readonly description = h('div', { class: 'template-description' });
  private readonly paramBox = h('div', { class: 'param-box' });
  private readonly runMode: HTMLSelectElement;
  private readonly runModeHint = h('p', { class: 'hint' });
  private readonly jobKey: SimpleField;
  private readonly slurmBox: HTMLFieldSetElement;
  private readonly slurm = new Map<keyof SlurmOptions, SimpleField>();
  private readonly clusterLine = h('p', { class: 'cluster-line' });
  private readonly formError = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'run-form-error' });
  private readonly submit: HTMLButtonElement;
  private busy = false;

  constructor(private readonly opts: RunFormOptions) {
    this.cluster = opts.cluster;
    const initial = opts.initial;
    const tid = `${this.id}-template`;
    this.templateSelect = h(
      'select',
      { id: tid, name: 'template' },
      opts.templates.map((t) => h('option', { value: t.name }, `${t.title} (${t.name})`)),
    );
    this.runMode = h('select', { id: `${this.id}-mode`, name: 'runMode', 'aria-describedby': `${this.id}-mode-hint` });
    this.runModeHint.id = `${this.id}-mode-hint`;
    this.jobKey = simpleField(`${this.id}-key`, 'jobKey', 'Job key (optional)', '');
    if (initial?.jobKey) this.jobKey.input.value = initial.jobKey;
    for (const f of SLURM_FIELDS) {
      this.slurm.set(f.name, simpleField(`${this.id}-slurm-${f.name}`, `slurm.${f.name}`, f.label, f.hint, f.kind === 'int' ? { inputmode: 'numeric' } : {}));
    }
    this.slurmBox = h('fieldset', { class: 'slurm-box', hidden: true }, h('legend', null, 'Slurm options'), h('div', { class: 'param-grid' }, [...this.slurm.values()].map((f) => f.el)), this.clusterLine);
    this.submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'run-submit' }, opts.submitLabel ?? 'Run');
    const reset = h('button', { type: 'button', onclick: () => this.resetDefaults() }, 'Reset to defaults');
    const cancel = opts.onCancel ? h('button', { type: 'button', onclick: () => opts.onCancel?.() }, 'Cancel') : null;

    this.el = h(
      'form',
      { class: 'run-form', novalidate: true, 'aria-label': 'New run' },
      h('div', { class: 'field' }, h('label', { for: tid }, 'Template'), this.templateSelect),
      this.description,
      h('fieldset', { class: 'params' }, h('legend', null, 'Parameters'), this.paramBox),
      h(
        'fieldset',
        { class: 'run-options' },
        h('legend', null, 'How to run'),
        h('div', { class: 'param-grid' }, h('div', { class: 'field' }, h('label', { for: this.runMode.id }, 'Run mode'), this.runMode, this.runModeHint), this.jobKey.el),
        this.slurmBox,
      ),
      this.formError,
      h('div', { class: 'actions' }, this.submit, reset, cancel),
    );

    this.templateSelect.addEventListener('change', () => this.selectTemplate(this.templateSelect.value));
    this.runMode.addEventListener('change', () => this.updateRunMode());
    this.jobKey.input.addEventListener('input', () => this.checkJobKey());
    for (const [name, f] of this.slurm) f.input.addEventListener('input', () => this.checkSlurm(name));
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
      this.selectTemplate(first.name, initial?.parameters, initial?.runMode);
    }
  }

  private selectTemplate(name: string, parameters?: Record<string, unknown>, runMode?: RunMode): void {
    const t = this.opts.templates.find((x) => x.name === name);
    if (!t) return;
    this.template = t;
    this.params = new ParameterForm(t.parameters, parameters ?? {});
    replaceChildren(this.paramBox, this.params.el);
    const desc = t.description.trim();
    replaceChildren(
      this.description,
      desc === ''
        ? null
        : desc.length > 280
          ? h('details', null, h('summary', null, desc.slice(0, 200).replace(/\s+\S*$/, '').replace(/[.,;:]$/, ''), '… (more)'), h('p', null, desc))
          : h('p', null, desc),
      h('p', { class: 'hint' }, `Time limit ${t.timeLimitSeconds} s · ${t.resources.cores} core${t.resources.cores === 1 ? '' : 's'}`, t.results.length > 0 ? ` · results: ${t.results.join(', ')}` : ''),
    );
    const modes = t.runModes.filter((m) => m !== 'sbatch' || this.cluster === null || this.cluster.configured);
    const previous = runMode ?? (this.runMode.value as RunMode);
    replaceChildren(this.runMode, modes.map((m) => h('option', { value: m }, runModeText(m))));
    this.runMode.value = modes.includes(previous) ? previous : (modes[0] ?? '');
    this.runMode.disabled = modes.length <= 1;
    setText(this.jobKey.el.querySelector('.hint') ?? this.jobKey.error, `Empty: "${t.name}". Running a job key that exists starts a new run of that job (an active run is canceled first).`);
    this.jobKey.input.placeholder = t.name;
    setText(this.formError, '');
    this.updateRunMode();
  }

  private updateRunMode(): void {
    const mode = this.runMode.value as RunMode;
    setText(this.runModeHint, mode ? RUN_MODE_HINT[mode] : 'This template cannot run here.');
    this.submit.disabled = this.busy || !mode;
    this.slurmBox.hidden = mode !== 'sbatch';
    if (mode === 'sbatch') this.renderCluster();
  }

  private renderCluster(): void {
    const s = this.cluster;
    if (!s) {
      replaceChildren(this.clusterLine, 'The cluster login state is not known.');
      return;
    }
    const button = s.loggedIn
      ? null
      : h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: async () => {
              if (await openClusterLogin(undefined, s)) {
                this.cluster = (await this.opts.refreshCluster?.()) ?? { ...s, loggedIn: true };
                this.renderCluster();
              }
            },
          },
          'Log in to the cluster…',
        );
    replaceChildren(this.clusterLine, clusterStatusText(s), ' ', button);
  }

  private resetDefaults(): void {
    this.params?.resetToDefaults();
    this.jobKey.input.value = '';
    setFieldError(this.jobKey, undefined);
    for (const f of this.slurm.values()) {
      f.input.value = '';
      setFieldError(f, undefined);
    }
    setText(this.formError, '');
  }

  private checkJobKey(): string | undefined {
    const v = this.jobKey.input.value.trim();
    const error = v === '' || JOB_KEY.test(v) ? undefined : 'Letters, digits, "_", "." and "-", 1 to 64, starting with a letter or digit.';
    setFieldError(this.jobKey, error);
    return error;
  }

  private checkSlurm(name: keyof SlurmOptions): { value?: number | string; error?: string } {
    const f = this.slurm.get(name);
    const spec = SLURM_FIELDS.find((s) => s.name === name);
    if (!f || !spec) return {};
    const text = f.input.value.trim();
    let r: { value?: number | string; error?: string } = {};
    if (text !== '') {
      if (spec.kind === 'int') r = checkNumber(text, { type: 'integer', label: spec.label, default: 1, min: 1 });
      else r = SLURM_VALUE.test(text) ? { value: text } : { error: 'Letters, digits and _.,:@%+=/- only (no spaces or quotes).' };
    }
    setFieldError(f, r.error);
    return r;
  }

  /** Checks everything; sends the run when all is valid. */
  private async send(): Promise<void> {
    if (this.busy || !this.template || !this.params) return;
    setText(this.formError, '');
    const values = this.params.values();
    const keyError = this.checkJobKey();
    const mode = this.runMode.value as RunMode;
    const slurm: SlurmOptions = {};
    let slurmInvalid: HTMLInputElement | undefined;
    if (mode === 'sbatch') {
      for (const [name, f] of this.slurm) {
        const r = this.checkSlurm(name);
        if (r.error) slurmInvalid ??= f.input;
        else if (r.value !== undefined) (slurm as Record<string, unknown>)[name] = r.value;
      }
    }
    if (!values.ok || keyError || slurmInvalid) {
      const count = this.el.querySelectorAll('.field.invalid').length;
      setText(this.formError, `Nothing was sent: ${count === 1 ? 'one field needs' : `${count} fields need`} a change (see the marked field${count === 1 ? '' : 's'}).`);
      (values.ok ? (keyError ? this.jobKey.input : slurmInvalid) : values.first.input)?.focus();
      return;
    }
    const body: RunRequest = { template: this.template.name, parameters: values.values, runMode: mode };
    const key = this.jobKey.input.value.trim();
    if (key !== '') body.jobKey = key;
    if (mode === 'sbatch' && Object.keys(slurm).length > 0) body.slurm = slurm;
    this.busy = true;
    this.submit.disabled = true;
    const label = this.submit.textContent;
    this.submit.textContent = 'Starting…';
    try {
      const job = await startRun(body);
      this.opts.onRan(job);
    } catch (err) {
      this.showError(err);
    } finally {
      this.busy = false;
      this.submit.textContent = label;
      this.updateRunMode();
    }
  }

  private showError(err: unknown): void {
    if (err instanceof ApiError && err.code === 'INVALID_INPUT' && err.issues.length > 0) {
      let rest: Issue[] = err.message.startsWith('parameters of') ? (this.params?.showIssues(err.issues) ?? err.issues) : err.issues;
      rest = rest.filter((issue) => {
        const [first, second] = issue.path;
        if (first === 'jobKey') setFieldError(this.jobKey, issue.message);
        else if (first === 'slurm' && typeof second === 'string' && this.slurm.has(second as keyof SlurmOptions)) {
          const f = this.slurm.get(second as keyof SlurmOptions);
          if (f) setFieldError(f, issue.message);
        } else if (first === 'parameters' && this.params && this.params.showIssues([issue]).length === 0) {
          /* shown at its field */
        } else return true;
        return false;
      });
      const text = rest.length > 0 ? rest.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ') : '';
      setText(this.formError, `The server refused the run: ${text || 'see the marked fields.'}`);
      (this.el.querySelector('.field.invalid input, .field.invalid select') as HTMLElement | null)?.focus();
      return;
    }
    setText(this.formError, `The run was not started: ${describeError(err)}`);
  }
}
