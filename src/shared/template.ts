/**
 * Job templates: site-defined files, one folder per template holding `template.json` and
 * whatever the command needs. Adding a folder adds a template; jobvisor's code is unchanged.
 *
 * A command is an argv array. Its elements may hold placeholders: `{name}` for a validated
 * parameter, `{templateDir}`, `{runDir}`, `{node}` (the agent's Node binary) and, in analysis
 * commands, `{frame}` and `{index}`. It is never given to a shell. Placeholders are filled once,
 * by the supervisor (fillArgv), in one pass: a value put in is never read for placeholders again.
 * `{node}` becomes AGENT_NODE, a marker that only the agent replaces (it alone knows its Node).
 *
 * Where a template may run: `targets` lists target names or driver kinds (`["local", "docker"]`,
 * `["perlmutter"]`); without it, every target. `sizes` lists the sizes it allows, the first being
 * the default. Templates of jobvisor 0.1 name `runModes` instead (see supervisor/targets.ts).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { JobvisorError } from './errors.js';
import { NAME_PATTERN, Size } from './types.js';
import { Requires } from './labels.js';

const Label = z.string().min(1).max(200);

const NumberParam = z.object({
  type: z.enum(['number', 'integer']),
  label: Label,
  description: z.string().max(2000).optional(),
  default: z.number(),
  min: z.number().optional(),
  max: z.number().optional(),
  units: z.string().max(40).optional(),
}).strict();

const StringParam = z.object({
  type: z.literal('string'),
  label: Label,
  description: z.string().max(2000).optional(),
  default: z.string(),
  pattern: z.string().optional(),
  maxLength: z.number().int().positive().max(10_000).default(200),
}).strict();

const BooleanParam = z.object({
  type: z.literal('boolean'),
  label: Label,
  description: z.string().max(2000).optional(),
  default: z.boolean(),
}).strict();

const EnumParam = z.object({
  type: z.literal('enum'),
  label: Label,
  description: z.string().max(2000).optional(),
  values: z.array(z.string().min(1)).min(1),
  default: z.string(),
}).strict();

export const ParameterSpec = z.discriminatedUnion('type', [NumberParam, StringParam, BooleanParam, EnumParam]);
export type ParameterSpec = z.infer<typeof ParameterSpec>;

/** Where a template with `progress: {kind: "file"}` writes its progress, unless it names its own path. */
export const PROGRESS_FILE = 'progress';

export const ProgressSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stdout'), pattern: z.string().default('^PROGRESS\\s+([0-9.eE+-]+)') }).strict(),
  z.object({
    kind: z.literal('file'),
    /** Relative to the run directory; the command finds its absolute path as `{progressFile}`. */
    path: z.string().min(1).max(200).refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a path inside the run directory (relative, no "..")').default(PROGRESS_FILE),
  }).strict(),
  z.object({ kind: z.literal('none') }).strict(),
]);
export type ProgressSpec = z.infer<typeof ProgressSpec>;

const Argv = z.array(z.string()).min(1);

export const AnalysisSpec = z.object({
  description: z.string().max(2000).optional(),
  command: Argv,
  timeLimitSeconds: z.number().positive().max(300).default(20),
}).strict();

/**
 * A file input: the user uploads a file, the run gets it as `<runDir>/inputs/<file name>` (its
 * placeholder `{name}` is that absolute path; an optional input not given: an empty string).
 * `accept` lists file name extensions (`.pdb`) and/or media types (`chemical/x-pdb`, `text/*`);
 * without it, any file. `maxBytes` lowers the site's per-file limit for this input.
 */
export const InputSpec = z.object({
  label: Label,
  description: z.string().max(2000).optional(),
  maxBytes: z.number().int().positive().optional(),
  accept: z.array(z.string().regex(/^(\.[A-Za-z0-9_+-]{1,32}|[a-z0-9.+-]{1,64}\/([a-z0-9.+-]{1,64}|\*))$/, 'an extension like ".pdb" or a media type like "chemical/x-pdb" or "text/*"')).min(1).max(50).optional(),
  required: z.boolean().default(false),
}).strict();
export type InputSpec = z.infer<typeof InputSpec>;

