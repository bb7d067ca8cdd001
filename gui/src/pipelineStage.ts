/**
 * One stage of the new-pipeline form: its name, template, parameters (the run form's
 * ParameterForm), target and size, the stages it runs after, and where its input files and
 * parameters come from (a named output file of an upstream stage; a parameter by a JSON
 * pointer into such a file). Other stages are referred to by a stable key, so renaming a stage
 * keeps every reference to it. Each field has its own error line, for the form's checks and the
 * server's answer alike.
 */
import type { StageSpec } from '../../src/shared/pipelines.js';
import { h, replaceChildren, setText, uid } from './dom.js';
import { ParameterForm } from './form.js';
import type { Issue, Size, TargetView, Template } from './types.js';

export const STAGE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
const POINTER = /^(\/([^~/]|~[01])*)*$/;

/** A stage as the body of POST /api/pipelines names it (the schema's input type: defaults may be left out). */
export type StageBody = Partial<Pick<StageSpec, 'parameters' | 'after' | 'inputs' | 'parameterFrom'>> & { template: string; target?: string; size?: Size };

export interface StageContext {
  templates: Template[];
  targets: TargetView[] | null;
  /** The other stages, in the form's order. */
  others(self: StageEditor): StageEditor[];
  /** A name or a reference changed: the other stages show it. */
  changed(): void;
  remove(self: StageEditor): void;
}

/** A labelled control with a hint and an error line. */
interface Slot {
  el: HTMLElement;
  error: HTMLElement;
}
function slot(field: string, label: string | null, controlId: string | null, control: HTMLElement, hint = ''): Slot {
  const error = h('p', { class: 'field-error', 'aria-live': 'polite', 'data-field-error': field });
  const el = h('div', { class: 'field', 'data-field': field }, label ? h(controlId ? 'label' : 'span', controlId ? { for: controlId } : { class: 'label' }, label) : null, control, hint ? h('p', { class: 'hint' }, hint) : null, error);
  return { el, error };
}
function setSlotError(s: Slot, message: string): void {
  setText(s.error, message);
  s.el.classList.toggle('invalid', message !== '');
}

/** A `from` select: "—" and the other stages by key, labelled by their current names. */
function fromOptions(select: HTMLSelectElement, others: StageEditor[], empty: string): void {
  const keep = select.value;
  replaceChildren(select, h('option', { value: '' }, empty), others.map((o) => h('option', { value: o.key }, o.name() || '(unnamed)')));
  select.value = others.some((o) => o.key === keep) ? keep : '';
}

/** Result file names of a template that are not patterns (suggestions for a `file`). */
const plainResults = (t: Template | undefined): string[] => (t?.results ?? []).filter((r) => !/[*?[\]]/.test(r));

class InputRow {
  readonly from = h('select', { name: 'from' });
  readonly file = h('input', { type: 'text', name: 'file', autocomplete: 'off', spellcheck: 'false', placeholder: 'path in its run folder' });
  readonly slot: Slot;
  constructor(readonly input: string, readonly required: boolean, label: string, list: string) {
    this.file.setAttribute('list', list);
    this.from.setAttribute('aria-label', `input ${input}: from stage`);
    this.file.setAttribute('aria-label', `input ${input}: file`);
    this.slot = slot(`inputs.${input}`, `${label}${required ? ' *' : ''} (input ${input})`, null, h('div', { class: 'from-row' }, 'from ', this.from, ' file ', this.file), required ? 'required: name the stage and the file it comes from' : 'optional');
  }
}

class ParamFromRow {
  readonly parameter = h('select', { name: 'parameter', 'aria-label': 'parameter' });
  readonly from = h('select', { name: 'from', 'aria-label': 'from stage' });
  readonly file = h('input', { type: 'text', name: 'file', autocomplete: 'off', spellcheck: 'false', placeholder: 'result.json', 'aria-label': 'JSON file' });
  readonly pointer = h('input', { type: 'text', name: 'pointer', autocomplete: 'off', spellcheck: 'false', placeholder: '/a/b', 'aria-label': 'JSON pointer' });
  readonly remove = h('button', { type: 'button', class: 'small' }, 'Remove');
  readonly slot: Slot;
  constructor(template: Template, list: string) {
    replaceChildren(this.parameter, Object.entries(template.parameters).map(([name, p]) => h('option', { value: name }, `${p.label} (${name})`)));
    this.file.setAttribute('list', list);
    this.slot = slot('parameterFrom', null, null, h('div', { class: 'from-row' }, this.parameter, ' from ', this.from, ' file ', this.file, ' at ', this.pointer, ' ', this.remove));
  }
}

