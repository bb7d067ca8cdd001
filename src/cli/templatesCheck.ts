/**
 * `jobvisor templates check DIR [--json]`: checks a templates folder as the supervisor loads it
 * and prints every problem, one per line as `file:line:column: field: message` (or, with
 * `--json`, `{ok, templates, problems}`). Exit code 0 when every template is good, 1 otherwise.
 */
import path from 'node:path';
import { formatProblem, scanTemplates, type TemplateProblem } from '../shared/templateCheck.js';

export interface TemplatesCheckAnswer {
  ok: boolean;
  dir: string;
  /** The names of the good templates. */
  templates: string[];
  problems: TemplateProblem[];
}

export function checkTemplatesDir(dir: string): TemplatesCheckAnswer {
  const abs = path.resolve(dir);
  const scan = scanTemplates(abs);
  return { ok: scan.problems.length === 0, dir: abs, templates: [...scan.templates.keys()].sort(), problems: scan.problems };
}

/** Runs the check and writes its report; resolves to the exit code. */
export function templatesCheck(dir: string, opts: { json?: boolean }, out: (text: string) => void = (t) => process.stdout.write(t)): number {
  const answer = checkTemplatesDir(dir);
  if (opts.json) {
    out(JSON.stringify(answer, null, 2) + '\n');
  } else {
    for (const p of answer.problems) out(formatProblem(p) + '\n');
    const bad = new Set(answer.problems.map((p) => p.file)).size;
    out(answer.ok
      ? `${answer.templates.length} template(s) good: ${answer.templates.join(', ') || '(none)'}\n`
      : `${answer.problems.length} problem(s) in ${bad} file(s); ${answer.templates.length} template(s) good${answer.templates.length ? `: ${answer.templates.join(', ')}` : ''}\n`);
  }
  return answer.ok ? 0 : 1;
}
