/**
 * The example templates in /templates: they load, and their commands run as the agent runs them
 * (filled argv, no shell, cwd = a fresh run directory holding parameters.json).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_NODE } from '../src/shared/protocol.js';
import { fillArgv as fillTemplateArgv, loadTemplates, parseTemplate, validateParameters, type Template } from '../src/shared/template.js';

/** The argv as the agent runs it: the template's placeholders filled, then its own Node binary for the marker. */
function fillArgv(argv: string[], values: Record<string, unknown>): string[] {
  return fillTemplateArgv(argv, values).map((a) => a.replaceAll(AGENT_NODE, process.execPath));
}

const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');
const templates = loadTemplates(TEMPLATES_DIR);
const tempDirs: string[] = [];

afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function template(name: string): Template {
  const t = templates.get(name);
  if (!t) throw new Error(`template ${name} not loaded`);
  return t;
}

function freshDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'jobvisor-template-test-'));
  tempDirs.push(d);
  return d;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], cwd: string, timeoutMs = 30_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('empty argv'));
    const child = spawn(cmd, args, { cwd, shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Prepares a run directory as the agent does and returns it with the placeholder values. */
function prepare(t: Template, raw: Record<string, unknown>) {
  const runDir = freshDir();
  const params = validateParameters(t, raw);
  writeFileSync(path.join(runDir, 'parameters.json'), JSON.stringify(params));
  // Input files not given are empty placeholders, as the supervisor fills them.
  const noFiles = Object.fromEntries(Object.keys(t.inputs).map((k) => [k, '']));
  const values = { ...params, ...noFiles, templateDir: t.dir, runDir, node: process.execPath };
  return { runDir, values };
}

async function runJob(name: string, raw: Record<string, unknown>, timeoutMs?: number) {
  const t = template(name);
  const { runDir, values } = prepare(t, raw);
  const argv = fillArgv(t.command, values);
  expect(argv.join(' ')).not.toMatch(/\{[A-Za-z]/);
  const out = await run(argv, runDir, timeoutMs);
  return { ...out, runDir, values, t };
}

async function runAnalysis(t: Template, frame: string, values: Record<string, unknown>, runDir: string, index = 0) {
  const spec = t.analysis[frame];
  if (!spec) throw new Error(`no analysis ${frame}`);
  const argv = fillArgv(spec.command, { ...values, frame, index });
  const out = await run(argv, runDir, spec.timeLimitSeconds * 1000);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

function progressValues(t: Template, stdout: string): number[] {
  if (t.progress.kind !== 'stdout') throw new Error('progress is not stdout');
  const re = new RegExp(t.progress.pattern);
  const values: number[] = [];
  for (const line of stdout.split('\n')) {
    const m = re.exec(line);
    if (m) values.push(Number(m[1]));
  }
  return values;
}

function lastNonEmptyLine(s: string): string {
  return s.split('\n').filter((l) => l.trim() !== '').at(-1) ?? '';
}

describe('example templates', () => {
  it('loads all eight, fully described', () => {
    expect([...templates.keys()].sort()).toEqual(['fail', 'fileprogress', 'heat1d', 'linecount', 'pywave', 'quick', 'sleep', 'wordfreq']);
    for (const t of templates.values()) {
      expect(t.title.length).toBeGreaterThan(0);
      expect(t.description.length).toBeGreaterThan(50);
      expect(t.progress.kind).toBe(t.name === 'fileprogress' ? 'file' : 'stdout');
      expect(t.sizes).toEqual(['sequential', 'parallel']);
      expect(t.targets).toBeUndefined(); // every target the site has
      expect(t.timeLimitSeconds).toBeGreaterThan(0);
      for (const [name, p] of Object.entries(t.parameters)) {
        expect(p.description, `${t.name}.${name}`).toBeTruthy();
        if (p.type === 'number' || p.type === 'integer') {
          expect(p.min, `${t.name}.${name}.min`).toBeDefined();
          expect(p.max, `${t.name}.${name}.max`).toBeDefined();
        }
      }
      // Every placeholder of the command and its steps is filled by the defaults, the input files and the built-ins.
      const files = Object.fromEntries(Object.keys(t.inputs).map((k) => [k, `/r/inputs/${k}.txt`]));
      for (const step of [t.command, t.preprocess ?? [], t.postprocess ?? []]) {
        const argv = fillArgv(step, { ...validateParameters(t, {}), ...files, templateDir: t.dir, runDir: '/r', node: 'node', progressFile: '/r/progress' });
        expect(argv.join(' ')).not.toMatch(/\{[A-Za-z]/);
      }
    }
    expect(Object.keys(template('heat1d').analysis).sort()).toEqual(['energy', 'temperature']);
  });

  it('quick: estimates pi and writes result.json', async () => {
    const r = await runJob('quick', { samples: 20_000, batches: 2, seed: 7 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(path.join(r.runDir, 'result.json'), 'utf8')) as { pi: number; samples: number };
    expect(result.samples).toBe(20_000);
    expect(Math.abs(result.pi - Math.PI)).toBeLessThan(0.1);
    const progress = progressValues(r.t, r.stdout);
    expect(progress.at(-1)).toBe(1);
    for (const v of progress) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('fail: exits 2 with the error as the last stderr line', async () => {
    const r = await runJob('fail', { failAfterSteps: 3, stepSeconds: 0 });
    expect(r.code).toBe(2);
    expect(lastNonEmptyLine(r.stderr)).toMatch(/^error: solver diverged at step 3: residual \S+ exceeds tolerance 1e-6/);
    expect(progressValues(r.t, r.stdout).length).toBe(2);
  });

  it('sleep: prints exactly the documented lines and done.txt', async () => {
    const r = await runJob('sleep', { seconds: 0.2, lines: 5 });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const expected = [1, 2, 3, 4, 5].flatMap((i) => [`line ${i}`, `PROGRESS ${(i / 5).toFixed(6)}`]);
    expect(r.stdout).toBe(`${expected.join('\n')}\n`);
    expect(readFileSync(path.join(r.runDir, 'done.txt'), 'utf8')).toBe('ok\n');
  });

  it('sleep: lines = 0 prints nothing', async () => {
    const r = await runJob('sleep', { seconds: 0, lines: 0 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(r.runDir, 'done.txt'))).toBe(true);
  });

  it('heat1d: writes frames and results, and both analyses answer', async () => {
    const nx = 41;
    const frames = 6;
    const r = await runJob('heat1d', { nx, frames, endTime: 5, paceSeconds: 0, initial: 'sine' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (let i = 0; i < frames; i++) expect(existsSync(path.join(r.runDir, 'frames', `frame-${i}.json`))).toBe(true);
    const index = JSON.parse(readFileSync(path.join(r.runDir, 'frames', 'index.json'), 'utf8')) as { frames: number; done: boolean };
    expect(index).toMatchObject({ frames, done: true });
    const summary = JSON.parse(readFileSync(path.join(r.runDir, 'summary.json'), 'utf8')) as {
      time: { r: number };
      exact: { maxAbsError: number };
    };
    expect(summary.time.r).toBeLessThanOrEqual(0.4 + 1e-9);
    expect(summary.exact.maxAbsError).toBeLessThan(0.8); // 1 % of the default amplitude
    const csv = readFileSync(path.join(r.runDir, 'temperature.csv'), 'utf8').trim().split('\n');
    expect(csv.length).toBe(nx + 1);
    expect(csv[1]?.split(',').length).toBe(frames + 1);

    const progress = progressValues(r.t, r.stdout);
    expect(progress.at(-1)).toBe(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] ?? 0);

    const frame2 = await runAnalysis(r.t, 'temperature', r.values, r.runDir, 2);
    expect(frame2).toMatchObject({ frames, index: 2, t: 2 });
    expect((frame2.x as number[]).length).toBe(nx);
    expect((frame2.u as number[]).length).toBe(nx);

    const beyond = await runAnalysis(r.t, 'temperature', r.values, r.runDir, 1000);
    expect(beyond).toMatchObject({ frames, index: frames - 1, t: 5 });

    const energy = (await runAnalysis(r.t, 'energy', r.values, r.runDir)) as { t: number[]; energy: number[] };
    expect(energy.t).toEqual([0, 1, 2, 3, 4, 5]);
    expect(energy.energy.length).toBe(frames);
    for (const e of energy.energy) expect(Number.isFinite(e)).toBe(true);
    // With both ends at 20 °C and a warm rod, heat only leaves.
    for (let i = 1; i < frames; i++) expect(energy.energy[i]).toBeLessThan(energy.energy[i - 1] ?? Infinity);
  });

  it('heat1d: analyses of a run that has no frame yet answer empty, not fail', async () => {
    const t = template('heat1d');
    const { runDir, values } = prepare(t, {});
    const temperature = await runAnalysis(t, 'temperature', values, runDir, 3);
    expect(temperature).toMatchObject({ frames: 0, x: [], u: [] });
    const energy = await runAnalysis(t, 'energy', values, runDir);
    expect(energy).toMatchObject({ frames: 0, t: [], energy: [] });
  });

  it('heat1d: refuses at once a run too big for its time limit', async () => {
    const r = await runJob('heat1d', { nx: 4001, length: 0.001, alpha: 0.01, endTime: 1000, paceSeconds: 0 });
    expect(r.code).toBe(2);
    expect(lastNonEmptyLine(r.stderr)).toMatch(/^error: .*cell updates.*limit/);
  });

  it('wordfreq: preprocess normalises the text, the command counts, postprocess checks the results', async () => {
    const t = template('wordfreq');
    const { runDir, values } = prepare(t, { text: 'Hello, hello WORLD! Ça va? ça', top: 2 });
    const step = (argv: string[] | undefined) => run(fillArgv(argv ?? [], values), runDir);
    const pre = await step(t.preprocess);
    expect([pre.code, pre.stderr]).toEqual([0, '']);
    expect(readFileSync(path.join(runDir, 'input.txt'), 'utf8')).toBe('hello\nhello\nworld\nça\nva\nça\n');
    const main = await step(t.command);
    expect([main.code, main.stderr]).toEqual([0, '']);
    expect(progressValues(t, main.stdout).at(-1)).toBe(1);
    const result = JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8')) as unknown;
    expect(result).toEqual({ words: 6, counted: 6, distinct: 4, minLength: 1, top: [{ word: 'hello', count: 2 }, { word: 'ça', count: 2 }] });
    const post = await step(t.postprocess);
    expect([post.code, post.stderr]).toEqual([0, '']);
  });

  it('wordfreq: preprocess refuses a text with no word; postprocess rejects missing or empty results', async () => {
    const t = template('wordfreq');
    const empty = prepare(t, { text: ' ,;. !' });
    const pre = await run(fillArgv(t.preprocess ?? [], empty.values), empty.runDir);
    expect([pre.code, lastNonEmptyLine(pre.stderr)]).toEqual([2, 'error: the text holds no word (letters or digits)']);
    expect(existsSync(path.join(empty.runDir, 'input.txt'))).toBe(false);
    const missing = await run(fillArgv(t.postprocess ?? [], empty.values), empty.runDir);
    expect([missing.code, lastNonEmptyLine(missing.stderr)]).toEqual([1, 'no result produced: result.json is missing']);

    const short = prepare(t, { text: 'a b c', minLength: 5 });
    for (const argv of [t.preprocess, t.command]) expect((await run(fillArgv(argv ?? [], short.values), short.runDir)).code).toBe(0);
    const post = await run(fillArgv(t.postprocess ?? [], short.values), short.runDir);
    expect([post.code, lastNonEmptyLine(post.stderr)]).toEqual([1, 'no word of at least 5 characters was counted']);
  });
});

describe('template steps', () => {
  const base = { name: 'x', title: 'X', parameters: { n: { type: 'integer', label: 'N', default: 1 } }, command: ['{node}', 'a.mjs', '{n}'], timeLimitSeconds: 10 };

  it('takes preprocess and postprocess argv with the command’s placeholders', () => {
    const t = parseTemplate({ ...base, preprocess: ['{node}', '{templateDir}/pre.mjs', '{n}', '{runDir}'], postprocess: ['{node}', 'post.mjs'] }, '/t');
    expect([t.preprocess, t.postprocess]).toEqual([['{node}', '{templateDir}/pre.mjs', '{n}', '{runDir}'], ['{node}', 'post.mjs']]);
    expect(parseTemplate(base, '/t').preprocess).toBeUndefined();
  });

  it('refuses a step with an unknown placeholder, an analysis placeholder, an empty argv or a non-string element', () => {
    expect(() => parseTemplate({ ...base, preprocess: ['{node}', '{nope}'] }, '/t')).toThrow('preprocess: unknown placeholder {nope}');
    expect(() => parseTemplate({ ...base, postprocess: ['check', '--frame={frame}'] }, '/t')).toThrow('postprocess: unknown placeholder {frame}');
    expect(() => parseTemplate({ ...base, preprocess: [] }, '/t')).toThrow();
    expect(() => parseTemplate({ ...base, postprocess: ['check', 3] }, '/t')).toThrow();
    expect(() => parseTemplate({ ...base, preprocess: 'pre.sh' }, '/t')).toThrow();
  });
});
