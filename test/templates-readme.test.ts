/**
 * The README documents every field of template.json: each field of the TemplateFile schema (and
 * of its parameters, inputs, progress, analysis frames, resources and expected times) is the
 * first cell of a table row in the README's "Job templates" section. A field added to the
 * schema without a row fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TemplateFile } from '../src/shared/template.js';

const README = readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

/** Every field name of a schema, as `section.field` (objects, records, unions, defaults and optionals unwrapped). */
function fields(schema: z.ZodType, at: string, out: Set<string>): Set<string> {
  const def = (schema as unknown as { def: { type: string; innerType?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[]; element?: z.ZodType } }).def;
  if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'pipe') {
    return def.innerType ? fields(def.innerType, at, out) : out;
  }
  if (def.type === 'record' && def.valueType) return fields(def.valueType, at, out);
  if (def.type === 'union' && def.options) {
    for (const o of def.options) fields(o, at, out);
    return out;
  }
  if (def.type === 'object') {
    for (const [k, v] of Object.entries((schema as z.ZodObject).shape)) {
      out.add(`${at}${k}`);
      if (!['requires'].includes(k)) fields(v as z.ZodType, `${k}.`, out);
    }
  }
  return out;
}

function documented(section: string): Set<string> {
  const out = new Set<string>();
  for (const line of section.split('\n')) {
    const cell = /^\|\s*([^|]+?)\s*\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const m of cell.matchAll(/`([A-Za-z.]+)`/g)) out.add(m[1] as string);
  }
  return out;
}

describe('the README on templates', () => {
  it('has a table row for every field of template.json', () => {
    const start = README.indexOf('\n## Job templates');
    const section = README.slice(start, README.indexOf('\n## ', start + 5));
    const rows = documented(section);
    const wanted = [...fields(TemplateFile, '', new Set())].map((f) => f.split('.').slice(-2).join('.'));
    const missing = wanted.filter((f) => !rows.has(f) && !rows.has(f.split('.').pop() as string));
    expect(missing).toEqual([]);
  });
});