export const TemplateFile = z.object({
  name: z.string().regex(NAME_PATTERN),
  title: z.string().min(1).max(200),
  description: z.string().max(5000).default(''),
  parameters: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), ParameterSpec),
  /** File inputs, by name; names share the placeholder namespace of parameters. */
  inputs: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), InputSpec).default({}),
  command: Argv,
  /** Steps run by the same agent in the run directory: before the command, and after it exited 0 (see steps.ts). */
  preprocess: Argv.optional(),
  postprocess: Argv.optional(),
  targets: z.array(z.string().regex(NAME_PATTERN)).min(1).optional(),
  sizes: z.array(Size).min(1).optional(),
  /** jobvisor 0.1: sizes, or a cluster kind's run mode. */
  runModes: z.array(z.string().regex(/^[a-z]{1,32}$/)).min(1).optional(),
  resources: z.object({ cores: z.number().int().positive().default(1), memoryMb: z.number().int().positive().optional() }).strict().default({ cores: 1 }),
  /** Labels a place must have to run it (src/shared/labels.ts): a run request's own `requires` add to these. */
  requires: Requires.optional(),
  timeLimitSeconds: z.number().positive(),
  progress: ProgressSpec.default({ kind: 'none' }),
  results: z.array(z.string().min(1)).default([]),
  analysis: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/), AnalysisSpec).default({}),
  /** How long a run is expected to stay in each state; one over it is flagged stale (admins are told once). */
  expectedSeconds: z.object({ pending: z.number().positive(), running: z.number().positive(), finishing: z.number().positive() }).partial().strict().optional(),
  /** Earlier runs of a job that keep their files (the site's `keepRuns` when absent). */
  keepRuns: z.number().int().min(0).max(1000).optional(),
}).strict();
export type TemplateFile = z.infer<typeof TemplateFile>;

export interface Template extends TemplateFile {
  dir: string;
}

/**
 * Markers for what only the agent knows, put into ops where the agent fills them in (see
 * protocol.ts): its Node binary, and its own folder (a cluster agent's runs and templates are
 * under it). NUL bytes make them impossible in a parameter value (string parameters refuse NUL).
 */
export const AGENT_NODE = '\u0000node\u0000';
export const AGENT_ROOT = '\u0000root\u0000';

const BUILTIN_PLACEHOLDERS = new Set(['templateDir', 'runDir', 'node', 'progressFile']);
const ANALYSIS_PLACEHOLDERS = new Set(['frame', 'index']);
const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** One thing wrong with a template, at a field (a dotted path: `parameters.nx.default`, `command.2`). */
export interface FieldProblem {
  field: string;
  message: string;
}

function placeholderProblems(argv: string[], allowed: Set<string>, field: string, where: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  argv.forEach((arg, i) => {
    for (const m of arg.matchAll(PLACEHOLDER)) {
      if (!allowed.has(m[1] ?? '')) out.push({ field: `${field}.${i}`, message: `${where}: unknown placeholder {${m[1]}}` });
    }
  });
  return out;
}

function defaultProblems(t: TemplateFile): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const [name, p] of Object.entries(t.parameters)) {
    if ((p.type === 'number' || p.type === 'integer') && p.min !== undefined && p.max !== undefined && p.min > p.max) {
      out.push({ field: `parameters.${name}`, message: `min (${p.min}) is above max (${p.max})` });
      continue;
    }
    if (p.type === 'string' && p.pattern !== undefined) {
      try {
        new RegExp(p.pattern);
      } catch (err) {
        out.push({ field: `parameters.${name}.pattern`, message: `not a regular expression: ${(err as Error).message}` });
        continue;
      }
    }
    const r = parametersSchema({ parameters: { [name]: p } }).safeParse({ [name]: p.default });
    if (!r.success) out.push({ field: `parameters.${name}.default`, message: `default values do not fit their own limits: ${formatIssues(r.error)}` });
  }
  return out;
}

/**
 * Everything wrong with a template that its schema cannot say: input names taken, unknown
 * placeholders, default values outside their own limits. Empty: the template is good.
 */
export function templateProblems(t: TemplateFile): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const name of Object.keys(t.inputs)) {
    if (Object.hasOwn(t.parameters, name) || BUILTIN_PLACEHOLDERS.has(name) || ANALYSIS_PLACEHOLDERS.has(name)) {
      out.push({ field: `inputs.${name}`, message: `input ${name}: the name is already a parameter or a built-in placeholder` });
    }
  }
  const params = new Set([...BUILTIN_PLACEHOLDERS, ...Object.keys(t.parameters), ...Object.keys(t.inputs)]);
  out.push(...placeholderProblems(t.command, params, 'command', 'command'));
  if (t.preprocess) out.push(...placeholderProblems(t.preprocess, params, 'preprocess', 'preprocess'));
  if (t.postprocess) out.push(...placeholderProblems(t.postprocess, params, 'postprocess', 'postprocess'));
  for (const [name, a] of Object.entries(t.analysis)) {
    out.push(...placeholderProblems(a.command, new Set([...params, ...ANALYSIS_PLACEHOLDERS]), `analysis.${name}.command`, `analysis ${name}`));
  }
  out.push(...defaultProblems(t));
  return out;
}

export function parseTemplate(raw: unknown, dir: string): Template {
  const t = TemplateFile.parse(raw);
  const problems = templateProblems(t);
  if (problems.length > 0) throw new Error(problems.map((p) => p.message).join('; '));
  return { ...t, dir };
}

