/**
 * What a completed stage hands to the next: a named output file of its run becomes an input
 * file of the next stage's run (read from the upstream run's folder through its agent, io
 * `read`, and stored as an upload, so it is staged like any input), or a JSON value in one of
 * its files becomes a parameter (read by a JSON pointer; the run request then checks it against
 * the template like any parameter).
 */
import { JobvisorError } from '../../shared/errors.js';
import type { StageSpec } from '../../shared/pipelines.js';
import type { Caller } from '../../shared/types.js';
import type { Readable } from 'node:stream';
import { atPointer } from './graph.js';

export interface HandoffDeps {
  /** A file of a job's run, as a stream (reads.ts readFile). */
  readFile(caller: Caller, jobId: string, path: string, serial: number): Promise<{ size: number; stream: Readable }>;
  /** Stores a stream as an upload for an input of a template (uploads.ts receive); its id. */
  storeUpload(caller: Caller, stream: Readable, meta: { fileName: string; template: string; input: string }): Promise<string>;
  /** Removes an upload made for a run that was then refused. */
  discardUpload(caller: Caller, uploadId: string): Promise<void>;
  /** The largest file passed on. */
  maxFileBytes: number;
}

/** The upstream stage's run a stage reads from. */
export interface UpstreamRun {
  jobId: string;
  serial: number;
}

export interface Handoff {
  inputs: Record<string, string>;
  parameters: Record<string, unknown>;
}

/** Reads every file a stage takes from its upstream stages; an error names the stage and file that failed. */
export async function handOff(deps: HandoffDeps, caller: Caller, spec: StageSpec, upstream: (stage: string) => UpstreamRun): Promise<Handoff> {
  const inputs: Record<string, string> = {};
  try {
    return await readAllFrom(deps, caller, spec, upstream, inputs);
  } catch (err) {
    // Nothing is left behind: the uploads made before the failure go.
    for (const id of Object.values(inputs)) await deps.discardUpload(caller, id).catch(() => undefined);
    throw err;
  }
}

async function readAllFrom(deps: HandoffDeps, caller: Caller, spec: StageSpec, upstream: (stage: string) => UpstreamRun, inputs: Record<string, string>): Promise<Handoff> {
  const parameters: Record<string, unknown> = { ...spec.parameters };
  for (const [input, { from, file }] of Object.entries(spec.inputs)) {
    const run = upstream(from);
    const f = await open(deps, caller, run, from, file);
    const fileName = file.split('/').pop() ?? file;
    inputs[input] = await deps.storeUpload(caller, f.stream, { fileName, template: spec.template, input }).catch((err: unknown) => {
      throw new JobvisorError('RUN_START_FAILED', `input ${input} from stage ${from} (${file}): ${(err as Error).message}`);
    });
  }
  for (const [param, { from, file, pointer }] of Object.entries(spec.parameterFrom)) {
    const run = upstream(from);
    const f = await open(deps, caller, run, from, file);
    const text = (await readAll(f.stream)).toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new JobvisorError('RUN_START_FAILED', `parameter ${param}: ${file} of stage ${from} is not JSON`);
    }
    const value = atPointer(doc, pointer);
    if (value === undefined) throw new JobvisorError('RUN_START_FAILED', `parameter ${param}: ${file} of stage ${from} has nothing at ${pointer === '' ? '""' : pointer}`);
    parameters[param] = value;
  }
  return { inputs, parameters };
}

async function open(deps: HandoffDeps, caller: Caller, run: UpstreamRun, from: string, file: string): Promise<{ size: number; stream: Readable }> {
  let f;
  try {
    f = await deps.readFile(caller, run.jobId, file, run.serial);
  } catch (err) {
    const why = err instanceof JobvisorError && err.code === 'FILE_NOT_FOUND' ? 'it has no such file' : (err as Error).message;
    throw new JobvisorError('RUN_START_FAILED', `stage ${from} produced no ${file} (run ${run.serial}): ${why}`);
  }
  if (f.size > deps.maxFileBytes) {
    f.stream.destroy();
    throw new JobvisorError('RUN_START_FAILED', `${file} of stage ${from} has ${f.size} bytes, more than pipelineMaxFileBytes (${deps.maxFileBytes})`);
  }
  return f;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
