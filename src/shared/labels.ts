/**
 * Labels and requirements: what a place where runs go offers (an enrolled worker's labels, a
 * target's `labels` in config) and what a run needs (`requires` of its template and of its
 * request). Declared once for the supervisor, the server and the agent.
 *
 * A label is `key=value` (`gpu=a100`, `os=linux`), its value possibly versioned
 * (`code=lammps@2023`). A requirement `{key: spec}` holds when the place has the label `key` and:
 *   - `spec` is a plain value: the label's value is exactly it (`gpu: "a100"`);
 *   - `spec` is `name>=x` (or `<=`, `>`, `<`, `=`): the label's value is `name@v` and v compares
 *     so with x (`code: "lammps>=2022"` holds for `code=lammps@2023`);
 *   - `spec` is `>=x` (no name): the label's value itself is the version (`cuda: ">=12"` holds
 *     for `cuda=12.2`).
 * Versions compare part by part (split on `.`, `-`, `_`): numbers as numbers, else as text.
 */
import { z } from 'zod';

const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const VALUE = /^[A-Za-z0-9_.@+-]{1,128}$/;
const SPEC = /^[A-Za-z0-9_.@+<>=-]{1,130}$/;
/** The most labels a worker or a target has, and requirements a run states. */
export const MAX_LABELS = 32;

export const LabelKey = z.string().regex(KEY, 'a label name: a letter, then letters, digits, "_", "." or "-" (64 at most)');
export const Labels = z.record(LabelKey, z.string().regex(VALUE, 'a label value: letters, digits, "_", ".", "@", "+" or "-" (128 at most)'))
  .refine((o) => Object.keys(o).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`);
export type Labels = z.infer<typeof Labels>;
/** The labels an enrollment token lets its workers claim: a value, or "*" for any value. */
export const AllowedLabels = z.record(LabelKey, z.string().regex(/^(\*|[A-Za-z0-9_.@+-]{1,128})$/, 'a label value, or "*" for any value'))
  .refine((o) => Object.keys(o).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`);

export const Requires = z.record(LabelKey, z.string().regex(SPEC, 'a value, or a version comparison such as "lammps>=2022" or ">=12"').refine((s) => parseSpec(s) !== undefined, 'a value, or name<op>version with op one of >= <= > < ='))
  .refine((o) => Object.keys(o).length <= MAX_LABELS, `at most ${MAX_LABELS} requirements`);
export type Requires = z.infer<typeof Requires>;

type Op = '>=' | '<=' | '>' | '<' | '=';
interface Spec {
  name: string | null;
  op: Op | null;
  value: string;
}

/** A requirement's value read as an exact value or as a comparison; undefined when it is neither. */
export function parseSpec(spec: string): Spec | undefined {
  const m = /^([A-Za-z0-9_.+-]*?)(>=|<=|>|<|=)([A-Za-z0-9_.+-]+)$/.exec(spec);
  if (m) return { name: m[1] ? m[1] : null, op: m[2] as Op, value: m[3] as string };
  if (/[<>=]/.test(spec)) return undefined;
  return { name: null, op: null, value: spec };
}

/** Compares two versions part by part: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[._-]/);
  const pb = b.split(/[._-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) return c;
  }
  return 0;
}

function holds(op: Op, c: number): boolean {
  switch (op) {
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '=':
      return c === 0;
    default: {
      const never: never = op;
      return never;
    }
  }
}

/** Whether one label value meets one requirement. */
export function meets(label: string | undefined, spec: string): boolean {
  if (label === undefined) return false;
  const s = parseSpec(spec);
  if (!s) return false;
  if (s.op === null) return label === s.value;
  let version = label;
  if (s.name !== null) {
    const at = label.lastIndexOf('@');
    if (at < 0 || label.slice(0, at) !== s.name) return false;
    version = label.slice(at + 1);
  }
  return holds(s.op, compareVersions(version, s.value));
}

/** The requirements `labels` do not meet, each as `key=spec` (empty: they all hold). */
export function unmet(requires: Requires, labels: Labels): string[] {
  return Object.entries(requires).filter(([k, spec]) => !meets(labels[k], spec)).map(([k, spec]) => (parseSpec(spec)?.op ? `${k} ${spec}` : `${k}=${spec}`));
}

/** Reads `os=linux,gpu=a100,code=lammps@2023` (the agent's `--labels`); throws with the bad entry. */
export function parseLabelList(text: string): Labels {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`label "${part}" is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const r = Labels.safeParse(out);
  if (!r.success) throw new Error(`labels: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The run's requirements: its template's, with its request's on top. */
export function mergeRequires(template: Requires | undefined, run: Requires | undefined): Requires {
  return { ...(template ?? {}), ...(run ?? {}) };
}
