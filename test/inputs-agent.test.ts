/**
 * The agent's side of input files (src/cmds/inputs.ts, prepareRunDir): chunks are written only
 * as plain names directly inside `inputs/` (never through a symlink a command left), and a run
 * starts only when every staged file is there with its size and sha256; nothing else of the run
 * directory stays.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeInputChunk } from '../src/cmds/inputs.js';
import { prepareRunDir } from '../src/cmds/runDir.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('staging input files on the agent', () => {
  let root: string;
  let runDir: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-inputs-'));
    runDir = path.join(root, 'run');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes chunks in order into inputs/, offset 0 starting the file anew', async () => {
    expect(await writeInputChunk(runDir, 'inputs/a.txt', 0, b64('hello '))).toEqual({ size: 6 });
    expect(await writeInputChunk(runDir, 'inputs/a.txt', 6, b64('world'))).toEqual({ size: 11 });
    expect(readFileSync(path.join(runDir, 'inputs', 'a.txt'), 'utf8')).toBe('hello world');
    expect(await writeInputChunk(runDir, 'inputs/a.txt', 0, b64('new'))).toEqual({ size: 3 });
    expect(readFileSync(path.join(runDir, 'inputs', 'a.txt'), 'utf8')).toBe('new');
    await expect(writeInputChunk(runDir, 'inputs/a.txt', 10, b64('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('refuses any path but a plain name inside inputs/', async () => {
    for (const rel of ['a.txt', 'inputs/../a.txt', 'inputs/..', 'inputs/sub/a.txt', '/etc/passwd', 'inputs/.hidden', 'inputs/', 'other/a.txt', 'inputs/a\u0000b']) {
      await expect(writeInputChunk(runDir, rel, 0, b64('x')), rel).rejects.toMatchObject({ code: 'PATH_OUTSIDE_RUN_DIR' });
    }
    expect(existsSync(path.join(root, 'a.txt'))).toBe(false);
  });

  it('never writes through a symlink a command left in the run directory', async () => {
    const outside = path.join(root, 'outside');
    mkdirSync(outside);
    mkdirSync(runDir, { recursive: true });
    symlinkSync(outside, path.join(runDir, 'inputs'));
    await writeInputChunk(runDir, 'inputs/a.txt', 0, b64('x'));
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(path.join(runDir, 'inputs', 'a.txt'), 'utf8')).toBe('x');
    symlinkSync(path.join(outside, 'target'), path.join(runDir, 'inputs', 'b.txt'));
    await writeInputChunk(runDir, 'inputs/b.txt', 0, b64('y'));
    expect(readdirSync(outside)).toEqual([]);
  });

  it('keeps the staged inputs (only them) when preparing the run directory, and checks them', async () => {
    mkdirSync(path.join(runDir, 'inputs'), { recursive: true });
    writeFileSync(path.join(runDir, 'old-result.json'), '{}');
    writeFileSync(path.join(runDir, 'inputs', 'previous.txt'), 'old');
    await writeInputChunk(runDir, 'inputs/a.txt', 0, b64('abc'));
    await prepareRunDir(runDir, { p: 1 }, [{ path: 'inputs/a.txt', size: 3, sha256: sha('abc') }]);
    expect(readdirSync(runDir).sort()).toEqual(['inputs', 'parameters.json']);
    expect(readdirSync(path.join(runDir, 'inputs'))).toEqual(['a.txt']);

    await expect(prepareRunDir(runDir, {}, [{ path: 'inputs/a.txt', size: 4, sha256: sha('abc') }])).rejects.toMatchObject({ code: 'RUN_START_FAILED' });
    await expect(prepareRunDir(runDir, {}, [{ path: 'inputs/a.txt', size: 3, sha256: sha('abd') }])).rejects.toThrow(/sha256/);
    await expect(prepareRunDir(runDir, {}, [{ path: 'inputs/missing.txt', size: 3, sha256: sha('abc') }])).rejects.toThrow(/was not staged/);
    // Without staged inputs, the run directory is emptied as before.
    await prepareRunDir(runDir, {});
    expect(readdirSync(runDir)).toEqual(['parameters.json']);
  });
});
