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
import { describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CLI, ROOT, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { examples, outputMatches, type ExampleStep } from './helpers/readme.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const README_URL = 'http://127.0.0.1:8080';
const README_HOME = '/home/you';
const SEP = '@@readme-example-step@@';
const SESSION_TIMEOUT_MS = 90_000;

function runSession(script: string, cwd: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['--norc', '--noprofile'], {
      cwd,
      // JOBVISOR_URL: the CLI's default URL is the README's; the test's server listens elsewhere.
      env: { PATH: process.env.PATH, HOME: cwd, LANG: 'C.UTF-8', TERM: 'dumb', JOBVISOR_URL: url },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // A step that hangs ends the session: what came until then is compared (and names the step).
    const timer = setTimeout(() => {
      out += '\n(the session was stopped after ' + SESSION_TIMEOUT_MS / 1000 + ' s)';
      process.kill(-p.pid!, 'SIGKILL');
    }, SESSION_TIMEOUT_MS);
    p.on('error', reject);
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    p.stdin.end(script);
  });
}

describe('README examples', () => {
  const blocks = examples(README);
  const sections = [...new Set(blocks.flat().map((s) => s.section))];

  it('has marked examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  // Each section's examples run in order, in one bash session against a jobvisor of their own (a
  // reader follows one section from its start, against a fresh `npm start`).
  it.each(sections)('every marked command of "%s" prints what the README says', async (section) => {
    const jv = await startJobvisor();
    try {
      const wrong = await runSection(jv, blocks.flat().filter((s) => s.section === section));
      expect(wrong.join('\n\n')).toBe('');
    } finally {
      await jv.stop();
    }
  }, 150_000);
});

async function runSection(jv: Jobvisor, steps: ExampleStep[]): Promise<string[]> {
    const home = path.dirname(jv.dataDir);
    const pw = path.join(jv.dataDir, 'initial-admin-password');
    if (!existsSync(pw)) writeFileSync(pw, ADMIN_PASSWORD + '\n', { mode: 0o600 });
    const script = [
      'exec 2>&1',
      `jobvisor() { node ${JSON.stringify(CLI)} "$@"; }`,
      // printf starts the separator on a line of its own even after output without a final newline.
      ...steps.flatMap((s, i) => [`printf '\\n${SEP}${i}\\n'`, s.command.split(README_URL).join(jv.serverUrl)]),
      `printf '\\n${SEP}end\\n'`,
    ].join('\n');
    const out = await runSession(script, home, jv.serverUrl);
    const parts = out.split(new RegExp(`^${SEP}`, 'm'));
    const byStep = new Map<number, string[]>();
    for (const part of parts.slice(1)) {
      const nl = part.indexOf('\n');
      const id = part.slice(0, nl);
      if (id === 'end') continue;
      const text = part.slice(nl + 1).split(jv.serverUrl).join(README_URL).split(home).join(README_HOME);
      const lines = text.replace(/\n+$/, '');
      byStep.set(Number(id), lines === '' ? [] : lines.split('\n'));
    }
    const wrong: string[] = [];
    steps.forEach((s, i) => {
      const actual = byStep.get(i) ?? ['(no output: the session ended before this step)'];
      if (!outputMatches(s.expected, actual)) {
        wrong.push(`README line ${s.line}: ${s.command}\n  README:\n${s.expected.map((l) => '    # ' + l).join('\n')}\n  real:\n${actual.map((l) => "    # " + l).join("\n")}\n  (as JSON: ${JSON.stringify(actual)})`);
      }
    });
    return wrong;
}