export class StageEditor {
  readonly key = uid('stage');
  readonly el: HTMLElement;
  private readonly nameInput: HTMLInputElement;
  private readonly templateSelect: HTMLSelectElement;
  private readonly targetSelect = h('select', { name: 'target' });
  private readonly sizeSelect = h('select', { name: 'size' });
  private readonly slots: Record<'name' | 'template' | 'target' | 'size' | 'after' | 'stage', Slot>;
  private readonly paramBox = h('div', { class: 'param-box' });
  private readonly inputBox = h('div', { class: 'stage-inputs' });
  private readonly fromBox = h('div', { class: 'stage-param-from' });
  private readonly afterList = h('div', { class: 'after-list' });
  private readonly addFrom = h('button', { type: 'button', class: 'small' }, 'Take a parameter from a file of another stage');
  private readonly resultList = h('datalist', { id: uid('results') });
  private template: Template | undefined;
  private params: ParameterForm | undefined;
  private inputs: InputRow[] = [];
  private paramFrom: ParamFromRow[] = [];
  /** Stages ticked by hand in "runs after" (keys). */
  private readonly explicitAfter = new Set<string>();

  constructor(private readonly ctx: StageContext, name: string) {
    const id = uid('stage-f');
    this.nameInput = h('input', { id: `${id}-name`, type: 'text', name: 'stageName', value: name, autocomplete: 'off', spellcheck: 'false', maxlength: '40' });
    this.templateSelect = h('select', { id: `${id}-template`, name: 'template' }, ctx.templates.map((t) => h('option', { value: t.name }, `${t.name}: ${t.title}`)));
    this.targetSelect.id = `${id}-target`;
    this.sizeSelect.id = `${id}-size`;
    this.slots = {
      name: slot('name', 'Stage name', this.nameInput.id, this.nameInput, 'a letter, then letters, digits, "_" or "-"'),
      template: slot('template', 'Template', this.templateSelect.id, this.templateSelect),
      target: slot('target', 'Target', this.targetSelect.id, this.targetSelect),
      size: slot('size', 'Size', this.sizeSelect.id, this.sizeSelect),
      after: slot('after', 'Runs after', null, this.afterList, 'it starts once these completed (and those its files come from)'),
      stage: slot('stage', null, null, h('span')),
    };
    const remove = h('button', { type: 'button', class: 'small danger-outline', onclick: () => ctx.remove(this) }, 'Remove stage');
    this.el = h(
      'li',
      { class: 'stage-editor card', 'data-stage-key': this.key },
      h('div', { class: 'param-grid' }, this.slots.name.el, this.slots.template.el, this.slots.target.el, this.slots.size.el),
      h('fieldset', { class: 'params' }, h('legend', null, 'Parameters'), this.paramBox, this.fromBox, h('div', { class: 'actions' }, this.addFrom)),
      this.inputBox,
      this.slots.after.el,
      this.slots.stage.el,
      this.resultList,
      h('div', { class: 'actions' }, remove),
    );
    this.nameInput.addEventListener('input', () => {
      this.el.dataset.stage = this.name();
      this.checkName();
      ctx.changed();
    });
    this.templateSelect.addEventListener('change', () => {
      this.selectTemplate(this.templateSelect.value);
      ctx.changed();
    });
    this.addFrom.addEventListener('click', () => {
      this.addParamFrom();
      ctx.changed();
    });
    this.el.dataset.stage = name;
    this.selectTemplate(ctx.templates[0]?.name ?? '');
  }

  name(): string {
    return this.nameInput.value.trim();
  }

  templateOf(): Template | undefined {
    return this.template;
  }

  focus(): void {
    this.nameInput.focus();
  }

  private selectTemplate(name: string, parameters: Record<string, unknown> = {}): void {
    const t = this.ctx.templates.find((x) => x.name === name);
    this.template = t;
    this.templateSelect.value = name;
    this.params = t ? new ParameterForm(t.parameters, parameters) : undefined;
    replaceChildren(this.paramBox, this.params?.el ?? null);
    this.paramFrom = [];
    replaceChildren(this.fromBox);
    this.addFrom.hidden = !t || Object.keys(t.parameters).length === 0;
    this.inputs = Object.entries(t?.inputs ?? {}).map(([input, spec]) => new InputRow(input, spec.required, spec.label, this.resultList.id));
    replaceChildren(this.inputBox, this.inputs.length ? h('h4', null, 'Input files') : null, this.inputs.map((r) => r.slot.el));
    for (const r of this.inputs) r.from.addEventListener('change', () => this.ctx.changed());
    const targets = (t?.targets ?? []).filter((n) => !this.ctx.targets || this.ctx.targets.some((x) => x.name === n));
    const title = (n: string) => this.ctx.targets?.find((x) => x.name === n)?.title ?? n;
    replaceChildren(this.targetSelect, h('option', { value: '' }, `the template's default${targets[0] ? ` (${title(targets[0])})` : ''}`), targets.map((n) => h('option', { value: n }, title(n))));
    replaceChildren(this.sizeSelect, h('option', { value: '' }, `the template's default${t?.sizes[0] ? ` (${t.sizes[0]})` : ''}`), (t?.sizes ?? []).map((s) => h('option', { value: s }, s)));
    this.refreshRefs();
  }