/** Loads every `<dir>/<name>/template.json`, throwing on the first broken one (tests; the supervisor uses scanTemplates, which skips them). */
export function loadTemplates(templatesDir: string): Map<string, Template> {
  const out = new Map<string, Template>();
  if (!existsSync(templatesDir)) throw new Error(`templates folder ${templatesDir} does not exist`);
  for (const entry of readdirSync(templatesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(templatesDir, entry.name);
    const file = path.join(dir, 'template.json');
    if (!existsSync(file)) continue;
    try {
      const t = parseTemplate(JSON.parse(readFileSync(file, 'utf8')), dir);
      if (out.has(t.name)) throw new Error(`template name ${t.name} is used twice`);
      out.set(t.name, t);
    } catch (err) {
      const msg = err instanceof z.ZodError ? formatIssues(err) : (err as Error).message;
      throw new Error(`template ${file}: ${msg}`);
    }
  }
  return out;
}

function parameterSchema(spec: ParameterSpec): z.ZodType {
  switch (spec.type) {
    case 'number':
    case 'integer': {
      let s = spec.type === 'integer' ? z.number().int() : z.number();
      if (spec.min !== undefined) s = s.min(spec.min);
      if (spec.max !== undefined) s = s.max(spec.max);
      return s;
    }
    case 'string': {
      let s = z.string().max(spec.maxLength).refine((v) => !/[\0\r\n]/.test(v), 'must be one line with no NUL');
      if (spec.pattern) {
        const re = new RegExp(spec.pattern);
        s = s.refine((v) => re.test(v), `must match ${spec.pattern}`);
      }
      return s;
    }
    case 'boolean':
      return z.boolean();
    case 'enum':
      return z.enum(spec.values as [string, ...string[]]);
    default: {
      const never: never = spec;
      throw new Error(`unknown parameter type ${String(never)}`);
    }
  }
}

/** The zod schema of a template's parameters: missing ones take their default, unknown ones are refused. */
export function parametersSchema(t: Pick<TemplateFile, 'parameters'>): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(t.parameters)) shape[name] = parameterSchema(spec).default(spec.default as never);
  return z.object(shape).strict() as unknown as z.ZodType<Record<string, unknown>>;
}

export function formatIssues(err: z.ZodError, root = '(body)'): string {
  return err.issues.map((i) => `${[root, ...i.path].filter((p) => p !== '(body)' || i.path.length === 0).join('.')}: ${i.message}`).join('; ');
}

/** Each template's parameter schema, built once (building one takes milliseconds; a batch checks a thousand runs). */
const PARAMETER_SCHEMAS = new WeakMap<Template, z.ZodType<Record<string, unknown>>>();

export function validateParameters(t: Template, raw: unknown): Record<string, unknown> {
  let schema = PARAMETER_SCHEMAS.get(t);
  if (!schema) PARAMETER_SCHEMAS.set(t, (schema = parametersSchema(t)));
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    throw new JobvisorError('INVALID_INPUT', `parameters of ${t.name}: ${formatIssues(r.error, 'parameters')}`, { issues: r.error.issues });
  }
  return r.data;
}

/**
 * Fills every placeholder of an argv array, in one pass: `{node}` with AGENT_NODE, the others from
 * `values` (validated parameters and built-ins: runDir, templateDir, frame, index), looked up as
 * own properties only. A value replaces a placeholder inside one element and is never read for
 * placeholders itself.
 */
export function fillArgv(argv: string[], values: Record<string, unknown>): string[] {
  return argv.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, key: string) => {
      if (key === 'node') return AGENT_NODE;
      const v = Object.hasOwn(values, key) ? values[key] : undefined;
      if (v === undefined) return whole;
      return String(v);
    }),
  );
}

/** A template's analysis frame of that name (a name of the template's own only: never `constructor`, `__proto__`, ...). */
export function analysisFrame(t: Pick<TemplateFile, 'analysis'>, frame: string): TemplateFile['analysis'][string] | undefined {
  return Object.hasOwn(t.analysis, frame) ? t.analysis[frame] : undefined;
}

/** What clients see of a template: everything but where it lives and how it runs; with the targets it may run on. */
export function publicTemplate(t: Template, targets: string[], sizes: Size[]) {
  return {
    name: t.name,
    title: t.title,
    description: t.description,
    parameters: t.parameters,
    inputs: t.inputs,
    targets,
    sizes,
    resources: t.resources,
    requires: t.requires ?? {},
    timeLimitSeconds: t.timeLimitSeconds,
    results: t.results,
    keepRuns: t.keepRuns ?? null,
    analysis: Object.fromEntries(Object.entries(t.analysis).map(([k, a]) => [k, { description: a.description ?? '' }])),
  };
}
export type PublicTemplate = ReturnType<typeof publicTemplate>;
