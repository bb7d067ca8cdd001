/**
 * Pieces of the client commands (src/cli/) that need no server: where the URL and token come
 * from, the config file, reading --set values by type, exit codes of a run's end.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfigFile, resolveConnection, writeConfigFile } from '../src/cli/config.js';
import { parseValue } from '../src/cli/params.js';
import { exitCodeOf } from '../src/cli/watchRun.js';
import type { ParameterSpec } from '../src/shared/template.js';
import { STATUSES } from '../src/shared/types.js';

describe('the CLI\'s connection settings', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const configIn = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-units-'));
    dirs.push(d);
    return path.join(d, 'sub', 'cli.json');
  };

  it('takes flags over the environment over the config file, and defaults to the local server', () => {
    const file = configIn();
    expect(resolveConnection({}, { JOBVISOR_CLI_CONFIG: file })).toMatchObject({ url: 'http://127.0.0.1:8080', token: undefined });
    writeConfigFile(file, { url: 'http://a.example:8080/', token: 'from-file' });
    expect(resolveConnection({}, { JOBVISOR_CLI_CONFIG: file })).toMatchObject({ url: 'http://a.example:8080', token: 'from-file' });
    expect(resolveConnection({}, { JOBVISOR_CLI_CONFIG: file, JOBVISOR_URL: 'http://b.example/api', JOBVISOR_TOKEN: 'from-env' })).toMatchObject({ url: 'http://b.example', token: 'from-env' });
    expect(resolveConnection({ url: 'https://c.example', token: 'from-flag' }, { JOBVISOR_CLI_CONFIG: file, JOBVISOR_URL: 'http://b.example', JOBVISOR_TOKEN: 'from-env' })).toMatchObject({ url: 'https://c.example', token: 'from-flag' });
    // The file's token is for the file's server only.
    expect(resolveConnection({ url: 'http://b.example' }, { JOBVISOR_CLI_CONFIG: file }).token).toBeUndefined();
  });

  it('writes the config file readable by its owner only, in a folder of its own, keeping unknown keys', () => {
    const file = configIn();
    writeConfigFile(file, { url: 'http://a.example', token: 't', other: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readConfigFile(file)).toEqual({ url: 'http://a.example', token: 't', other: 1 });
  });

  it('refuses a URL that is not http(s), and a config file of the wrong shape, as usage errors', () => {
    const file = configIn();
    expect(() => resolveConnection({ url: 'ftp://x' }, { JOBVISOR_CLI_CONFIG: file })).toThrow(expect.objectContaining({ code: 'USAGE', exitCode: 2 }));
    expect(() => resolveConnection({ url: 'not a url' }, { JOBVISOR_CLI_CONFIG: file })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    writeConfigFile(file, { token: 5 as unknown as string });
    expect(() => readConfigFile(file)).toThrow(expect.objectContaining({ code: 'CONFIG_UNREADABLE', message: expect.stringContaining('token is not a string') }));
  });
});

describe('reading --set values by the parameter\'s type', () => {
  it('reads numbers, integers, booleans, enums and strings, and refuses what is not of the type', () => {
    const n: ParameterSpec = { type: 'number', label: 'n', default: 1 };
    const i: ParameterSpec = { type: 'integer', label: 'i', default: 1 };
    const b: ParameterSpec = { type: 'boolean', label: 'b', default: false };
    const e: ParameterSpec = { type: 'enum', label: 'e', default: 'a', values: ['a', 'b'] };
    const s: ParameterSpec = { type: 'string', label: 's', default: '', maxLength: 200 };
    expect([parseValue('n', n, '1e-3'), parseValue('i', i, '42'), parseValue('b', b, 'yes'), parseValue('b', b, 'false'), parseValue('e', e, 'b'), parseValue('s', s, '12')]).toEqual([0.001, 42, true, false, 'b', '12']);
    const bad: [ParameterSpec, string][] = [[n, 'x'], [n, ''], [n, 'Infinity'], [i, '1.5'], [b, 'maybe'], [e, 'c']];
    for (const [spec, text] of bad) {
      expect(() => parseValue('p', spec, text)).toThrow(expect.objectContaining({ code: 'USAGE', exitCode: 2 }));
    }
  });
});

describe('exit codes of a run\'s end', () => {
  it('gives every ended status its own code, and 0 only to completed', () => {
    const ended = STATUSES.filter((s) => s !== 'pending' && s !== 'running');
    expect(Object.fromEntries(ended.map((s) => [s, exitCodeOf(s)]))).toEqual({ completed: 0, error: 10, canceled: 11, missing: 12, purged: 12 });
  });
});
