/**
 * A form generated from a template's parameter schema: one labelled field per parameter, with
 * its default, units, limits and description; numbers and strings are checked as the user types
 * and on submit, with the message next to the field. Enums are a <select>, booleans a checkbox.
 * The same checks as the server (src/shared/template.ts), so an invalid value submits nothing;
 * whatever the server still refuses is shown next to its field too (showIssues).
 */
import { h, setText, uid } from './dom.js';
import type { Issue, NumberParam, ParameterSpec, StringParam } from './types.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function unitsOf(spec: ParameterSpec): string {
  return spec.type === 'number' || spec.type === 'integer' ? (spec.units ?? '') : '';
}

function withUnits(n: number, units: string): string {
  return units ? `${n} ${units}` : String(n);
}

export function checkNumber(text: string, spec: NumberParam): { value?: number; error?: string } {
  const t = text.trim();
  const units = spec.units ?? '';
  if (t === '') return { error: 'Enter a value.' };
  if (!NUMBER.test(t)) return { error: spec.type === 'integer' ? 'Enter a whole number (digits only).' : 'Enter a number, e.g. 12, 0.5 or 1e-3.' };
  const value = Number(t);
  if (!Number.isFinite(value)) return { error: 'This number is too large.' };
  if (spec.type === 'integer' && !Number.isInteger(value)) return { error: 'Enter a whole number.' };
  if (spec.min !== undefined && value < spec.min) return { error: `Must be at least ${withUnits(spec.min, units)}.` };
  if (spec.max !== undefined && value > spec.max) return { error: `Must be at most ${withUnits(spec.max, units)}.` };
  return { value };
}

export function checkString(text: string, spec: StringParam): string | undefined {
  const max = spec.maxLength ?? 200;
  if (text.length > max) return `At most ${max} characters (now ${text.length}).`;
  if (/[\0\r\n]/.test(text)) return 'Must be one line.';
  if (spec.pattern) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(spec.pattern);
    } catch {
      re = undefined; // the server checks it
    }
    if (re && !re.test(text)) return `Must match the pattern ${spec.pattern}.`;
  }
  return undefined;
}

function rangeText(spec: ParameterSpec): string {
  if (spec.type !== 'number' && spec.type !== 'integer') return '';
  const u = spec.units ?? '';
  const kind = spec.type === 'integer' ? 'whole number' : 'number';
  if (spec.min !== undefined && spec.max !== undefined) return `${kind} from ${withUnits(spec.min, u)} to ${withUnits(spec.max, u)}`;
  if (spec.min !== undefined) return `${kind}, at least ${withUnits(spec.min, u)}`;
  if (spec.max !== undefined) return `${kind}, at most ${withUnits(spec.max, u)}`;
  return kind;
}

function showValue(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? String(v) : '';
}

/** One labelled input, its hint and its error message. */
export class Field {
  readonly el: HTMLDivElement;
  readonly input: HTMLInputElement | HTMLSelectElement;
  private readonly errorEl: HTMLParagraphElement;
  private touched = false;

  constructor(
    readonly name: string,
    readonly spec: ParameterSpec,
    initial: unknown,
    idPrefix: string,
  ) {
    const id = `${idPrefix}-${name}`;
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    const units = unitsOf(spec);
    const describedBy = `${hintId} ${errorId}`;
    const initialValue = initial === undefined ? spec.default : initial;
    switch (spec.type) {
      case 'boolean':
        this.input = h('input', { id, name, type: 'checkbox', checked: initialValue === true, 'aria-describedby': describedBy });
        break;
      case 'enum': {
        const select = h('select', { id, name, 'aria-describedby': describedBy }, ...spec.values.map((v) => h('option', { value: v }, v)));
        select.value = spec.values.includes(String(initialValue)) ? String(initialValue) : spec.default;
        this.input = select;
        break;
      }
      case 'string':
        this.input = h('input', {
          id,
          name,
          type: 'text',
          value: showValue(initialValue),
          autocomplete: 'off',
          spellcheck: 'false',
          'aria-describedby': describedBy,
        });
        break;
      default:
        this.input = h('input', {
          id,
          name,
          type: 'text',
          inputmode: spec.type === 'integer' ? 'numeric' : 'decimal',
          value: showValue(initialValue),
          autocomplete: 'off',
          spellcheck: 'false',
          'aria-describedby': describedBy,
        });
    }
    const hintParts = [spec.description ?? '', rangeText(spec), spec.type === 'boolean' ? '' : `default ${showValue(spec.default)}${units ? ` ${units}` : ''}`];
    this.errorEl = h('p', { class: 'field-error', id: errorId, 'aria-live': 'polite', 'data-field-error': name });
    const label = h('label', { for: id }, spec.label, units ? h('span', { class: 'units' }, ` (${units})`) : null);
    const hint = h('p', { class: 'hint', id: hintId }, hintParts.filter((p) => p !== '').join(' · '));
    this.el =
      spec.type === 'boolean'
        ? h('div', { class: 'field field-check', 'data-param': name }, h('div', { class: 'check-row' }, this.input, label), hint, this.errorEl)
        : h('div', { class: 'field', 'data-param': name }, label, this.input, hint, this.errorEl);
    this.input.addEventListener('input', () => {
      this.touched = true;
      this.validate();
    });
    this.input.addEventListener('blur', () => {
      if (this.touched) this.validate();
    });
  }

