/**
 * The parts of template steps that are pure or local: a phase update applied to a job row, a
 * failed step's reason, the run op's steps, the agent's markers in them, the batch script's
 * steps run by a real bash (its phase file read as the batch engine reads it), and a cluster
 * target whose script template cannot run steps.
 */
import { spawnSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fillAgentValues } from '../src/agent/agentValues.js';
import { readPhaseFile, signalName } from '../src/agent/engines/batchPhases.js';
import { RunningSteps, stepFailure, type StepsEvents } from '../src/cmds/runSteps.js';
import { stepsBlock } from '../src/drivers/cluster/steps.js';
import { slurmBackend, SlurmSettings } from '../src/drivers/slurm/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { AGENT_NODE, PHASE_FILE, type Op } from '../src/shared/protocol.js';
import { parseTemplate } from '../src/shared/template.js';
import { freshRun } from '../src/supervisor/computeJob.js';
import { buildRunOp } from '../src/supervisor/runOp.js';
import type { JobRow } from '../src/supervisor/store.js';
import { applyPhase } from '../src/supervisor/updates.js';

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'jobvisor-steps-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const template = parseTemplate(
  {
    name: 'stepped',
    title: 'Stepped',
    parameters: { text: { type: 'string', label: 'Text', default: 'a b' } },
    preprocess: ['{node}', '{templateDir}/pre.mjs', '--text={text}', '{runDir}'],
    command: ['{node}', 'main.mjs'],
    postprocess: ['{node}', 'post.mjs', '{text}'],
    timeLimitSeconds: 60,
  },
  '/sites/templates/stepped',
);

function row(over: Partial<JobRow> = {}): JobRow {
  return { id: 'j1', user: 'alice', jobKey: 'k', template: 'stepped', target: 'local', driver: 'local', size: 'sequential', serial: 1, parameters: { text: '{runDir} x' }, options: null, inputs: [], notify: null, callbackUrl: null, runDir: null, ownerRole: null, ...freshRun(1000), ...over };
}

describe('phases of a job row', () => {
  it('takes a phase with the agent’s time, within the run’s queued time and now, never before an earlier phase', () => {
    const a = applyPhase(row(), { kind: 'phase', phase: 'preparing', at: 1500 }, 2000).row;
    expect([a.phase, a.phaseTimes]).toEqual(['preparing', { preparing: 1500 }]);
    const b = applyPhase(a, { kind: 'phase', phase: 'running', at: 1200 }, 2500).row;
    expect(b.phaseTimes).toEqual({ preparing: 1500, running: 1500 });
    const c = applyPhase(b, { kind: 'phase', phase: 'finishing', at: 9000 }, 3000).row;
    expect(c.phaseTimes).toEqual({ preparing: 1500, running: 1500, finishing: 3000 });
    expect(applyPhase(row(), { kind: 'phase', phase: 'running', at: 10 }, 2000).row.phaseTimes).toEqual({ running: 1000 });
    expect(applyPhase(row(), { kind: 'phase', phase: 'running' }, 2000).row.phaseTimes).toEqual({ running: 2000 });
  });

  it('ignores a phase the run already reached (sent again by a new agent)', () => {
    const a = applyPhase(applyPhase(row(), { kind: 'phase', phase: 'preparing', at: 1500 }, 2000).row, { kind: 'phase', phase: 'running', at: 1600 }, 2000).row;
    expect(applyPhase(a, { kind: 'phase', phase: 'preparing', at: 1700 }, 2100).row).toBe(a);
  });
});

describe('a failed step’s reason', () => {
  it('names the step, then the stderr tail and how it ended', () => {
    expect(stepFailure('preprocess', 'bad input\n(exited with code 2)')).toBe('preprocess failed: bad input (exited with code 2)');
    expect(stepFailure('postprocess', 'a\nno output structure produced\n(exited with code 1)')).toBe('postprocess rejected the results: a\nno output structure produced (exited with code 1)');
    expect(stepFailure('preprocess', 'the command was killed by SIGKILL')).toBe('preprocess failed (killed by SIGKILL)');
    expect(stepFailure('command', 'x\n(exited with code 4)')).toBe('x\n(exited with code 4)');
  });
});

