/**
 * The README's marked examples (`<!-- example -->` before a ```sh block) are run here, against a
 * real jobvisor (test/helpers/jobvisor.ts), one bash session for all of them in README order (so
 * that `API`, `TOKEN`, the `json` function and the CLI's login carry over as a reader's terminal
 * would), and each command's output must match the README's `# ` lines (helpers/readme.ts:
 * ids, times and run seconds masked; `...` matches anything). The README's URL
 * http://127.0.0.1:8080 stands for the test's server, /home/you for the session's folder (which
 * holds `data/`, as the folder `npm start` runs in does).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CLI, ROOT, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { examples, outputMatches } from './helpers/readme.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const README_URL = 'http://127.0.0.1:8080';
const README_HOME = '/home/you';
const SEP = '@@readme-example-step@@';

let jv: Jobvisor;
beforeAll(async () => {
  jv = await startJobvisor();
}, 60_000);
afterAll(async () => {
  await jv?.stop();
});

function runSession(script: string, cwd: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['--norc', '--noprofile'], {
      cwd,
      // JOBVISOR_URL: the CLI's default URL is the README's; the test's server listens elsewhere.
      env: { PATH: process.env.PATH, HOME: cwd, LANG: 'C.UTF-8', TERM: 'dumb', JOBVISOR_URL: url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', () => resolve(out));
    p.stdin.end(script);
  });
}

describe('README examples', () => {
  const blocks = examples(README);

  it('has marked examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it('every marked command prints what the README says', async () => {
    const home = path.dirname(jv.dataDir);
    const pw = path.join(jv.dataDir, 'initial-admin-password');
    if (!existsSync(pw)) writeFileSync(pw, ADMIN_PASSWORD + '\n', { mode: 0o600 });
    const steps = blocks.flat();
    const script = [
      'exec 2>&1',
      `jobvisor() { node ${JSON.stringify(CLI)} "$@"; }`,
      ...steps.flatMap((s, i) => [`echo ${SEP}${i}`, s.command.split(README_URL).join(jv.serverUrl)]),
      `echo ${SEP}end`,
    ].join('\n');
    const out = await runSession(script, home, jv.serverUrl);
    const parts = out.split(new RegExp(`^${SEP}`, 'm'));
    const byStep = new Map<number, string[]>();
    for (const part of parts.slice(1)) {
      const nl = part.indexOf('\n');
      const id = part.slice(0, nl);
      if (id === 'end') continue;
      const text = part.slice(nl + 1).split(jv.serverUrl).join(README_URL).split(home).join(README_HOME);
      byStep.set(Number(id), text.replace(/\n$/, '').split('\n').filter((l, k, all) => !(l === '' && all.length === 1)));
    }
    const wrong: string[] = [];
    steps.forEach((s, i) => {
      const actual = byStep.get(i) ?? ['(no output: the session ended before this step)'];
      if (!outputMatches(s.expected, actual[0] === '' && actual.length === 1 ? [] : actual)) {
        wrong.push(`README line ${s.line}: ${s.command}\n  README:\n${s.expected.map((l) => '    # ' + l).join('\n')}\n  real:\n${actual.map((l) => '    # ' + l).join('\n')}`);
      }
    });
    expect(wrong.join('\n\n')).toBe('');
  }, 120_000);
});
