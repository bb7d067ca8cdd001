/**
 * Input files on the agent's side: each arrives in chunks (io `write` ops) into the run
 * directory's `inputs/` folder before its run op, and is checked (size, sha256) before the
 * command starts. Only plain names directly inside `inputs/` may be written: never a path
 * elsewhere, never through a symlink.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import { INPUTS_DIR, MAX_WRITE_CHUNK, type StagedInput } from '../shared/protocol.js';

/** A staged file's name: one path element of safe characters (the supervisor sanitises it; the agent checks again). */
export const SAFE_INPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** `inputs/<name>` → `<name>`, or a refusal. */
function inputName(rel: string): string {
  const parts = rel.split('/');
  const name = parts[1] ?? '';
  if (parts.length !== 2 || parts[0] !== INPUTS_DIR || !SAFE_INPUT_NAME.test(name) || name.includes('..')) {
    throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', `${rel} is not a file name inside ${INPUTS_DIR}/`);
  }
  return name;
}

/** The run directory's `inputs/` folder, made if missing; anything there that is not a real folder (a symlink a command left) is removed first. */
async function inputsDir(runDir: string): Promise<string> {
  await mkdir(runDir, { recursive: true, mode: 0o750 });
  const dir = path.join(runDir, INPUTS_DIR);
  const st = await lstat(dir).catch(() => null);
  if (st && !st.isDirectory()) await rm(dir, { force: true, recursive: true });
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const [root, real] = await Promise.all([realpath(runDir), realpath(dir)]);
  if (real !== path.join(root, INPUTS_DIR)) throw new JobvisorError('PATH_OUTSIDE_RUN_DIR', `${INPUTS_DIR}/ leads outside the run directory`);
  return real;
}

/** Writes one chunk of an input file at `offset` (0 starts the file anew); returns the file's size after it. */
export async function writeInputChunk(runDir: string, rel: string, offset: number, dataBase64: string): Promise<{ size: number }> {
  const name = inputName(rel);
  const data = Buffer.from(dataBase64, 'base64');
  if (data.length > MAX_WRITE_CHUNK) throw new JobvisorError('INVALID_INPUT', `a chunk holds at most ${MAX_WRITE_CHUNK} bytes`);
  const file = path.join(await inputsDir(runDir), name);
  const st = await lstat(file).catch(() => null);
  if (st && !st.isFile()) await rm(file, { force: true, recursive: true });
  if (offset > 0 && (!st?.isFile() || st.size < offset)) {
    throw new JobvisorError('INVALID_INPUT', `${rel} has ${st?.isFile() ? st.size : 0} bytes; a chunk at ${offset} would leave a hole`);
  }
  const fh = await open(file, offset === 0 ? 'w' : 'r+', 0o640);
  try {
    if (data.length > 0) await fh.write(data, 0, data.length, offset);
    await fh.truncate(offset + data.length);
    return { size: offset + data.length };
  } finally {
    await fh.close();
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Removes what `inputs/` holds besides the staged files (a previous run's inputs). */
export async function keepOnlyInputs(runDir: string, inputs: StagedInput[]): Promise<void> {
  const keep = new Set(inputs.map((i) => inputName(i.path)));
  const dir = path.join(runDir, INPUTS_DIR);
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) if (!keep.has(e)) await rm(path.join(dir, e), { recursive: true, force: true });
}

/** Every staged input is there, a regular file of its size and sha256: otherwise the run does not start. */
export async function checkStagedInputs(runDir: string, inputs: StagedInput[]): Promise<void> {
  for (const input of inputs) {
    const file = path.join(runDir, INPUTS_DIR, inputName(input.path));
    const st = await lstat(file).catch(() => null);
    if (!st?.isFile()) throw new JobvisorError('RUN_START_FAILED', `input file ${input.path} was not staged into the run directory`);
    if (st.size !== input.size) throw new JobvisorError('RUN_START_FAILED', `input file ${input.path} has ${st.size} bytes, not ${input.size}`);
    if ((await sha256Of(file)) !== input.sha256) throw new JobvisorError('RUN_START_FAILED', `input file ${input.path} does not have its sha256`);
  }
}