  private addParamFrom(init?: { parameter: string; from: string; file: string; pointer: string }): void {
    if (!this.template) return;
    const row = new ParamFromRow(this.template, this.resultList.id);
    if (init) {
      row.parameter.value = init.parameter;
      row.file.value = init.file;
      row.pointer.value = init.pointer;
    }
    row.remove.addEventListener('click', () => {
      this.paramFrom = this.paramFrom.filter((r) => r !== row);
      row.slot.el.remove();
      this.ctx.changed();
    });
    for (const c of [row.parameter, row.from]) c.addEventListener('change', () => this.ctx.changed());
    this.paramFrom.push(row);
    this.fromBox.append(row.slot.el);
    this.refreshRefs();
    if (init) row.from.value = init.from;
  }

  /** The stages its files and parameters come from (keys). */
  private implied(): Set<string> {
    return new Set([...this.inputs.map((r) => r.from.value), ...this.paramFrom.map((r) => r.from.value)].filter((k) => k !== ''));
  }

  /** Shows the other stages' current names in its selects and "runs after", keeping what was chosen. */
  refreshRefs(): void {
    const others = this.ctx.others(this);
    for (const r of this.inputs) fromOptions(r.from, others, '— not given');
    for (const r of this.paramFrom) fromOptions(r.from, others, '— choose a stage');
    for (const k of [...this.explicitAfter]) if (!others.some((o) => o.key === k)) this.explicitAfter.delete(k);
    const implied = this.implied();
    replaceChildren(
      this.afterList,
      others.length === 0
        ? h('span', { class: 'muted' }, 'no other stage')
        : others.map((o) => {
            const box = h('input', { type: 'checkbox', name: 'after', value: o.key, checked: this.explicitAfter.has(o.key) || implied.has(o.key), disabled: implied.has(o.key) });
            box.addEventListener('change', () => {
              if (box.checked) this.explicitAfter.add(o.key);
              else this.explicitAfter.delete(o.key);
            });
            return h('label', { class: 'check-row', 'data-after': o.name() }, box, o.name() || '(unnamed)', implied.has(o.key) ? h('span', { class: 'muted' }, ' (its files)') : null);
          }),
    );
    // Parameters that come from a file are not typed in.
    const fromFile = new Set(this.paramFrom.map((r) => r.parameter.value));
    for (const f of this.params?.fields ?? []) {
      f.input.disabled = fromFile.has(f.name);
      f.el.classList.toggle('from-file', fromFile.has(f.name));
    }
    // Suggest the upstream stages' result files.
    const ups = others.filter((o) => implied.has(o.key));
    replaceChildren(this.resultList, [...new Set(ups.flatMap((o) => plainResults(o.templateOf())))].map((r) => h('option', { value: r })));
  }

  checkName(): boolean {
    const n = this.name();
    const dup = this.ctx.others(this).some((o) => o.name() === n);
    setSlotError(this.slots.name, !STAGE_NAME.test(n) ? 'A letter, then letters, digits, "_" or "-", at most 40.' : dup ? `Another stage is named ${n}.` : '');
    return STAGE_NAME.test(n) && !dup;
  }

  clearErrors(): void {
    for (const s of [...Object.values(this.slots), ...this.inputs.map((r) => r.slot), ...this.paramFrom.map((r) => r.slot)]) setSlotError(s, '');
    for (const f of this.params?.fields ?? []) f.setError(undefined);
  }

