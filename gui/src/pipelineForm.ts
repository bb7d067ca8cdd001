/**
 * The new-pipeline form (`POST /api/pipelines`): a name, stages (pipelineStage.ts) added and
 * removed, and "Edit as JSON" for the whole body. Nothing is sent while a field is not valid;
 * what the server refuses (a cycle, an unknown stage or template, a parameter out of its
 * limits, a missing input) is shown at that stage's field, and summed up under the form.
 */
import { ApiError } from './api.js';
import { h, setText, uid } from './dom.js';
import { describeError } from './notify.js';
import { pipelineApi, type PipelineView } from './pipelines.js';
import { STAGE_NAME, StageEditor, type StageBody, type StageContext } from './pipelineStage.js';
import type { Issue, TargetView, Template } from './types.js';

export interface PipelineBodyInput {
  name?: string;
  stages: Record<string, StageBody>;
}

export interface PipelineFormOptions {
  templates: Template[];
  targets: TargetView[] | null;
  onCreated: (p: PipelineView) => void;
  onCancel: () => void;
}

/** Error details the supervisor gives for a pipeline: the stage, the cycle, the unknown stage, the input, parameter issues. */
interface PipelineDetails {
  stage?: string;
  cycle?: string[];
  unknown?: string;
  input?: string;
  issues?: Issue[];
}