describe('steps run by the process engine’s RunningSteps (real processes)', () => {
  const sh = (code: string) => ['/bin/sh', '-c', code];
  function runSteps(spec: { preprocess?: string[]; argv: string[]; postprocess?: string[] }) {
    const seen = { phases: [] as string[], lines: [] as string[], groups: 0, logAtExit: '' };
    const runDir = freshDir();
    const ended = new Promise<Parameters<StepsEvents['onExit']>[0]>((resolve) => {
      void RunningSteps.start(
        { ...spec, runDir, env: process.env, progress: { kind: 'none' }, timeLimitSeconds: 30 },
        {
          onPhase: (phase) => seen.phases.push(phase),
          onLine: (line) => seen.lines.push(line),
          onProgress: () => undefined,
          onSpawn: () => seen.groups++,
          onStepEnd: () => seen.groups--,
          onExit: (end) => {
            seen.logAtExit = readFileSync(path.join(runDir, 'run.log'), 'utf8');
            resolve(end);
          },
        },
      );
    });
    return { seen, ended };
  }

  it('says which step ended the run, and a step killed by a signal as such; no later step runs', async () => {
    const { seen, ended } = runSteps({ preprocess: sh('echo pre; kill -SEGV $$'), argv: sh('echo main'), postprocess: sh('echo post') });
    expect(await ended).toEqual({ status: 'error', exitCode: null, signal: 'SIGSEGV', reason: 'preprocess failed (killed by SIGSEGV)', step: 'preprocess' });
    expect([seen.phases, seen.lines, seen.groups]).toEqual([['preparing'], ['[jobvisor] preprocess: sh', 'pre'], 0]);
  });

  it('says the last step when the run completed, and no step for a run without steps', async () => {
    const stepped = runSteps({ argv: sh('echo main'), postprocess: sh('echo post') });
    expect(await stepped.ended).toEqual({ status: 'completed', exitCode: 0, signal: null, step: 'postprocess' });
    expect(stepped.seen.phases).toEqual(['running', 'finishing']);
    const plain = runSteps({ argv: sh('echo main') });
    expect(await plain.ended).toEqual({ status: 'completed', exitCode: 0, signal: null });
    expect([plain.seen.phases, plain.seen.lines]).toEqual([['running'], ['main']]);
  });

  it('has written every line to the run log when it says the run ended', async () => {
    // The log's writes go through libuv's thread pool; keep its 4 threads busy while the cmd
    // prints and ends, so the writes are still queued when its end is seen.
    const { seen, ended } = runSteps({ argv: sh('seq 1 1000; echo last') });
    const busy = Array.from({ length: 4 }, () => new Promise((resolve) => pbkdf2('x', 'y', 300_000, 32, 'sha256', resolve)));
    expect(await ended).toMatchObject({ status: 'completed' });
    await Promise.all(busy);
    const lines = seen.logAtExit.split('\n');
    expect([lines.length, lines.at(-2)]).toEqual([1002, 'last']);
  });

  it('ends as error naming the step whose program cannot start', async () => {
    const { ended } = runSteps({ argv: sh('true'), postprocess: ['/no/such/checker'] });
    expect(await ended).toMatchObject({ status: 'error', step: 'postprocess', reason: 'postprocess rejected the results (cannot start /no/such/checker: spawn /no/such/checker ENOENT)' });
    await expect(RunningSteps.start({ preprocess: ['/no/such/pre'], argv: sh('true'), runDir: freshDir(), env: process.env, progress: { kind: 'none' }, timeLimitSeconds: 5 }, { onLine: () => undefined, onProgress: () => undefined, onExit: () => undefined })).rejects.toThrow(/^preprocess failed \(cannot start \/no\/such\/pre/);
  });
});

describe('the run op of a template with steps', () => {
  it('fills the steps’ placeholders as the command’s, once; the agent fills its Node binary in them', () => {
    const op = buildRunOp(row(), template, '/data/runs/alice/j1', '/templates', 30);
    expect([op.preprocess, op.postprocess]).toEqual([
      [AGENT_NODE, '/templates/stepped/pre.mjs', '--text={runDir} x', '/data/runs/alice/j1'],
      [AGENT_NODE, 'post.mjs', '{runDir} x'],
    ]);
    const filled = fillAgentValues(op as Op, { node: '/opt/node', root: () => '/home/a' }) as typeof op;
    expect([filled.preprocess?.[0], filled.postprocess?.[0], filled.argv[0]]).toEqual(['/opt/node', '/opt/node', '/opt/node']);
    const plain = buildRunOp(row(), { ...template, preprocess: undefined, postprocess: undefined }, '/r', '/t', 30);
    expect(Object.keys(plain)).not.toContain('preprocess');
  });
});

describe('steps in a batch script', () => {
  const sh = (code: string) => ['/bin/sh', '-c', code];

  it('is left out for a template without steps', () => {
    expect(stepsBlock({ argv: ['x'] })).toBeUndefined();
  });

  it('runs each step in order in bash, records its phases, and exits with the failed step’s code; later steps do not run', async () => {
    const dir = freshDir();
    const run = (block: string) => spawnSync('bash', ['-c', `cd ${dir} || exit 1\n${block}\nexec false`], { encoding: 'utf8' });
    const ok = run(stepsBlock({ preprocess: sh('echo pre'), argv: sh("echo \"it's $0\" > main.txt; echo main"), postprocess: sh('echo post') }) as string);
    expect([ok.status, ok.stdout]).toEqual([0, "[jobvisor] preprocess: sh\npre\n[jobvisor] command: sh\nmain\n[jobvisor] postprocess: sh\npost\n"]);
    expect(readFileSync(path.join(dir, 'main.txt'), 'utf8')).toBe("it's /bin/sh\n");
    const read = await readPhaseFile(dir, 0);
    expect([read.updates.map((u) => u.phase), read.failed, read.lines]).toEqual([['preparing', 'running', 'finishing'], null, 3]);
    for (const u of read.updates) expect(Math.abs((u.at ?? 0) - Date.now())).toBeLessThan(10_000);

    rmSync(path.join(dir, PHASE_FILE));
    const failed = run(stepsBlock({ preprocess: sh('echo no >&2; exit 2'), argv: sh('touch never.txt'), postprocess: sh('true') }) as string);
    expect([failed.status, failed.stderr]).toEqual([2, 'no\n']);
    expect(spawnSync('test', ['-e', path.join(dir, 'never.txt')]).status).toBe(1);
    expect(await readPhaseFile(dir, 0)).toMatchObject({ failed: { step: 'preprocess', code: 2 }, lines: 2 });
    expect((await readPhaseFile(dir, 2)).updates).toEqual([]);

    rmSync(path.join(dir, PHASE_FILE));
    const killed = run(stepsBlock({ argv: sh('true'), postprocess: sh('kill -SEGV $$') }) as string);
    expect(killed.status).toBe(139);
    expect((await readPhaseFile(dir, 0)).failed).toEqual({ step: 'postprocess', code: 139 });
    expect(signalName(139 - 128)).toBe('SIGSEGV');
  });
});

describe('a cluster target whose batch script template has no {{steps}} line', () => {
  it('refuses runs of a template with steps, and takes the others', () => {
    const dir = freshDir();
    const file = path.join(dir, 'site.sh.template');
    writeFileSync(file, '#!/bin/bash\n#SBATCH --job-name={{jobName}}\ncd {{runDir}} || exit 1\nexec {{command}}\n');
    const settings = SlurmSettings.parse({ name: 'site', driver: 'slurm', host: '127.0.0.1', knownHosts: ['127.0.0.1 ssh-ed25519 AAAA'], scriptTemplate: file });
    const config = loadConfig({ JOBVISOR_TEMPLATES_DIR: dir, JOBVISOR_DATA_DIR: path.join(dir, 'data') });
    const driver = slurmBackend.create(settings, { config, log: createLogger('steps-units', 'silent') });
    expect(() => driver.checkRun({ template, size: 'sequential', options: null })).toThrow(/has no \{\{steps\}\} line/);
    expect(() => driver.checkRun({ template: { ...template, preprocess: undefined, postprocess: undefined }, size: 'sequential', options: null })).not.toThrow();
  });
});
