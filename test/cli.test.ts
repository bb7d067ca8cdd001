import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CLI } from './helpers/jobvisor.js';
import { freePort } from './helpers/net.js';
import { pidAlive, waitFor } from './helpers/wait.js';

/** The child processes of `pid` whose command line holds `word`. */
function childrenOf(pid: number, word: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(word);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts the supervisor with `env` in a fresh data folder; it must stop at once with a message. */
function supervisorRefuses(env: Record<string, string>, args: string[] = []) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-'));
  try {
    return spawnSync(process.execPath, [CLI, 'supervisor', ...args], { env: { PATH: process.env.PATH, JOBVISOR_DATA_DIR: path.join(dir, 'data'), ...env }, encoding: 'utf8', cwd: dir, timeout: 20_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the jobvisor command', () => {
  it('stops at start-up with a message naming a wrong setting and what it accepts', () => {
    for (const command of ['server', 'supervisor']) {
      const r = spawnSync(process.execPath, [CLI, command], { env: { PATH: process.env.PATH, JOBVISOR_SLOTS_PARALLEL: 'lots' }, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('setting slotsParallel (JOBVISOR_SLOTS_PARALLEL) = "lots" is not valid: expected a positive integer');
    }
  });

  it('stops at start-up on a wrong target, naming the target and the setting', () => {
    const cases: [unknown, RegExp][] = [
      [[{ name: 'x', driver: 'pbs' }], /target x: unknown driver "pbs"; known drivers: local, docker, slurm, sge/],
      [[{ name: 'hpc', driver: 'slurm', host: 'login.example.org' }], /target hpc \(driver slurm\) is not valid: target\.knownHosts: /],
      [[{ name: 'hpc', driver: 'slurm', host: 'h', knownHosts: ['h ssh-ed25519 AAAA'], extraDirectives: ['#SBATCH --x=1; rm -rf ~'] }], /target\.extraDirectives\.0: one "#SBATCH --name\[=value\]" line/],
      [[{ name: 'grid', driver: 'sge', host: 'h', knownHosts: ['h ssh-ed25519 AAAA'], extraDirectives: ['#$ -N other'] }], /target\.extraDirectives\.0: a flag jobvisor sets itself/],
      [[{ name: 'local', driver: 'local', slots: 3 }], /target local \(driver local\) is not valid: target: Unrecognized key: "slots"/],
      [[{ name: 'a', driver: 'local' }, { name: 'a', driver: 'docker' }], /setting targets \(JOBVISOR_TARGETS\) .*\(target names must differ\)/],
      [[], /setting targets \(JOBVISOR_TARGETS\) = "\[\]" is not valid: .*expected array to have >=1 items/],
      [[{ name: '../x', driver: 'local' }], /setting targets .*0\.name: letters, digits/],
    ];
    for (const [targets, message] of cases) {
      const r = supervisorRefuses({ JOBVISOR_TARGETS: JSON.stringify(targets) });
      expect([JSON.stringify(targets), r.status]).toEqual([JSON.stringify(targets), 2]);
      expect(r.stderr).toMatch(message);
    }
  });

  it('refuses the settings of jobvisor 0.1 that targets replaced, in the environment and in a config file, saying what to use', () => {
    const r = supervisorRefuses({ JOBVISOR_DRIVER_SEQUENTIAL: 'docker', JOBVISOR_DOCKER: '{}' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('JOBVISOR_DRIVER_SEQUENTIAL, JOBVISOR_DOCKER are no longer read: where runs go and each driver\'s settings are configured as "targets"');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-'));
    try {
      writeFileSync(path.join(dir, 'old.json'), JSON.stringify({ driverParallel: 'docker' }));
      const f = supervisorRefuses({}, ['--config', path.join(dir, 'old.json')]);
      expect(f.status).toBe(2);
      expect(f.stderr).toMatch(/unknown setting "driverParallel"; known settings: .* \(drivers and their settings are configured as "targets" since jobvisor 0\.2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start runs server and supervisor apart: the supervisor never gets the admin password, and a crashed one starts again', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-start-'));
    const [serverPort, supervisorPort] = [await freePort(), await freePort()];
    const env = { PATH: process.env.PATH, JOBVISOR_DATA_DIR: path.join(dir, 'data'), JOBVISOR_ADMIN_PASSWORD: ADMIN_PASSWORD, JOBVISOR_SERVER_PORT: String(serverPort), JOBVISOR_SUPERVISOR_PORT: String(supervisorPort), JOBVISOR_LOG_LEVEL: 'warn' };
    const start = spawn(process.execPath, [CLI, 'start'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    start.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const supervisorUp = async () => {
      const r = await fetch(`http://127.0.0.1:${serverPort}/api/health`).catch(() => undefined);
      return r !== undefined && ((await r.json()) as { supervisor: string }).supervisor === 'up';
    };
    try {
      await waitFor(supervisorUp, { timeoutMs: 30_000, what: 'jobvisor start to serve' });
      const [supervisor] = childrenOf(start.pid!, 'supervisor');
      const [server] = childrenOf(start.pid!, 'server');
      expect(readFileSync(`/proc/${supervisor}/environ`, 'latin1')).not.toContain('JOBVISOR_ADMIN_PASSWORD');
      expect(readFileSync(`/proc/${server}/environ`, 'latin1')).toContain('JOBVISOR_ADMIN_PASSWORD');
      process.kill(supervisor!, 'SIGKILL');
      await waitFor(() => stderr.includes('jobvisor: supervisor ended (SIGKILL)'), { timeoutMs: 10_000, what: 'the crash to be reported' });
      expect(stderr).toMatch(/jobvisor: supervisor ended \(SIGKILL\) after \d+ s; starting it again in [0-9.]+ s/);
      await waitFor(async () => childrenOf(start.pid!, 'supervisor').some((p) => p !== supervisor) && (await supervisorUp()), { timeoutMs: 30_000, what: 'a new supervisor' });
      expect(pidAlive(server!)).toBe(true); // the server was not stopped with it
    } finally {
      const exited = new Promise((r) => start.once('exit', r));
      start.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(childrenOf(start.pid!, 'cli.js')).toEqual([]);
  });

  it('passes the arguments of `agent` on to the agent untouched (enrolled workers read their own flags)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-'));
    try {
      writeFileSync(path.join(dir, 'token'), 'x\n');
      const r = spawnSync(process.execPath, [CLI, 'agent', '--enroll', 'http://127.0.0.1:9', '--token-file', path.join(dir, 'token'), '--slots', '0', '--help'], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^jobvisor agent: Unknown option '--help'/);
      const slots = spawnSync(process.execPath, [CLI, 'agent', '--enroll', 'http://127.0.0.1:9', '--token-file', path.join(dir, 'token'), '--slots', '0'], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
      expect([slots.status, slots.stderr]).toEqual([2, expect.stringMatching(/^jobvisor agent: --slots must be a whole number from 1 to 10000\nusage: jobvisor agent --enroll/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says in --help what each exit code of the client commands means', () => {
    for (const args of [['--help'], ['run', '--help']]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Exit codes:\n {2}0 {4}done[\s\S]* {2}2 {4}usage error[\s\S]* {2}10 {3}with --wait \/ watch: the run ended as error/);
    }
  });

  it('says how to use it when the subcommand is unknown', () => {
    const r = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: jobvisor <start\|server\|supervisor\|agent>/);
  });
});
