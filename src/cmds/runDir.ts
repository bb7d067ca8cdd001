/**
 * The run directory of a job: emptied and prepared for each new run, and the only place an
 * op may read from. Paths are checked twice: by their text (no absolute path, no `..`) and by
 * where they really lead (no symlink out of the run directory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import { INPUTS_DIR, RUN_LOG, type StagedInput } from '../shared/protocol.js';
import { checkStagedInputs, keepOnlyInputs } from './inputs.js';

export const PARAMETERS_FILE = 'parameters.json';
export { RUN_LOG };

/**
 * Empties the run directory for a new run and writes its parameters. Input files staged for the
 * run (`inputs`, see inputs.ts) stay in `inputs/`, and are checked; nothing else stays.
 *
 * The common case, a folder made fresh and one small file written, is done with synchronous
 * calls: a few microseconds of syscalls (mkdir; open, write, close), where the promise versions
 * cost four round trips through libuv's thread pool before the run could start (issue 13: about
 * a tenth of the agent's CPU per trivial run went there). Emptying an old folder, which may be
 * large, stays asynchronous.
 */
export async function prepareRunDir(runDir: string, parameters: Record<string, unknown>, inputs: StagedInput[] = []): Promise<void> {
  // A job's first run finds no folder: one mkdir makes it, where a recursive rm would walk the path first.
  if (inputs.length > 0 || !madeFresh(runDir)) {
    if (inputs.length === 0) {
      await rm(runDir, { recursive: true, force: true });
    } else {
      const entries = await readdir(runDir).catch(() => [] as string[]);
      for (const e of entries) if (e !== INPUTS_DIR) await rm(path.join(runDir, e), { recursive: true, force: true });
      await keepOnlyInputs(runDir, inputs);
      await checkStagedInputs(runDir, inputs);
    }
    await mkdir(runDir, { recursive: true, mode: 0o750 });
  }
  writeFileSync(path.join(runDir, PARAMETERS_FILE), JSON.stringify(parameters, null, 2) + '\n');
}

/** Makes the folder `runDir` if nothing is there (its parent must exist); false if something is there or its parent is missing. */
function madeFresh(runDir: string): boolean {
  try {
    mkdirSync(runDir, { mode: 0o750 });
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `rel` inside `runDir`, after following symlinks; refuses anything outside. */
export async function resolveInRunDir(runDir: string, rel: string): Promise<string> {
  if (path.isAbsolute(rel) || rel.includes('\0') || rel.split(/[\\/]/).includes('..')) {
    throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', `${rel} is not inside the run directory`);
  }
  let root: string;
  try {
    root = await realpath(runDir);
  } catch {
    throw new JobvisorError('FILE_NOT_FOUND', 'the run directory does not exist');
  }
  let real: string;
  try {
    real = await realpath(path.join(root, rel));
  } catch {
    throw new JobvisorError('FILE_NOT_FOUND', `no file ${rel}`);
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', `${rel} leads outside the run directory`);
  }
  return real;
}
