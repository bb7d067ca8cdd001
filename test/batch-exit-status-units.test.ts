/**
 * The pieces of a cluster run's end from its own exit-status file, with real bash processes and
 * no cluster: the `{{run}}` block of the batch scripts (drivers/cluster/steps.ts runBlock), the
 * agent's reading of the file (agent/engines/batchExit.ts), and how the Grid Engine module runs
 * its commands past Debian's shell wrapper (drivers/sge/scheduler.ts resolveDirect).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readExitStatus } from '../src/agent/engines/batchExit.js';
import { runBlock } from '../src/drivers/cluster/steps.js';
import { resolveDirect } from '../src/drivers/sge/scheduler.js';
import { EXIT_STATUS_FILE } from '../src/shared/scheduler.js';
import { PHASE_FILE } from '../src/shared/protocol.js';
import { waitFor } from './helpers/wait.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-exit-status-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A run folder with a script made of runBlock(v); returns the folder and the script. */
function script(v: Parameters<typeof runBlock>[0]): { dir: string; file: string } {
  const dir = path.join(root, `run-${++n}`);
  mkdirSync(dir);
  const file = path.join(dir, 'job.sh');
  writeFileSync(file, `#!/bin/bash\ncd ${dir} || exit 1\n${runBlock(v)}\n`, { mode: 0o755 });
  return { dir, file };
}

function run(file: string): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('bash', [file], { encoding: 'utf8' }) };
  } catch (err) {
    const e = err as { status: number; stdout: string };
    return { code: e.status, out: e.stdout };
  }
}

const exitFile = (dir: string) => (existsSync(path.join(dir, EXIT_STATUS_FILE)) ? readFileSync(path.join(dir, EXIT_STATUS_FILE), 'utf8') : null);

