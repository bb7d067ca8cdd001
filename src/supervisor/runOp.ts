/** Turns a job's current run and its template into the ops an agent executes. */
import { analysisFrame, fillArgv, type Template } from '../shared/template.js';
import type { Op } from '../shared/protocol.js';
import type { JobRow } from './store.js';

type RunOp = Extract<Op, { kind: 'run' }>;
type AnalysisOp = Extract<Op, { kind: 'analysis' }>;

/** The values of a run's placeholders: its parameters, then the built-ins (which win over a parameter of the same name). */
function placeholders(row: JobRow, runDir: string, templatesDir: string, template: Template): Record<string, unknown> {
  const templateDir = `${templatesDir}/${template.dir.split('/').pop() ?? template.name}`;
  return { ...row.parameters, runDir, templateDir };
}

/** The run op: the template's argv filled from validated parameters; time limit capped by the target's for the run's size. */
export function buildRunOp(row: JobRow, template: Template, runDir: string, templatesDir: string, maxTimeSeconds: number): RunOp {
  const values = placeholders(row, runDir, templatesDir, template);
  return {
    kind: 'run',
    jobId: row.id,
    serial: row.serial,
    runDir,
    argv: fillArgv(template.command, values),
    ...(template.preprocess ? { preprocess: fillArgv(template.preprocess, values) } : {}),
    ...(template.postprocess ? { postprocess: fillArgv(template.postprocess, values) } : {}),
    parameters: row.parameters,
    progress: template.progress,
    timeLimitSeconds: Math.min(template.timeLimitSeconds, maxTimeSeconds),
  };
}

export function buildAnalysisOp(row: JobRow, template: Template, frame: string, index: number, runDir: string, templatesDir: string): AnalysisOp | undefined {
  const spec = analysisFrame(template, frame);
  if (!spec) return undefined;
  return {
    kind: 'analysis',
    jobId: row.id,
    serial: row.serial,
    runDir,
    argv: fillArgv(spec.command, { ...placeholders(row, runDir, templatesDir, template), frame, index }),
    timeLimitSeconds: spec.timeLimitSeconds,
  };
}
