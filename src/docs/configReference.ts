/**
 * The README's configuration reference, made from the config schema (src/shared/config.ts
 * SETTINGS and defaults()): one row per setting with its environment variable, type, default
 * and what it accepts. `npm run docs` writes it into README.md between the markers below;
 * test/readme-config.test.ts fails when the README's block differs from what this makes now.
 */
import type { z } from 'zod';
import { SETTINGS, defaults, envName, type SettingName } from '../shared/config.js';

export const START_MARKER = '<!-- config-reference:start -->';
export const END_MARKER = '<!-- config-reference:end -->';

/** Defaults that depend on the machine or the folder jobvisor starts in, shown as words. */
const SHOWN_DEFAULTS: Partial<Record<SettingName, string>> = {
  dataDir: '`./data` (of the folder jobvisor starts in)',
  templatesDir: "`templates/` of jobvisor's package",
  slotsParallel: "this machine's CPU count",
};

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; options?: unknown[]; values?: unknown[]; checks?: { _zod: { def: { check: string; format?: string } } }[]; format?: string };

function defOf(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** A short word for a setting's schema: integer, number, string, boolean, one of a|b, JSON. */
export function typeOf(schema: z.ZodType): string {
  const d = defOf(schema);
  switch (d.type) {
    case 'optional':
    case 'default':
    case 'nullable':
      return typeOf(d.innerType as z.ZodType);
    case 'pipe': {
      // z.coerce.number() is a number; z.preprocess(JSON.parse, schema) is JSON.
      const inner = (d.out ?? d.in) as z.ZodType;
      const t = defOf(d.in as z.ZodType).type;
      if (t === 'transform') return 'JSON';
      return typeOf(inner);
    }
    case 'number': {
      const int = (d.checks ?? []).some((c) => c._zod.def.format === 'safeint' || c._zod.def.check === 'number_format');
      return int || d.format === 'safeint' ? 'integer' : 'number';
    }
    case 'string':
      return d.format === 'url' ? 'URL' : 'string';
    case 'enum':
      return Object.values((d as unknown as { entries: Record<string, string> }).entries).join(' \\| ');
    case 'union':
      return 'boolean';
    case 'boolean':
      return 'boolean';
    default:
      return 'JSON';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function shownDefault(name: SettingName, value: unknown): string {
  const shown = SHOWN_DEFAULTS[name];
  if (shown !== undefined) return shown;
  if (value === undefined) return '(none)';
  return '`' + cell(JSON.stringify(value)) + '`';
}

/** The Markdown block (markers included) the README holds. */
export function renderConfigReference(): string {
  const d = defaults();
  const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const [schema, accepts] = SETTINGS[name];
    const t = typeOf(schema as z.ZodType);
    return `| \`${name}\` | \`${envName(name)}\` | ${t.includes('|') ? t : t} | ${shownDefault(name, d[name])} | ${cell(accepts)} |`;
  });
  return [
    START_MARKER,
    '<!-- made by `npm run docs` from src/shared/config.ts; do not edit by hand (test/readme-config.test.ts checks it) -->',
    '',
    '| Setting | Environment variable | Type | Default | Accepts |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    END_MARKER,
  ].join('\n');
}

/** `readme` with its block between the markers replaced by `block`; throws when the markers are missing. */
export function replaceConfigReference(readme: string, block: string): string {
  const a = readme.indexOf(START_MARKER);
  const b = readme.indexOf(END_MARKER);
  if (a < 0 || b < a) throw new Error(`README has no ${START_MARKER} ... ${END_MARKER} block`);
  return readme.slice(0, a) + block + readme.slice(b + END_MARKER.length);
}

/** The README's current block (markers included), or null. */
export function currentConfigReference(readme: string): string | null {
  const a = readme.indexOf(START_MARKER);
  const b = readme.indexOf(END_MARKER);
  if (a < 0 || b < a) return null;
  return readme.slice(a, b + END_MARKER.length);
}
