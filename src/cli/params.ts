/**
 * A run request from `jobvisor run`'s flags: `--params FILE.json` (an object of parameters),
 * then each `--set name=value` on top, read by the parameter's type in the template
 * (`number`, `integer`, `boolean`, `string`, `enum`), and `--input name=path` files. What the
 * CLI can tell is wrong (an unknown parameter, a number that is none, a file that is missing)
 * is a usage error before anything is sent; the server checks everything else (limits, ...).
 */
import { readFileSync, statSync } from 'node:fs';
import type { PublicTemplate } from '../shared/template.js';
import type { ParameterSpec } from '../shared/template.js';
import { usageError } from './exitCodes.js';
import type { FilePart } from './http.js';

/** `name=value` split at the first `=`. */
export function splitAssignment(flag: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw usageError(`${flag} ${JSON.stringify(text)}: expected name=value`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** A `--set` value as its parameter's type wants it. */
export function parseValue(name: string, spec: ParameterSpec, text: string): unknown {
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const n = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(n)) throw usageError(`--set ${name}=${text}: ${name} is a${spec.type === 'integer' ? 'n integer' : ' number'}`);
      if (spec.type === 'integer' && !Number.isInteger(n)) throw usageError(`--set ${name}=${text}: ${name} is an integer`);
      return n;
    }
    case 'boolean': {
      const v = text.toLowerCase();
      if (['true', 'yes', '1', 'on'].includes(v)) return true;
      if (['false', 'no', '0', 'off'].includes(v)) return false;
      throw usageError(`--set ${name}=${text}: ${name} is a boolean (true or false)`);
    }
    case 'enum':
      if (!spec.values.includes(text)) throw usageError(`--set ${name}=${text}: ${name} is one of ${spec.values.join(', ')}`);
      return text;
    case 'string':
      return text;
    default: {
      const _: never = spec;
      return text;
    }
  }
}

export function readParamsFile(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw usageError(`--params ${file}: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usageError(`--params ${file}: the file must hold a JSON object of parameters`);
  return value as Record<string, unknown>;
}

/**
 * The parameters of a run: the file's, then each `--set`. With no template (the server will
 * answer UNKNOWN_TEMPLATE), values are sent as text.
 */
export function buildParameters(template: PublicTemplate | undefined, paramsFile: string | undefined, sets: string[]): Record<string, unknown> {
  const parameters = paramsFile ? readParamsFile(paramsFile) : {};
  for (const s of sets) {
    const [name, text] = splitAssignment('--set', s);
    if (!template) {
      parameters[name] = text;
      continue;
    }
    const spec = (template.parameters as Record<string, ParameterSpec>)[name];
    if (!spec) throw usageError(`--set ${s}: template ${template.name} has no parameter ${name}; its parameters: ${Object.keys(template.parameters).join(', ') || 'none'}`);
    parameters[name] = parseValue(name, spec, text);
  }
  return parameters;
}

/** `--input name=path` as file parts; each file must exist and be a file. */
export function buildInputs(template: PublicTemplate | undefined, inputs: string[]): FilePart[] {
  const seen = new Set<string>();
  return inputs.map((i) => {
    const [field, file] = splitAssignment('--input', i);
    if (template && !(field in (template.inputs ?? {}))) {
      const names = Object.keys(template.inputs ?? {});
      throw usageError(`--input ${i}: template ${template.name} has no input ${field}; ${names.length ? `its inputs: ${names.join(', ')}` : 'it takes no input files'}`);
    }
    if (seen.has(field)) throw usageError(`--input ${field} given twice`);
    seen.add(field);
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      throw usageError(`--input ${i}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    if (!isFile) throw usageError(`--input ${i}: not a file`);
    return { field, file };
  });
}
