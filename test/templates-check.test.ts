/**
 * `jobvisor templates check DIR`: every problem of a templates folder with its file and field,
 * exit code 1; a clean folder exit code 0; `--json` for scripts. (Run through the built CLI.)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/jobvisor.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-check-'));
const check = (...args: string[]) => spawnSync(process.execPath, [CLI, 'templates', 'check', ...args], { encoding: 'utf8', timeout: 30_000 });

function write(folder: string, text: string, files: Record<string, string> = {}): void {
  mkdirSync(path.join(dir, folder), { recursive: true });
  writeFileSync(path.join(dir, folder, 'template.json'), text);
  for (const [n, t] of Object.entries(files)) writeFileSync(path.join(dir, folder, n), t);
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('jobvisor templates check', () => {
  it('passes the example templates', () => {
    const r = check(path.join(ROOT, 'templates'));
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^\d+ template\(s\) good: .*heat1d.*sleep/);
  });

  it('prints every problem of a broken folder with its file, line and field, and exits 1', () => {
    cpSync(path.join(ROOT, 'templates', 'quick'), path.join(dir, 'quick'), { recursive: true });
    write('syntax', '{\n  "name": "syntax",\n  "title": "S",,\n}\n');
    write('fields', JSON.stringify({
      name: 'fields', title: '', timeLimitSeconds: -1, command: ['{node}', '{templateDir}/missing.py', '{steps}', '{what}'],
      parameters: { steps: { type: 'integer', label: 'Steps', default: 5, min: 10, max: 20 }, mode: { type: 'enum', label: 'Mode', values: ['a', 'b'], default: 'c' } },
      progress: { kind: 'file', path: '../outside' },
    }, null, 2));
    write('placeholders', JSON.stringify({ name: 'placeholders', title: 'P', timeLimitSeconds: 5, parameters: {}, command: ['run', '{steps}'], analysis: { plot: { command: ['x', '{frame}', '{oops}'] } } }), {});
    write('twin', JSON.stringify({ name: 'quick', title: 'Q', timeLimitSeconds: 5, parameters: {}, command: ['true'] }));
    const r = check(dir);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    const f = (name: string) => path.join(dir, name, 'template.json');
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${f('syntax')}:3:16: not valid JSON: `)),
      `${f('fields')}: title: Too small: expected string to have >=1 characters`,
      expect.stringMatching(new RegExp(`^${f('fields')}: timeLimitSeconds: `)),
      `${f('fields')}: progress.path: a path inside the run directory (relative, no "..")`,
      `${f('placeholders')}: command.1: command: unknown placeholder {steps}`,
      `${f('placeholders')}: analysis.plot.command.2: analysis plot: unknown placeholder {oops}`,
      `${f('twin')}: name: template name quick is used twice: quick has it`,
    ]));
    // The schema's problems come first; once they are fixed, the next kind shows.
    write('fields', JSON.stringify({
      name: 'fields', title: 'F', timeLimitSeconds: 5, command: ['{node}', '{templateDir}/missing.py', '{steps}', '{what}'],
      parameters: { steps: { type: 'integer', label: 'Steps', default: 5, min: 10, max: 20 }, mode: { type: 'enum', label: 'Mode', values: ['a', 'b'], default: 'c' } },
    }));
    const again = check(dir).stdout;
    expect(again).toContain(`${f('fields')}: command.1: missing.py is not in the template's folder`);
    expect(again).toContain(`${f('fields')}: command.3: command: unknown placeholder {what}`);
    expect(again).toMatch(new RegExp(`${f('fields')}: parameters\\.steps\\.default: default values do not fit`));
    expect(again).toMatch(new RegExp(`${f('fields')}: parameters\\.mode\\.default: default values do not fit`));
    expect(lines.at(-1)).toMatch(/^\d+ problem\(s\) in 4 file\(s\); 1 template\(s\) good: quick$/);
  });

  it('answers JSON with --json, and says so when the folder does not exist', () => {
    const r = check(dir, '--json');
    expect(r.status).toBe(1);
    const answer = JSON.parse(r.stdout) as { ok: boolean; templates: string[]; problems: { file: string; field: string; line?: number }[] };
    expect(answer.ok).toBe(false);
    expect(answer.templates).toEqual(['quick']);
    expect(answer.problems.find((p) => p.file.endsWith('syntax/template.json'))).toMatchObject({ field: '', line: 3, column: 16 });
    const none = check(path.join(dir, 'nowhere'));
    expect([none.status, none.stdout]).toEqual([1, expect.stringContaining('the templates folder does not exist')]);
    expect(check().status).toBe(2);
  });
});
