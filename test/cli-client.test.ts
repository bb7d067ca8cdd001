/**
 * The `jobvisor` client commands (src/cli/): the real built CLI, spawned as a user would run
 * it, against a real server and supervisor, speaking only the public HTTP API. Not a terminal
 * here, so live commands print plain lines (the bar needs a TTY); --json gives JSON lines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, CLI, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the jobvisor CLI against a real server', () => {
  let jv: Jobvisor;
  let admin: Client;
  let dir: string;
  let configFile: string;

  /** Runs the CLI with the test's config file and server URL (flags and env win over them). */
  function cli(args: string[], opts: { input?: string; env?: Record<string, string>; onStdout?: (text: string) => void } = {}): Promise<Ran> {
    const env = { PATH: process.env.PATH, HOME: dir, JOBVISOR_URL: jv.serverUrl, JOBVISOR_CLI_CONFIG: configFile, ...opts.env };
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.input ?? '');
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-client-'));
    configFile = path.join(dir, 'config', 'cli.json');
    jv = await startJobvisor();
    admin = await jv.login();
    const r = await cli(['login', '--username', 'admin', '--password-stdin'], { input: `${ADMIN_PASSWORD}\n` });
    expect(r, r.stderr).toMatchObject({ code: 0 });
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with --password-stdin and keeps the token in a file only its owner can read', async () => {
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(configFile, 'utf8')) as { url: string; token: string; username: string };
    expect(stored).toMatchObject({ url: jv.serverUrl, username: 'admin' });
    expect((await admin.get('/api/auth/me')).status).toBe(200);
    const wrong = await cli(['login', '--username', 'admin', '--password-stdin', '--json'], { input: 'not-the-password\n', env: { JOBVISOR_CLI_CONFIG: path.join(dir, 'other.json') } });
    expect(wrong.code).toBe(5);
    expect(JSON.parse(wrong.stderr)).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: expect.any(String) } });
    expect(wrong.stdout).toBe('');
  });

  it('lists the templates with their parameters, as text and as JSON', async () => {
    const text = await cli(['templates']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^heat1d: 1-D heat equation/m);
    expect(text.stdout).toMatch(/^\s+nx\s+integer\s+default 2001\s+11\.\.4001/m);
    expect(text.stdout).toMatch(/^\s+document\s+optional\s+\.txt/m);
    const json = await cli(['templates', 'list', 'heat1d', '--json']);
    expect(JSON.parse(json.stdout).templates.map((t: { name: string }) => t.name)).toEqual(['heat1d']);
  });

  it('runs heat1d with --set and --wait: plain progress lines, exit 0 when it completed', async () => {
    const r = await cli(['run', 'heat1d', '--set', 'nx=101', '--set', 'frames=5', '--set', 'paceSeconds=1', '--set', 'initial=step', '--job-key', 'heat-cli', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^job [0-9a-f]{16} \(heat-cli\) serial 1: pending .* on local\/sequential$/);
    expect(lines.some((l) => /^running \d+% frame \d+ of \d+/.test(l)), r.stdout).toBe(true);
    expect(lines.at(-1)).toMatch(/^job [0-9a-f]{16} serial 1 completed/);
    const jobId = /^job ([0-9a-f]{16})/.exec(lines[0]!)![1]!;
    const job = await admin.job(jobId);
    expect(job).toMatchObject({ status: 'completed', parameters: { nx: 101, frames: 5, paceSeconds: 1, initial: 'step' } });

    const again = await cli(['run', 'heat1d', '--set', 'nx=101', '--set', 'frames=3', '--set', 'paceSeconds=0', '--job-key', 'heat-cli', '--wait', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const views = jsonLines(again.stdout);
    expect(views.every((v) => v.job.jobId === jobId && v.job.serial === 2)).toBe(true);
    expect(views.at(-1)!.job.status).toBe('completed');
    expect(again.stderr).toBe('');
  });

  it('exits non-zero (10) when the run fails, with its reason', async () => {
    const r = await cli(['run', 'fail', '--set', 'failAfterSteps=2', '--set', 'stepSeconds=0', '--wait']);
    expect(r.code).toBe(10);
    expect(r.stdout).toMatch(/serial \d+ error.*solver diverged at step 2/);
  });

  it('uploads an input file (wordfreq\'s document) and downloads the result\'s bytes', async () => {
    writeFileSync(path.join(dir, 'doc.txt'), 'Gamma beta alpha\nbeta gamma\ngamma\n');
    const r = await cli(['run', 'wordfreq', '--input', 'document=doc.txt', '--set', 'top=2', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const job = jsonLines(r.stdout).at(-1)!.job;
    expect(job.inputs).toEqual([expect.objectContaining({ name: 'document', fileName: 'doc.txt', size: 34 })]);

    const files = await cli(['files', 'wordfreq']);
    expect(files.stdout).toMatch(/^result\s+\d+\s+.*result\.json$/m);
    const d = await cli(['download', 'wordfreq', 'result.json', '-o', 'result-copy.json', '--json']);
    expect(d.code, d.stderr).toBe(0);
    const saved = readFileSync(path.join(dir, 'result-copy.json'));
    const viaApi = await fetch(`${jv.serverUrl}/api/jobs/${job.jobId}/files/result.json`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(Buffer.compare(saved, Buffer.from(await viaApi.arrayBuffer()))).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ path: 'result.json', bytes: saved.length });
    expect(JSON.parse(saved.toString()).top).toEqual([{ word: 'gamma', count: 3 }, { word: 'beta', count: 2 }]);

    const toStdout = await cli(['download', job.jobId, 'input.txt', '-o', '-']);
    expect(toStdout.stdout).toBe('gamma\nbeta\nalpha\nbeta\ngamma\ngamma\n');
    const missing = await cli(['download', job.jobId, 'nope.txt', '-o', 'nope.txt']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^jobvisor: FILE_NOT_FOUND: /);
    expect(() => statSync(path.join(dir, 'nope.txt'))).toThrow();
  });

  it('logs --follow prints every line and ends when the run ends', async () => {
    const started = await cli(['run', 'sleep', '--set', 'seconds=2', '--set', 'lines=4', '--job-key', 'follow', '--json']);
    const { jobId } = JSON.parse(started.stdout).job;
    const r = await cli(['logs', 'follow', '--follow']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('line '))).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
    expect((await admin.job(jobId)).status).toBe('completed');
    const chunks = jsonLines((await cli(['logs', jobId, '--serial', '1', '--json'])).stdout);
    expect(chunks.map((c) => c.text).join('')).toContain('PROGRESS 1.000000');
  });

  it('cancel ends a run; a watch of it exits 11; cancelling again is refused with the API\'s code', async () => {
    const started = await cli(['run', 'sleep', '--set', 'seconds=120', '--job-key', 'long', '--json']);
    const { jobId } = JSON.parse(started.stdout).job;
    let seen = '';
    const watching = cli(['watch', 'long'], { onStdout: (t) => (seen = t) });
    await admin.waitJob(jobId, (j) => j.status === 'running', 30_000, 'the run to start');
    await waitFor(() => seen.includes('running'), { timeoutMs: 20_000, what: () => `watch to show it running (${seen})` });
    const c = await cli(['cancel', jobId]);
    expect(c.code, c.stderr).toBe(0);
    // A loaded machine may let the run print a line (10 %) before the cancel: the percentage may show.
    expect(c.stdout).toMatch(/serial 1: canceled (\d+% )?canceled by user/);
    const w = await watching;
    expect(w.code).toBe(11);
    expect(w.stdout.trim().split('\n').at(-1)).toMatch(/serial 1 canceled.*: canceled by user/);
    const again = await cli(['cancel', jobId, '--json']);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stderr).error.code).toBe('JOB_NOT_ACTIVE');
    const status = await cli(['status', 'long']);
    expect(status.stdout).toMatch(/^status:\s+canceled (\d+% )?canceled by user$/m);
  });

  it('watch goes on through a restart of the server and still sees the run end', async () => {
    const started = await cli(['run', 'sleep', '--set', 'seconds=8', '--set', 'lines=8', '--job-key', 'through', '--json']);
    const { jobId } = JSON.parse(started.stdout).job;
    let seen = '';
    const watching = cli(['watch', jobId], { onStdout: (t) => (seen = t) });
    await waitFor(() => /running \d+%/.test(seen), { timeoutMs: 30_000, what: () => `watch to show progress (${seen})` });
    await jv.stopServer();
    await jv.startServer();
    const w = await watching;
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout.trim().split('\n').at(-1)).toMatch(/serial 1 completed/);
    expect((await admin.job(jobId)).status).toBe('completed');
  });

  it('bad flags and arguments exit 2 with a message, and send nothing', async () => {
    const before = (await admin.get('/api/jobs')).body.jobs.length;
    const cases: [string[], RegExp][] = [
      [['run', 'heat1d', '--frobnicate'], /unknown option '--frobnicate'/],
      [['run'], /missing required argument 'template'/],
      [['run', 'heat1d', '--set', 'nx=lots'], /--set nx=lots: nx is an integer/],
      [['run', 'heat1d', '--set', 'nx'], /--set "nx": expected name=value/],
      [['run', 'heat1d', '--set', 'colour=red'], /template heat1d has no parameter colour/],
      [['run', 'heat1d', '--set', 'initial=square'], /initial is one of gaussian, step, sine/],
      [['run', 'wordfreq', '--input', 'document=missing.txt'], /--input document=missing.txt: no such file/],
      [['run', 'heat1d', '--size', 'huge'], /--size must be sequential or parallel/],
      [['logs', 'x', '--serial', 'first'], /--serial must be a whole number/],
      [['jobs', '--url', 'ftp://example.org'], /--url must be an http/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toMatch(message);
    }
    const json = await cli(['run', 'heat1d', '--set', 'nx=lots', '--json']);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'USAGE', message: '--set nx=lots: nx is an integer' } });
    expect((await admin.get('/api/jobs')).body.jobs.length).toBe(before);
  });

  it('tells refusals, connection failures and missing logins apart by exit code', async () => {
    const refused = await cli(['run', 'heat1d', '--set', 'nx=5', '--json']);
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stderr).error).toMatchObject({ code: 'INVALID_INPUT', details: { issues: [expect.objectContaining({ path: ['nx'] })] } });
    const unknown = await cli(['run', 'nosuch', '--set', 'x=1', '--json']);
    expect([unknown.code, JSON.parse(unknown.stderr).error.code]).toEqual([3, 'UNKNOWN_TEMPLATE']);
    const unreachable = await cli(['jobs', '--url', 'http://127.0.0.1:9', '--token', 'some-token']);
    expect([unreachable.code, unreachable.stderr]).toEqual([4, expect.stringMatching(/^jobvisor: CONNECTION_FAILED: cannot reach http:\/\/127\.0\.0\.1:9/)]);
    const noLogin = await cli(['jobs'], { env: { JOBVISOR_CLI_CONFIG: path.join(dir, 'nobody.json') } });
    expect([noLogin.code, noLogin.stderr]).toEqual([5, expect.stringMatching(/NOT_LOGGED_IN: not logged in/)]);
    // The kept token goes only to the server it came from, not to another URL (even one of the same server).
    const elsewhere = await cli(['jobs', '--url', jv.serverUrl.replace('127.0.0.1', 'localhost')]);
    expect([elsewhere.code, elsewhere.stderr]).toEqual([5, expect.stringMatching(/NOT_LOGGED_IN: not logged in to http:\/\/localhost:/)]);
    const expired = path.join(dir, 'expired.json');
    writeFileSync(expired, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), expiresAt: Date.now() - 1000 }));
    const old = await cli(['jobs'], { env: { JOBVISOR_CLI_CONFIG: expired } });
    expect([old.code, old.stderr]).toEqual([5, expect.stringMatching(/NOT_LOGGED_IN: the login to .* expired at/)]);
    const badToken = await cli(['jobs', '--token', 'not-a-token']);
    expect([badToken.code, badToken.stderr]).toEqual([5, expect.stringMatching(/UNAUTHENTICATED/)]);
  });

  it('jobs lists the caller\'s jobs; logout revokes the token and forgets it', async () => {
    const list = await cli(['jobs', '--json']);
    expect(JSON.parse(list.stdout).jobs.map((j: { jobKey: string }) => j.jobKey)).toEqual(expect.arrayContaining(['heat-cli', 'fail', 'wordfreq', 'follow', 'long']));
    const text = await cli(['jobs']);
    expect(text.stdout.split('\n')[0]).toMatch(/^JOB\s+KEY\s+TEMPLATE\s+TARGET\s+SERIAL\s+QUEUED\s+STATUS$/);
    const { token } = JSON.parse(readFileSync(configFile, 'utf8')) as { token: string };
    const out = await cli(['logout']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).not.toHaveProperty('token');
    const me = await fetch(`${jv.serverUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);
    expect((await cli(['jobs'])).code).toBe(5);
  });
});
