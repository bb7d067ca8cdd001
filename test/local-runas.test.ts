/**
 * A local target with `runAs`: the supervisor (root) starts each user's agent, and so their
 * commands, as an unprivileged OS user of the site's choosing, with run directories and agent
 * folders outside the data folder. A command then cannot read the supervisor's secret, the
 * databases, or the runs of a user who has an OS user of their own; cancel and the death of
 * an agent still end its commands; an OS user that does not exist stops the start.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Jobvisor, ROOT, type Client } from './helpers/jobvisor.js';
import { pidAlive, waitFor } from './helpers/wait.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');
const WARNING = 'this local target runs the commands of several jobvisor users as one OS user';
const isRoot = process.getuid?.() === 0;

/** Makes a system user (no home, no login) unless it exists; returns its uid. */
function osUser(name: string): number {
  if (spawnSync('id', ['-u', name]).status !== 0) execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

/** Processes whose real uid is `uid` and whose command line holds `word`. */
function processesOf(uid: number, word: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const real = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1];
      if (Number(real) === uid && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(word)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Starts the supervisor with the targets made for its fresh data folder; it must stop at once. */
function supervisorRefuses(targets: (dataDir: string) => unknown) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-runas-'));
  chmodSync(dir, 0o711);
  try {
    const dataDir = path.join(dir, 'data');
    const env = { PATH: process.env.PATH, JOBVISOR_DATA_DIR: dataDir, JOBVISOR_TARGETS: JSON.stringify(targets(dataDir)) };
    return spawnSync(process.execPath, [CLI, 'supervisor'], { env, encoding: 'utf8', cwd: dir, timeout: 20_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!isRoot)('a local target that runs commands as other OS users (runAs)', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  let uid1 = 0;
  let uid2 = 0;
  let workDir = '';

  beforeAll(async () => {
    uid1 = osUser('jvrun1');
    uid2 = osUser('jvrun2');
    const targets = [{ name: 'local', driver: 'local', runAs: { alice: 'jvrun1', bob: 'jvrun2', '*': 'jvrun2' } }];
    jv = new Jobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) }, extraTemplates: FIXTURES });
    // The run users must reach the templates and the work folder (the default, next to the data folder).
    chmodSync(path.dirname(jv.dataDir), 0o711);
    workDir = `${jv.dataDir}-work/local`;
    await jv.start();
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  it('runs a command as the OS user of its jobvisor user, with results and files read through the API', async () => {
    const sleep = await alice.run({ template: 'sleep', parameters: { seconds: 0, lines: 2 } });
    const done = await alice.waitJob(sleep.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'the sleep run');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    const file = await alice.get(`/api/jobs/${sleep.jobId}/files/done.txt`);
    expect([file.status, file.body]).toEqual([200, 'ok\n']);
    const log = await alice.get(`/api/jobs/${sleep.jobId}/log`);
    expect(log.body.text).toContain('line 2');

    const quick = await alice.run({ template: 'quick', parameters: { samples: 100_000, batches: 2 } });
    expect((await alice.waitJob(quick.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'the quick run')).status).toBe('completed');
    const result = await alice.get(`/api/jobs/${quick.jobId}/files/result.json`);
    expect(result.status).toBe(200);
    expect(Math.abs(result.body.pi - Math.PI)).toBeLessThan(0.1);
    const files = await alice.get(`/api/jobs/${quick.jobId}/files`);
    expect(files.body.files.map((f: { path: string }) => f.path)).toContain('result.json');

    // Alice's folder is hers: owned by her OS user, closed to others.
    const own = execFileSync('stat', ['-c', '%u %a', path.join(workDir, 'runs', 'alice')], { encoding: 'utf8' }).trim();
    expect(own).toBe(`${uid1} 700`);
  });

  it("keeps a command from reading the secret, the databases, the data folder and another user's runs", async () => {
    const theirs = await alice.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(theirs.jobId, (j) => j.status === 'completed', 30_000, "alice's run");
    const aliceRun = path.join(workDir, 'runs', 'alice', theirs.jobId, '1');
    const aliceAgent = processesOf(uid1, 'jobvisor-agent.mjs')[0];
    expect(aliceAgent).toBeDefined();
    const forbidden = [
      path.join(jv.dataDir, 'supervisor-secret'),
      path.join(jv.dataDir, 'jobs.sqlite'),
      path.join(jv.dataDir, 'accounts.sqlite'),
      jv.dataDir,
      path.join(workDir, 'runs', 'alice'),
      aliceRun,
      path.join(aliceRun, 'done.txt'),
      `/proc/${aliceAgent}/environ`,
    ];
    const probe = await bob.run({ template: 'probe', parameters: { paths: [...forbidden, 'parameters.json'].join(':') } });
    const done = await bob.waitJob(probe.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'the probe');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    const out = (await bob.get(`/api/jobs/${probe.jobId}/files/probe.json`)).body;
    expect(out.uid).toBe(uid2);
    expect(out.uid).not.toBe(process.getuid?.());
    expect(out.reads).toEqual({ ...Object.fromEntries(forbidden.map((p) => [p, 'EACCES'])), 'parameters.json': 'ok' });
    // Each user has an OS user of their own so far: nothing shared, nothing to warn about.
    expect(jv.logs()).not.toContain(WARNING);
  });

  it('cancel ends the command: no process of it is left under the run user', async () => {
    const long = await alice.run({ template: 'sleep', parameters: { seconds: 300, lines: 300 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 30_000, 'the long run to print');
    expect(processesOf(uid1, 'sleep.mjs')).toHaveLength(1);
    expect((await alice.post(`/api/jobs/${long.jobId}/cancel`, {})).status).toBe(200);
    await alice.waitJob(long.jobId, (j) => j.status === 'canceled', 30_000, 'the cancel');
    await waitFor(() => processesOf(uid1, 'sleep.mjs').length === 0, { timeoutMs: 10_000, what: 'the command to end' });
  });

  it("ends an agent's commands when the agent is killed outright", async () => {
    const long = await alice.run({ template: 'sleep', parameters: { seconds: 300, lines: 300 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 30_000, 'the long run to print');
    const [cmd] = processesOf(uid1, 'sleep.mjs');
    const agents = processesOf(uid1, 'jobvisor-agent.mjs');
    expect([cmd !== undefined, agents.length]).toEqual([true, 1]);
    process.kill(agents[0]!, 'SIGKILL');
    const ended = await alice.waitJob(long.jobId, (j) => j.status !== 'running', 30_000, 'the run to end');
    expect(ended.status).toBe('error');
    await waitFor(() => processesOf(uid1, 'sleep.mjs').length === 0, { timeoutMs: 10_000, what: 'the command to be killed' });
  });

  it("does not kill another OS user's processes for a record the run user forged in its agent folder", async () => {
    const long = await alice.run({ template: 'sleep', parameters: { seconds: 300, lines: 300 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 30_000, 'the long run to print');
    const [agent] = processesOf(uid1, 'jobvisor-agent.mjs');
    const agentDir = readlinkSync(`/proc/${agent}/cwd`);
    expect(path.dirname(agentDir)).toBe(path.join(workDir, 'agents'));
    // A process group of the supervisor's OS user (root), recorded as if it were a cmd of alice's agent.
    const bystander = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      const pgid = bystander.pid!;
      const started = readFileSync(`/proc/${pgid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
      writeFileSync(path.join(agentDir, 'cmd-groups', String(pgid)), `${started}\n`);
      process.kill(agent!, 'SIGKILL');
      await alice.waitJob(long.jobId, (j) => j.status !== 'running', 30_000, 'the run to end');
      await waitFor(() => processesOf(uid1, 'sleep.mjs').length === 0, { timeoutMs: 10_000, what: "alice's command to be killed" });
      expect(pidAlive(pgid)).toBe(true);
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('warns once two jobvisor users share one OS user', async () => {
    // The admin falls under "*", which is bob's OS user too.
    const run = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    await admin.waitJob(run.jobId, (j) => j.status === 'completed', 30_000, "the admin's run");
    await waitFor(() => jv.logs().includes(WARNING), { timeoutMs: 5000, what: 'the warning' });
    const line = jv.logs().split('\n').find((l) => l.includes(WARNING))!;
    expect(line).toContain('jvrun2');
    expect(line).not.toContain('supervisor-secret');
  });

  it("takes an agent of the run user back after a supervisor restart, and its run's cancel still ends the command", async () => {
    const long = await alice.run({ template: 'sleep', parameters: { seconds: 300, lines: 300 } });
    await alice.waitJob(long.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 30_000, 'the long run to print');
    const [agent] = processesOf(uid1, 'jobvisor-agent.mjs');
    await jv.stopSupervisor('SIGKILL');
    await jv.startSupervisor();
    const before = (await alice.job(long.jobId)).progress ?? 0;
    await alice.waitJob(long.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > before, 30_000, 'the run to go on');
    expect(processesOf(uid1, 'jobvisor-agent.mjs')).toEqual([agent]);
    await alice.post(`/api/jobs/${long.jobId}/cancel`, {});
    await alice.waitJob(long.jobId, (j) => j.status === 'canceled', 30_000, 'the cancel');
    await waitFor(() => processesOf(uid1, 'sleep.mjs').length === 0, { timeoutMs: 10_000, what: 'the command to end' });
  });

  it('refuses at start an OS user that does not exist, root, or a work folder inside the data folder', () => {
    const cases: [(dataDir: string) => object, RegExp][] = [
      [() => ({ runAs: 'jvnosuchuser' }), /target local \(driver local\): runAs: no OS user "jvnosuchuser" on this machine/],
      [() => ({ runAs: { alice: 'jvrun1', '*': 'jvnosuchuser' } }), /target local \(driver local\): runAs\["\*"\]: no OS user "jvnosuchuser" on this machine/],
      [() => ({ runAs: 'root' }), /target local \(driver local\): runAs: "root" is uid 0; name an unprivileged OS user/],
      [(data) => ({ runAs: 'jvrun1', workDir: path.join(data, 'runs') }), /target local \(driver local\): workDir .* is inside the data folder/],
      [() => ({ runAs: 'jvrun1', workDir: 'relative' }), /target local \(driver local\) is not valid: target\.workDir: /],
      [() => ({ workDir: '/srv/runs' }), /target local \(driver local\): workDir is only read with runAs/],
    ];
    for (const [settings, message] of cases) {
      const r = supervisorRefuses((data) => [{ name: 'local', driver: 'local', ...settings(data) }]);
      const name = JSON.stringify(settings('<dataDir>'));
      expect([name, r.status]).toEqual([name, 2]);
      expect(r.stderr).toMatch(message);
    }
  });

  it('refuses runAs at start when the supervisor does not run as root', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-runas-'));
    try {
      chmodSync(dir, 0o711);
      execFileSync('chown', ['jvrun1', dir]);
      const env = { PATH: process.env.PATH, JOBVISOR_DATA_DIR: path.join(dir, 'data'), JOBVISOR_TARGETS: JSON.stringify([{ name: 'local', driver: 'local', runAs: 'jvrun2' }]) };
      const r = spawnSync(process.execPath, [CLI, 'supervisor'], { env, encoding: 'utf8', cwd: dir, timeout: 20_000, uid: uid1, gid: Number(execFileSync('id', ['-g', 'jvrun1'], { encoding: 'utf8' })) });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`target local (driver local): runAs needs the supervisor to run as root, to start agents as other OS users; it runs as uid ${uid1}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)('runAs with a pattern: one OS user per jobvisor user', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    osUser('jvp-carol');
    const targets = [{ name: 'local', driver: 'local', runAs: 'jvp-{user}' }];
    jv = new Jobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets) }, extraTemplates: FIXTURES });
    chmodSync(path.dirname(jv.dataDir), 0o711);
    await jv.start();
    admin = await jv.login();
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
  });

  it("runs a user's commands as the OS user the pattern names, and refuses the runs of a user who has none", async () => {
    const carol = await jv.addUser(admin, 'carol');
    const probe = await carol.run({ template: 'probe', parameters: { paths: path.join(jv.dataDir, 'supervisor-secret') } });
    expect((await carol.waitJob(probe.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, "carol's probe")).status).toBe('completed');
    const out = (await carol.get(`/api/jobs/${probe.jobId}/files/probe.json`)).body;
    expect(out.uid).toBe(osUser('jvp-carol'));
    expect(out.reads).toEqual({ [path.join(jv.dataDir, 'supervisor-secret')]: 'EACCES' });

    const dave = await jv.addUser(admin, 'dave');
    const refused = await dave.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    const ended = await dave.waitJob(refused.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, "dave's run");
    expect(ended.status).toBe('error');
    expect(ended.reason).toContain('runs dave\'s agents as OS user jvp-dave (runAs), and there is no such OS user on this machine');
  });
});
