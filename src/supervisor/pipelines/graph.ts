/**
 * A pipeline's graph, checked when it is created: every stage named by `after`, `inputs` or
 * `parameterFrom` exists, no stage depends on itself, there is no cycle, and each stage's
 * template, parameters and inputs fit. The stages in an order where each comes after the
 * stages it depends on.
 */
import { JobvisorError } from '../../shared/errors.js';
import type { PipelineBody, StageSpec } from '../../shared/pipelines.js';
import { validateParameters, type Template } from '../../shared/template.js';

/** The stages a stage waits for: its `after` and the stages its files and parameters come from. */
export function dependsOn(spec: StageSpec): string[] {
  const deps = new Set<string>(spec.after);
  for (const i of Object.values(spec.inputs)) deps.add(i.from);
  for (const p of Object.values(spec.parameterFrom)) deps.add(p.from);
  return [...deps];
}

/** The stage names in dependency order (Kahn's algorithm, ties by the order given); PIPELINE_CYCLE naming a cycle otherwise. */
export function stageOrder(stages: Record<string, StageSpec>): string[] {
  const names = Object.keys(stages);
  const deps = new Map(names.map((n) => [n, dependsOn(stages[n]!)]));
  for (const [name, ds] of deps) {
    for (const d of ds) {
      if (!deps.has(d)) throw new JobvisorError('PIPELINE_UNKNOWN_STAGE', `stage ${name} depends on stage ${d}, which the pipeline does not have`, { stage: name, unknown: d });
      if (d === name) throw new JobvisorError('PIPELINE_CYCLE', `stage ${name} depends on itself`, { cycle: [name, name] });
    }
  }
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && deps.get(n)!.every((d) => done.has(d)));
    if (next === undefined) throw new JobvisorError('PIPELINE_CYCLE', `the stages form a cycle: ${findCycle(deps, done).join(' → ')}`, { cycle: findCycle(deps, done) });
    done.add(next);
    order.push(next);
  }
  return order;
}

/** A cycle among the stages not yet ordered (each of them has an unordered dependency). */
function findCycle(deps: Map<string, string[]>, done: Set<string>): string[] {
  const start = [...deps.keys()].find((n) => !done.has(n))!;
  const path: string[] = [];
  let at = start;
  while (!path.includes(at)) {
    path.push(at);
    at = deps.get(at)!.find((d) => !done.has(d))!;
  }
  return [...path.slice(path.indexOf(at)), at];
}

export interface GraphLimits {
  maxStages: number;
}

/**
 * Checks a whole pipeline before anything is stored: the graph, and each stage's template,
 * its given parameters (those that come from files are checked when they are read) and its
 * inputs. Returns the stage order.
 */
export function checkPipeline(body: PipelineBody, templates: (name: string) => Template | undefined, limits: GraphLimits): string[] {
  const names = Object.keys(body.stages);
  if (names.length === 0) throw new JobvisorError('INVALID_INPUT', 'a pipeline needs at least one stage');
  if (names.length > limits.maxStages) throw new JobvisorError('INVALID_INPUT', `a pipeline may have at most ${limits.maxStages} stages (pipelineMaxStages); this one has ${names.length}`, { limit: limits.maxStages });
  const order = stageOrder(body.stages);
  for (const name of order) checkStage(name, body.stages[name]!, templates);
  return order;
}

function checkStage(name: string, spec: StageSpec, templates: (name: string) => Template | undefined): void {
  const template = templates(spec.template);
  if (!template) throw new JobvisorError('UNKNOWN_TEMPLATE', `stage ${name}: no template named "${spec.template}"`, { stage: name });
  for (const p of Object.keys(spec.parameterFrom)) {
    if (!Object.hasOwn(template.parameters, p)) throw new JobvisorError('INVALID_INPUT', `stage ${name}: template ${template.name} has no parameter ${p} (parameterFrom)`, { stage: name });
    if (Object.hasOwn(spec.parameters, p)) throw new JobvisorError('INVALID_INPUT', `stage ${name}: parameter ${p} is given and also read from stage ${spec.parameterFrom[p]!.from}`, { stage: name });
  }
  try {
    validateParameters(template, spec.parameters);
  } catch (err) {
    // The issues (paths under "parameters") stay, so that a form can show each at its field.
    if (err instanceof JobvisorError) throw new JobvisorError(err.code, `stage ${name}: ${err.message}`, { ...(err.details as object | undefined), stage: name });
    throw err;
  }
  for (const input of Object.keys(spec.inputs)) {
    if (!Object.hasOwn(template.inputs, input)) {
      throw new JobvisorError('UNKNOWN_INPUT', `stage ${name}: template ${template.name} has no input ${input}`, { stage: name, input });
    }
  }
  for (const [input, s] of Object.entries(template.inputs)) {
    if (s.required && !Object.hasOwn(spec.inputs, input)) throw new JobvisorError('INPUT_REQUIRED', `stage ${name}: input ${input} of ${template.name} is required; name the stage and file it comes from`, { stage: name, input });
  }
}

/** The value at a JSON pointer (RFC 6901) in a parsed document; undefined when it names nothing. */
export function atPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let at: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(at) && /^(0|[1-9][0-9]*)$/.test(key)) at = at[Number(key)];
    else if (at !== null && typeof at === 'object' && !Array.isArray(at) && Object.hasOwn(at, key)) at = (at as Record<string, unknown>)[key];
    else return undefined;
  }
  return at;
}
