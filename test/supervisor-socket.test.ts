/**
 * The supervisor on a Unix socket only (`supervisorSocket`, `supervisorTcp: false`): the server
 * and the local agents reach it there, it has no TCP listener at all, the socket is mode 0600,
 * a local script submits a run with `curl --unix-socket` and the shared secret (and is refused
 * without it); a stale socket file is replaced at start, a live one is not, and stop removes it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import { upload } from './helpers/inputs.js';

/** The TCP ports a process listens on (its socket inodes matched against /proc/net/tcp{,6} in state LISTEN). */
function tcpListenPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

function curl(socket: string, args: string[]): { status: number; body: any } {
  const out = execFileSync('curl', ['-s', '--unix-socket', socket, '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: JSON.parse(out.slice(0, cut)) };
}

describe('the supervisor on a Unix socket only', () => {
  let dir: string;
  let socket: string;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jv-sock-'));
    socket = path.join(dir, 'supervisor.sock');
    // A socket file left by a process that died: the supervisor removes it and listens.
    const dead = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => dead.stdout.once('data', r));
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    expect(statSync(socket).isSocket()).toBe(true);
    jv = await startJobvisor({
      extraTemplates: path.join(ROOT, 'test', 'fixtures', 'batch-templates'),
      env: { JOBVISOR_SUPERVISOR_SOCKET: socket, JOBVISOR_SUPERVISOR_TCP: 'false' },
    });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the server and its agents over the socket, mode 0600, with no TCP listener', async () => {
    expect(jv.supervisorUrl).toBe(`unix:${socket}`);
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await alice.get('/api/health')).body).toEqual({ ok: true, supervisor: 'up' });
    const job = await alice.run({ template: 'batch-echo', parameters: { n: 7 } });
    const done = await alice.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, 'run over the socket');
    expect(done.status).toBe('completed');
    expect(String((await alice.get(`/api/jobs/${job.jobId}/files/out.txt`)).body).trim()).toBe('7');
    // An input file streamed through the server to the supervisor, then a batch that takes it.
    const up = await upload(alice, 'three.txt', 'a\nb\nc\n');
    expect(up.status).toBe(201);
    const batch = await alice.post('/api/jobs/batch', { runs: [{ template: 'batch-lines', inputs: { data: up.body.uploadId } }] });
    expect(batch.status).toBe(200);
    await alice.waitJob(batch.body.jobs[0].jobId, (j) => j.status === 'completed', 60_000, 'the batch run with an input');
    expect(String((await alice.get(`/api/jobs/${batch.body.jobs[0].jobId}/files/out.txt`)).body).trim()).toBe('3');
    expect(jv.logs()).toContain('connected to the supervisor event stream');
    expect(tcpListenPorts(jv.supervisor!.child.pid!)).toEqual([]);
    expect(tcpListenPorts(jv.server!.child.pid!).length).toBe(1);
  }, 90_000);

  it('takes a run from a local script with curl --unix-socket and the shared secret, and refuses it without', async () => {
    const secret = readFileSync(path.join(jv.dataDir, 'supervisor-secret'), 'utf8').trim();
    const run = ['-H', 'content-type: application/json', '-H', 'x-jobvisor-user: alice', '-H', 'x-jobvisor-role: user', '-d', JSON.stringify({ template: 'batch-echo', jobKey: 'from-script', parameters: { n: 42 } }), 'http://localhost/jobs/run'];
    const refused = curl(socket, run);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const wrong = curl(socket, ['-H', 'authorization: Bearer not-the-secret-at-all', ...run]);
    expect(wrong.status).toBe(401);
    expect((await alice.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).not.toContain('from-script');

    const taken = curl(socket, ['-H', `authorization: Bearer ${secret}`, ...run]);
    expect(taken.status).toBe(200);
    expect(taken.body.job).toMatchObject({ user: 'alice', jobKey: 'from-script', status: 'pending' });
    const done = await alice.waitJob(taken.body.job.jobId, (j) => j.status === 'completed', 60_000, 'the script\'s run');
    expect(done.parameters).toEqual({ n: 42 });
    const batch = curl(socket, ['-H', `authorization: Bearer ${secret}`, ...run.slice(0, -3), '-d', JSON.stringify({ runs: [{ template: 'batch-echo' }, { template: 'batch-echo' }] }), 'http://localhost/jobs/batch']);
    expect(batch.body.jobs.map((j: { index: number }) => j.index)).toEqual([0, 1]);
  }, 90_000);

  it('refuses to start on a socket another supervisor listens on, and removes its socket when it stops', async () => {
    const second = spawnSync(process.execPath, [CLI, 'supervisor'], { env: jv.env({ JOBVISOR_SUPERVISOR_SOCKET: socket, JOBVISOR_SUPERVISOR_TCP: 'false' }), encoding: 'utf8', timeout: 30_000 });
    expect(second.status).not.toBe(0);
    expect(second.stdout + second.stderr).toContain(`listens on supervisorSocket ${socket}`);
    expect((await alice.get('/api/health')).body.supervisor).toBe('up');

    await jv.stopSupervisor();
    expect(existsSync(socket)).toBe(false);
    await waitFor(async () => (await alice.get('/api/health')).body.supervisor === 'down', { timeoutMs: 10_000, what: 'the server to see the supervisor down' });
    await jv.startSupervisor();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    await waitFor(async () => (await alice.get('/api/health')).body.supervisor === 'up', { timeoutMs: 10_000, what: 'the supervisor up again' });
  }, 90_000);
});