describe('the {{run}} block of a batch script', () => {
  it('runs the command, exits with its code and records it in exit-status', () => {
    for (const code of [0, 3, 128]) {
      const { dir, file } = script({ argv: ['bash', '-c', `echo "it's me"; exit ${code}`] });
      expect(run(file)).toEqual({ code, out: "it's me\n" });
      expect(exitFile(dir)).toBe(`${code}\n`);
    }
  });

  it('records nothing for a command killed by a signal (the scheduler says how it ended)', () => {
    const { dir, file } = script({ argv: ['bash', '-c', 'kill -KILL $$'] });
    expect(run(file).code).toBe(137);
    expect(exitFile(dir)).toBeNull();
  });

  it('passes a TERM sent to the script on to the command, and records nothing', async () => {
    const { dir, file } = script({ argv: ['bash', '-c', 'trap "echo got TERM; exit 0" TERM; sleep 60 & echo $! > sleep.pid; echo started; wait'] });
    const child = spawn('bash', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('started'), { timeoutMs: 10_000, what: 'the command to start' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // The command handled the TERM and exited 0: the script still records nothing (it was told to stop).
    expect(await exited).toBe(0);
    expect(out).toBe('started\ngot TERM\n');
    expect(exitFile(dir)).toBeNull();
    // The command's own child (sleep) is left to the scheduler's kill of the job; end it here.
    process.kill(Number(readFileSync(path.join(dir, 'sleep.pid'), 'utf8')), 'SIGKILL');
  });

  it('runs the steps in order; a failing step ends the script with its code, recorded; later steps do not run', () => {
    const ok = script({ preprocess: ['bash', '-c', 'echo pre'], argv: ['bash', '-c', 'echo cmd'], postprocess: ['bash', '-c', 'echo post'] });
    expect(run(ok.file)).toEqual({ code: 0, out: '[jobvisor] preprocess: bash\npre\n[jobvisor] command: bash\ncmd\n[jobvisor] postprocess: bash\npost\n' });
    expect(exitFile(ok.dir)).toBe('0\n');
    expect(readFileSync(path.join(ok.dir, PHASE_FILE), 'utf8').split('\n').map((l) => l.split(' ')[0])).toEqual(['preparing', 'running', 'finishing', '']);
    const failing = script({ preprocess: ['bash', '-c', 'exit 4'], argv: ['bash', '-c', 'echo never'] });
    expect(run(failing.file)).toEqual({ code: 4, out: '[jobvisor] preprocess: bash\n' });
    expect(exitFile(failing.dir)).toBe('4\n');
    expect(readFileSync(path.join(failing.dir, PHASE_FILE), 'utf8')).toMatch(/^preparing \d+\nfailed preparing 4\n$/);
  });
});

describe('readExitStatus', () => {
  it('reads one code from 0 to 255; no file, an empty or a torn file, or anything else is none', async () => {
    const dir = path.join(root, 'read');
    mkdirSync(dir);
    expect(await readExitStatus(dir)).toBeNull();
    for (const [text, code] of [['3\n', 3], ['0\n', 0], ['255', 255], ['', null], ['256\n', null], ['-1\n', null], ['3\n4\n', null], ['x\n', null]] as const) {
      writeFileSync(path.join(dir, EXIT_STATUS_FILE), text);
      expect([text, await readExitStatus(dir)]).toEqual([text, code]);
    }
  });
});

describe('Grid Engine commands behind a Debian-style wrapper', () => {
  /** A fake installation: bin/qstat -> share/wrapper, which (like Debian's) sets the variables and execs lib/qstat; lib/qstat prints what it got. */
  function installation(wrapperBody: string, withProgram = true): NodeJS.ProcessEnv {
    const base = path.join(root, `sge-${++n}`);
    for (const d of ['bin', 'share', 'lib']) mkdirSync(path.join(base, d), { recursive: true });
    writeFileSync(path.join(base, 'share', 'wrapper'), wrapperBody.replaceAll('BASE', base), { mode: 0o755 });
    symlinkSync('../share/wrapper', path.join(base, 'bin', 'qstat'));
    if (withProgram) writeFileSync(path.join(base, 'lib', 'qstat'), '#!/bin/sh\necho "$SGE_ROOT|$SGE_CELL|$SGE_ARCH|$*"\n', { mode: 0o755 });
    return { PATH: `${path.join(base, 'bin')}:/usr/bin:/bin`, HOME: root };
  }
  const DEBIAN_LIKE = [
    '#!/bin/sh',
    '# SGE Wrapper script to ensure correct environment variables are set',
    'set -e',
    'DEFAULT_SGE_ARCH=`uname -s | tr A-Z a-z`-test',
    'PROG=`basename $0`',
    'if [ -z "${SGE_ROOT}" ]; then SGE_ROOT=/opt/sge; fi',
    'if [ -z "${SGE_CELL}" ]; then SGE_CELL=default; fi',
    'if [ -z "${SGE_ARCH}" ]; then SGE_ARCH="${DEFAULT_SGE_ARCH}"; fi',
    'export SGE_ROOT SGE_CELL SGE_ARCH',
    'exec BASE/lib/${PROG} "$@"',
    '',
  ].join('\n');

  it('runs the program the wrapper would exec, with the environment the wrapper would give it (the agent\'s own values first)', async () => {
    for (const extra of [{}, { SGE_CELL: 'cell2' }]) {
      const env = { ...installation(DEBIAN_LIKE), ...extra };
      const direct = await resolveDirect('qstat', env);
      expect(direct?.program).toMatch(/\/lib\/qstat$/);
      const viaWrapper = execFileSync('qstat', ['-u', 'me'], { env, encoding: 'utf8' });
      expect(execFileSync(direct!.program, ['-u', 'me'], { env: direct!.env, encoding: 'utf8' })).toBe(viaWrapper);
      expect(viaWrapper).toBe(`/opt/sge|${'SGE_CELL' in extra ? 'cell2' : 'default'}|linux-test|-u me\n`);
    }
  });

  it('runs a command as found when it is no such wrapper, or the program is not there', async () => {
    expect(await resolveDirect('qstat', installation('#!/bin/sh\nexec /usr/bin/qstat "$@"\n'))).toBeNull();
    expect(await resolveDirect('qstat', installation(DEBIAN_LIKE, false))).toBeNull();
    expect(await resolveDirect('qstat', { PATH: path.join(root, 'nowhere') })).toBeNull();
  });

  it.runIf(existsSync('/usr/share/gridengine/gridengine-wrapper'))('finds Debian\'s own wrapper on this machine', async () => {
    const direct = await resolveDirect('qstat', { PATH: '/usr/bin:/bin' });
    expect(direct?.program).toBe('/usr/lib/gridengine/qstat');
    expect(direct?.env).toMatchObject({ SGE_ROOT: '/var/lib/gridengine', SGE_CELL: 'default' });
    expect(direct?.env.SGE_ARCH).toBe(execFileSync('/usr/share/gridengine/util/arch', { encoding: 'utf8' }).trim());
  });
});