  /**
   * The stage's body, with `nameOf` turning keys into names. Strict: every field checked, each
   * problem shown at its field (then `ok` is false). Lenient (for "edit as JSON"): what is there.
   */
  spec(nameOf: (key: string) => string, strict: boolean): { ok: boolean; spec: StageBody } {
    let ok = strict ? this.checkName() : true;
    const spec: StageBody = { template: this.templateSelect.value };
    if (this.targetSelect.value) spec.target = this.targetSelect.value;
    if (this.sizeSelect.value) spec.size = this.sizeSelect.value as Size;
    const fromFile = new Set(this.paramFrom.map((r) => r.parameter.value));
    const parameters: Record<string, unknown> = {};
    for (const f of this.params?.fields ?? []) {
      if (fromFile.has(f.name)) continue;
      const r = f.read();
      if (strict) f.setError(r.error);
      if (r.error === undefined) parameters[f.name] = r.value;
      else ok = false;
    }
    spec.parameters = parameters;
    const implied = this.implied();
    const after = [...this.explicitAfter].filter((k) => !implied.has(k)).map(nameOf);
    if (after.length) spec.after = after;
    const inputs: NonNullable<StageBody['inputs']> = {};
    for (const r of this.inputs) {
      const file = r.file.value.trim();
      let error = '';
      if (r.from.value === '' && r.required) error = 'Required: choose the stage it comes from, and its file.';
      else if (r.from.value !== '' && file === '') error = 'Name the file (a path in that stage’s run folder).';
      if (strict) setSlotError(r.slot, error);
      if (error) ok = false;
      if (r.from.value !== '' && (file !== '' || !strict)) inputs[r.input] = { from: nameOf(r.from.value), file };
    }
    if (Object.keys(inputs).length) spec.inputs = inputs;
    const parameterFrom: NonNullable<StageBody['parameterFrom']> = {};
    for (const r of this.paramFrom) {
      const file = r.file.value.trim();
      const pointer = r.pointer.value.trim();
      const twice = Object.hasOwn(parameterFrom, r.parameter.value);
      const error = twice ? 'This parameter is taken from a file in another row already.' : r.from.value === '' ? 'Choose the stage it comes from.' : file === '' ? 'Name the JSON file.' : !POINTER.test(pointer) ? 'A JSON pointer such as /a/b ("" for the whole file).' : '';
      if (strict) setSlotError(r.slot, error);
      if (error) ok = false;
      parameterFrom[r.parameter.value] = { from: r.from.value ? nameOf(r.from.value) : '', file, pointer };
    }
    if (Object.keys(parameterFrom).length) spec.parameterFrom = parameterFrom;
    return { ok, spec };
  }

  /** Fills the stage from a body (edit as JSON, then back); `keyOf` turns stage names into keys. Refs are set by loadRefs once every stage exists. */
  load(spec: StageBody): void {
    this.selectTemplate(spec.template, spec.parameters ?? {});
    this.targetSelect.value = spec.target ?? '';
    this.sizeSelect.value = spec.size ?? '';
  }

  loadRefs(spec: StageBody, keyOf: (name: string) => string | undefined): void {
    this.refreshRefs();
    this.explicitAfter.clear();
    for (const n of spec.after ?? []) {
      const k = keyOf(n);
      if (k) this.explicitAfter.add(k);
    }
    for (const r of this.inputs) {
      const i = spec.inputs?.[r.input];
      r.from.value = (i && keyOf(i.from)) ?? '';
      r.file.value = i?.file ?? '';
    }
    for (const [parameter, p] of Object.entries(spec.parameterFrom ?? {})) this.addParamFrom({ parameter, from: keyOf(p.from) ?? '', file: p.file, pointer: p.pointer });
    this.refreshRefs();
  }

  /**
   * Shows one of the server's problems at its field: `field` is name, template, target, size,
   * after, parameters, inputs.<input>, parameterFrom(.<parameter>) or stage (the stage as a
   * whole). Returns false when it had nowhere better than the stage line to put it.
   */
  showError(field: string, message: string, issues: Issue[] = []): boolean {
    if (field === 'parameters' && this.params) {
      const rest = this.params.showIssues(issues.length ? issues : [{ path: [], message }]);
      if (rest.length === 0) return true;
    }
    if (field.startsWith('inputs.')) {
      const row = this.inputs.find((r) => r.input === field.slice('inputs.'.length));
      if (row) return (setSlotError(row.slot, message), true);
    }
    if (field.startsWith('parameterFrom')) {
      const p = field.split('.')[1];
      const row = this.paramFrom.find((r) => r.parameter.value === p) ?? this.paramFrom[0];
      if (row) return (setSlotError(row.slot, message), true);
    }
    const s = (this.slots as Record<string, Slot | undefined>)[field];
    setSlotError(s ?? this.slots.stage, message);
    return s !== undefined && field !== 'stage';
  }
}