  /** Checks the value; shows or clears the message. Returns the message (undefined when valid). */
  validate(): string | undefined {
    const error = this.read().error;
    this.setError(error);
    return error;
  }

  read(): { value?: unknown; error?: string } {
    const spec = this.spec;
    switch (spec.type) {
      case 'boolean':
        return { value: (this.input as HTMLInputElement).checked };
      case 'enum':
        return spec.values.includes(this.input.value) ? { value: this.input.value } : { error: 'Choose one of the values.' };
      case 'string': {
        const error = checkString(this.input.value, spec);
        return error ? { error } : { value: this.input.value };
      }
      default:
        return checkNumber(this.input.value, spec);
    }
  }

  setValue(v: unknown): void {
    if (this.spec.type === 'boolean') (this.input as HTMLInputElement).checked = v === true;
    else this.input.value = showValue(v);
    this.touched = false;
    this.setError(undefined);
  }

  setError(message: string | undefined): void {
    setText(this.errorEl, message ?? '');
    this.el.classList.toggle('invalid', message !== undefined);
    if (message === undefined) this.input.removeAttribute('aria-invalid');
    else this.input.setAttribute('aria-invalid', 'true');
  }
}

/** The fields of a template's parameters. */
export class ParameterForm {
  readonly el: HTMLDivElement;
  readonly fields: Field[];

  constructor(parameters: Record<string, ParameterSpec>, initial: Record<string, unknown> = {}) {
    const prefix = uid('param');
    this.fields = Object.entries(parameters).map(([name, spec]) => new Field(name, spec, initial[name], prefix));
    this.el = h('div', { class: 'param-grid' }, this.fields.length === 0 ? h('p', { class: 'muted' }, 'This template takes no parameters.') : this.fields.map((f) => f.el));
  }

  /** The values, or the first field that is not valid (every field shows its message). */
  values(): { ok: true; values: Record<string, unknown> } | { ok: false; first: Field } {
    const values: Record<string, unknown> = {};
    let first: Field | undefined;
    for (const f of this.fields) {
      const r = f.read();
      f.setError(r.error);
      if (r.error !== undefined) first ??= f;
      else values[f.name] = r.value;
    }
    return first ? { ok: false, first } : { ok: true, values };
  }

  setValues(values: Record<string, unknown>): void {
    for (const f of this.fields) f.setValue(values[f.name] ?? f.spec.default);
  }

  resetToDefaults(): void {
    for (const f of this.fields) f.setValue(f.spec.default);
  }

  field(name: string): Field | undefined {
    return this.fields.find((f) => f.name === name);
  }

  /** Shows the server's INVALID_INPUT issues of parameters next to their fields; returns those it could not place. */
  showIssues(issues: Issue[]): Issue[] {
    const rest: Issue[] = [];
    for (const issue of issues) {
      const name = issue.path[0] === 'parameters' ? issue.path[1] : issue.path[0];
      const f = typeof name === 'string' ? this.field(name) : undefined;
      if (f) f.setError(issue.message);
      else rest.push(issue);
    }
    return rest;
  }
}
