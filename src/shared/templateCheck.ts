/**
 * The collecting validator of a templates folder, used by `jobvisor templates check DIR` and
 * by the supervisor's (re)loads: every problem of every template, each with its file and field
 * (JSON syntax errors with line and column), instead of stopping at the first. A folder with a
 * problem yields no template; the others are unaffected.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { TemplateFile, templateProblems, type Template } from './template.js';

export interface TemplateProblem {
  /** The template.json (or the folder) the problem is in. */
  file: string;
  /** A dotted path into the file (`parameters.nx.default`); '' for the file as a whole. */
  field: string;
  message: string;
  /** JSON syntax errors: where, 1-based. */
  line?: number;
  column?: number;
  /** The template's name, when the file says it. */
  template?: string;
}

/** One folder of the templates folder, checked on its own. */
export interface FolderCheck {
  folder: string;
  file: string;
  /** The name the file gives, when it can be read. */
  name?: string;
  template?: Template;
  problems: TemplateProblem[];
}

export interface TemplatesScan {
  templates: Map<string, Template>;
  folders: FolderCheck[];
  problems: TemplateProblem[];
}

export const TEMPLATE_FILE = 'template.json';

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function jsonProblem(file: string, text: string, err: Error): TemplateProblem {
  const at = /at position (\d+)/.exec(err.message);
  const offset = at ? Number(at[1]) : /end of JSON input/.test(err.message) ? text.length : null;
  const where = offset === null ? undefined : lineColumn(text, offset);
  return { file, field: '', message: `not valid JSON: ${err.message.replace(/ in JSON at position \d+.*$/, '')}`, ...where };
}

function zodProblems(file: string, err: z.ZodError, name: string | undefined): TemplateProblem[] {
  return err.issues.map((i) => ({ file, field: i.path.join('.'), message: i.message, ...(name ? { template: name } : {}) }));
}

/** Script files a command names as `{templateDir}/x` (with no other placeholder) that are not in the template's folder. */
function missingScripts(file: string, dir: string, t: TemplateFile): TemplateProblem[] {
  const argvs: [string, string[] | undefined][] = [
    ['command', t.command],
    ['preprocess', t.preprocess],
    ['postprocess', t.postprocess],
    ...Object.entries(t.analysis).map(([k, a]): [string, string[]] => [`analysis.${k}.command`, a.command]),
  ];
  const out: TemplateProblem[] = [];
  for (const [field, argv] of argvs) {
    argv?.forEach((arg, i) => {
      const m = /^(?:--?[A-Za-z0-9_-]+=)?\{templateDir\}\/([^{}]+)$/.exec(arg);
      if (m && !existsSync(path.join(dir, m[1] as string))) out.push({ file, field: `${field}.${i}`, message: `${m[1]} is not in the template's folder`, template: t.name });
    });
  }
  return out;
}

/** Checks one template folder: its file's JSON, its schema, placeholders, defaults and scripts. */
export function checkFolder(folder: string): FolderCheck {
  const file = path.join(folder, TEMPLATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { folder, file, problems: [{ file, field: '', message: `cannot be read: ${(err as Error).message}` }] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { folder, file, problems: [jsonProblem(file, text, err as Error)] };
  }
  const name = typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : undefined;
  const parsed = TemplateFile.safeParse(raw);
  if (!parsed.success) return { folder, file, ...(name ? { name } : {}), problems: zodProblems(file, parsed.error, name) };
  const t = parsed.data;
  const problems: TemplateProblem[] = [
    ...templateProblems(t).map((p) => ({ file, ...p, template: t.name })),
    ...missingScripts(file, folder, t),
  ];
  return { folder, file, name: t.name, problems, ...(problems.length === 0 ? { template: { ...t, dir: folder } } : {}) };
}

/** The sub-folders of a templates folder that hold a template.json, sorted by name. */
function templateFolders(templatesDir: string): string[] {
  return readdirSync(templatesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(templatesDir, e.name, TEMPLATE_FILE)))
    .map((e) => path.join(templatesDir, e.name))
    .sort();
}

/**
 * Checks every template of a folder. Two folders giving one name: the one `holds(name)` says
 * already has it (a reload keeps the template where it was), else the first by folder name,
 * keeps it; the other is a problem. A missing folder is one problem and no templates.
 */
export function scanTemplates(templatesDir: string, holds: (name: string) => string | undefined = () => undefined): TemplatesScan {
  if (!existsSync(templatesDir) || !statSync(templatesDir).isDirectory()) {
    return { templates: new Map(), folders: [], problems: [{ file: templatesDir, field: '', message: 'the templates folder does not exist' }] };
  }
  const folders = templateFolders(templatesDir).map(checkFolder);
  const owner = new Map<string, string>();
  for (const f of folders) {
    if (f.name === undefined || owner.has(f.name)) continue;
    const held = holds(f.name);
    const claim = folders.find((o) => o.name === f.name && o.folder === held) ?? f;
    owner.set(f.name, claim.folder);
  }
  for (const f of folders) {
    if (f.name === undefined || owner.get(f.name) === f.folder) continue;
    f.problems.push({ file: f.file, field: 'name', message: `template name ${f.name} is used twice: ${path.basename(owner.get(f.name) as string)} has it`, template: f.name });
    delete f.template;
  }
  const templates = new Map<string, Template>();
  for (const f of folders) if (f.template) templates.set(f.template.name, f.template);
  return { templates, folders, problems: folders.flatMap((f) => f.problems) };
}

/** One line per problem: `file:line:column: field: message`. */
export function formatProblem(p: TemplateProblem): string {
  const at = p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : '';
  return `${p.file}${at}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}