export class PipelineForm {
  readonly el: HTMLFormElement;
  private readonly nameInput: HTMLInputElement;
  private readonly nameError = h('p', { class: 'field-error', 'aria-live': 'polite', 'data-field-error': 'name' });
  private readonly list = h('ol', { class: 'stage-editors', 'data-testid': 'stage-editors' });
  private readonly json = h('textarea', { name: 'json', rows: 18, spellcheck: 'false', 'aria-label': 'The pipeline as JSON (the body of POST /api/pipelines)', hidden: true, 'data-testid': 'pipeline-json' });
  private readonly jsonToggle = h('button', { type: 'button', 'data-testid': 'pipeline-json-toggle' }, 'Edit as JSON');
  private readonly addStage = h('button', { type: 'button' }, 'Add stage');
  private readonly formError = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'pipeline-form-error' });
  private readonly submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'pipeline-submit' }, 'Create pipeline');
  private stages: StageEditor[] = [];
  private jsonMode = false;
  private readonly ctx: StageContext;

  constructor(private readonly opts: PipelineFormOptions) {
    const id = uid('pipe');
    this.nameInput = h('input', { id: `${id}-name`, type: 'text', name: 'pipelineName', maxlength: '200', autocomplete: 'off', placeholder: '(its id)' });
    this.ctx = {
      templates: opts.templates,
      targets: opts.targets,
      others: (self) => this.stages.filter((s) => s !== self),
      changed: () => this.stages.forEach((s) => s.refreshRefs()),
      remove: (self) => this.removeStage(self),
    };
    this.el = h(
      'form',
      { class: 'pipeline-form', novalidate: true, 'aria-label': 'New pipeline', 'data-testid': 'pipeline-form' },
      h('div', { class: 'field', 'data-field': 'name' }, h('label', { for: this.nameInput.id }, 'Pipeline name (optional)'), this.nameInput, this.nameError),
      h('h3', null, 'Stages'),
      this.list,
      this.json,
      h('div', { class: 'actions' }, this.addStage, this.jsonToggle),
      this.formError,
      h('div', { class: 'actions' }, this.submit, h('button', { type: 'button', onclick: () => opts.onCancel() }, 'Cancel')),
    );
    this.addStage.addEventListener('click', () => this.add().focus());
    this.jsonToggle.addEventListener('click', () => this.toggleJson());
    // "Nothing was sent: ..." goes once every marked field is fixed.
    this.el.addEventListener('input', () => {
      if (this.formError.textContent?.startsWith('Nothing was sent') && !this.el.querySelector('.field.invalid')) setText(this.formError, '');
    });
    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    if (opts.templates.length === 0) {
      setText(this.formError, 'No job templates are offered: a pipeline needs at least one.');
      this.submit.disabled = true;
      this.addStage.disabled = true;
      return;
    }
    this.add();
  }

  private nextName(): string {
    for (let i = 0; ; i++) {
      const n = i < 26 ? String.fromCharCode(97 + i) : `stage${i + 1}`;
      if (!this.stages.some((s) => s.name() === n)) return n;
    }
  }

  private add(name = this.nextName()): StageEditor {
    const s = new StageEditor(this.ctx, name);
    this.stages.push(s);
    this.list.append(s.el);
    this.ctx.changed();
    return s;
  }

  private removeStage(s: StageEditor): void {
    this.stages = this.stages.filter((x) => x !== s);
    s.el.remove();
    this.ctx.changed();
  }

  private nameOf = (key: string): string => this.stages.find((s) => s.key === key)?.name() ?? key;

  /** The body from the stage editors; strict: undefined (each problem marked) when a field is not valid. */
  private body(strict: boolean): PipelineBodyInput | undefined {
    let ok = true;
    const stages: Record<string, StageBody> = {};
    for (const s of this.stages) {
      if (strict) s.clearErrors();
      const r = s.spec(this.nameOf, strict);
      ok &&= r.ok;
      stages[s.name()] = r.spec;
    }
    const b: PipelineBodyInput = { stages };
    if (this.nameInput.value.trim() !== '') b.name = this.nameInput.value.trim();
    return ok || !strict ? b : undefined;
  }

  private load(b: PipelineBodyInput): void {
    for (const s of this.stages) s.el.remove();
    this.stages = [];
    this.nameInput.value = b.name ?? '';
    const entries = Object.entries(b.stages);
    const made = entries.map(([name, spec]) => {
      const s = this.add(name);
      s.load(spec);
      return s;
    });
    const keyOf = (n: string) => this.stages.find((s) => s.name() === n)?.key;
    entries.forEach(([, spec], i) => made[i]?.loadRefs(spec, keyOf));
    this.ctx.changed();
  }

  /** Parses the JSON box as a body: the object, or an error message. */
  private parseJson(): { body?: PipelineBodyInput; error?: string } {
    let v: unknown;
    try {
      v = JSON.parse(this.json.value);
    } catch (err) {
      return { error: `This is not JSON: ${(err as Error).message}` };
    }
    const stages = (v as { stages?: unknown } | null)?.stages;
    if (typeof v !== 'object' || v === null || typeof stages !== 'object' || stages === null || Array.isArray(stages)) return { error: 'The JSON must be an object with "stages": {<stage>: {template, ...}}.' };
    for (const [name, s] of Object.entries(stages as Record<string, unknown>)) {
      if (!STAGE_NAME.test(name)) return { error: `"${name}" is not a stage name (a letter, then letters, digits, "_" or "-").` };
      if (typeof (s as { template?: unknown } | null)?.template !== 'string') return { error: `Stage ${name} needs a "template".` };
      if (!this.opts.templates.some((t) => t.name === (s as { template: string }).template)) return { error: `Stage ${name}: no template named "${(s as { template: string }).template}".` };
    }
    return { body: v as PipelineBodyInput };
  }

  private toggleJson(): void {
    setText(this.formError, '');
    if (!this.jsonMode) {
      this.json.value = JSON.stringify(this.body(false), null, 2);
    } else {
      const r = this.parseJson();
      if (!r.body) {
        setText(this.formError, `${r.error ?? ''} Fix it here, or use the form as it was before.`);
        return;
      }
      this.load(r.body);
    }
    this.jsonMode = !this.jsonMode;
    this.json.hidden = !this.jsonMode;
    this.list.hidden = this.jsonMode;
    this.addStage.hidden = this.jsonMode;
    this.nameInput.disabled = this.jsonMode;
    setText(this.jsonToggle, this.jsonMode ? 'Back to the form' : 'Edit as JSON');
  }

  private async send(): Promise<void> {
    setText(this.formError, '');
    setText(this.nameError, '');
    let body: unknown;
    if (this.jsonMode) {
      try {
        body = JSON.parse(this.json.value);
      } catch (err) {
        setText(this.formError, `Nothing was sent: this is not JSON (${(err as Error).message}).`);
        return;
      }
    } else {
      if (this.stages.length === 0) {
        setText(this.formError, 'Nothing was sent: add a stage.');
        return;
      }
      body = this.body(true);
      if (!body) {
        const n = this.el.querySelectorAll('.field.invalid').length;
        setText(this.formError, `Nothing was sent: ${n === 1 ? 'one field needs' : `${n} fields need`} a change (see the marked field${n === 1 ? '' : 's'}).`);
        (this.el.querySelector('.field.invalid input, .field.invalid select') as HTMLElement | null)?.focus();
        return;
      }
    }
    this.submit.disabled = true;
    try {
      const p = await pipelineApi.create(body);
      this.opts.onCreated(p);
    } catch (err) {
      this.showError(err);
    } finally {
      this.submit.disabled = false;
    }
  }

  private stage(name: string | undefined): StageEditor | undefined {
    return name === undefined ? undefined : this.stages.find((s) => s.name() === name);
  }

  /** Puts the server's answer at the stages and fields it names; the message goes under the form too. */
  private showError(err: unknown): void {
    if (!(err instanceof ApiError) || this.jsonMode) {
      setText(this.formError, `The pipeline was not created: ${describeError(err)}`);
      return;
    }
    const d = (err.details ?? {}) as PipelineDetails;
    const placed: boolean[] = [];
    switch (err.code) {
      case 'PIPELINE_CYCLE':
        for (const n of new Set(d.cycle ?? [])) placed.push(this.stage(n)?.showError('after', `These stages form a cycle: ${(d.cycle ?? []).join(' → ')}.`) ?? false);
        break;
      case 'PIPELINE_UNKNOWN_STAGE':
        placed.push(this.stage(d.stage)?.showError('after', `There is no stage ${d.unknown ?? ''}.`) ?? false);
        break;
      case 'UNKNOWN_TEMPLATE':
        placed.push(this.stage(d.stage)?.showError('template', err.message) ?? false);
        break;
      case 'UNKNOWN_INPUT':
      case 'INPUT_REQUIRED':
        placed.push(this.stage(d.stage)?.showError(`inputs.${d.input ?? ''}`, err.message) ?? false);
        break;
      case 'INVALID_INPUT':
        if (d.stage !== undefined) {
          const field = /\(parameterFrom\)|read from stage/.test(err.message) ? 'parameterFrom' : d.issues ? 'parameters' : 'stage';
          placed.push(this.stage(d.stage)?.showError(field, err.message, d.issues) ?? false);
        } else placed.push(...err.issues.map((i) => this.showIssue(i)));
        break;
      default:
        break;
    }
    const where = placed.length > 0 && placed.every(Boolean) ? ' (see the marked fields)' : '';
    setText(this.formError, `The server refused the pipeline: ${err.message}${where}`);
    (this.el.querySelector('.field.invalid input, .field.invalid select') as HTMLElement | null)?.focus();
  }

  /** One issue of the body's schema (path stages.<stage>.<field>...) at its field. */
  private showIssue(i: Issue): boolean {
    const [first, stageName, field, ...rest] = i.path;
    if (first === 'name') {
      setText(this.nameError, i.message);
      return true;
    }
    const s = first === 'stages' && typeof stageName === 'string' ? this.stage(stageName) : undefined;
    if (!s) return false;
    if (field === 'parameters') return s.showError('parameters', i.message, [{ ...i, path: rest }]);
    if (field === 'inputs' || field === 'parameterFrom') return s.showError(`${field}.${String(rest[0] ?? '')}`, i.message);
    return s.showError(typeof field === 'string' ? field : 'name', i.message);
  }
}
