/** Turns a job's current run and its template into the ops an agent executes. */
import { analysisFrame, fillArgv, PROGRESS_FILE, type Template } from '../shared/template.js';
import { INPUTS_DIR, type Op, type StagedInput } from '../shared/protocol.js';
import type { JobRow } from './store.js';

type RunOp = Extract<Op, { kind: 'run' }>;
type AnalysisOp = Extract<Op, { kind: 'analysis' }>;

/**
 * The values of a run's placeholders, for every argv of its template (command, analyses, steps):
 * its parameters, its input files (the absolute path of each staged file, an empty string for
 * an optional input not given), then the built-ins (which win over a parameter of the same name).
 */
export function placeholders(row: JobRow, runDir: string, templatesDir: string, template: Template): Record<string, unknown> {
  const templateDir = `${templatesDir}/${template.dir.split('/').pop() ?? template.name}`;
  const progressFile = `${runDir}/${template.progress.kind === 'file' ? template.progress.path : PROGRESS_FILE}`;
  return { ...row.parameters, ...inputPaths(row, runDir, template), runDir, templateDir, progressFile };
}

/** `{input}` → `<runDir>/inputs/<file name>` for each input of the template ('' when not given). */
export function inputPaths(row: JobRow, runDir: string, template: Pick<Template, 'inputs'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(template.inputs)) {
    const given = row.inputs.find((i) => i.name === name);
    out[name] = given ? `${runDir}/${INPUTS_DIR}/${given.fileName}` : '';
  }
  return out;
}

/** The staged files a run op lists (relative to the run directory), for the agent to keep and check. */
export function stagedInputs(row: JobRow): StagedInput[] {
  return row.inputs.map((i) => ({ path: `${INPUTS_DIR}/${i.fileName}`, size: i.size, sha256: i.sha256 }));
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
    ...(row.inputs.length > 0 ? { inputs: stagedInputs(row) } : {}),
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
