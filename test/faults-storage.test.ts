/**
 * Faults of storage, against the real processes: the data folder (databases, run directories,
 * agent folders) on a small tmpfs that a filler file fills up, and the job database write-locked
 * by another process for longer than the busy timeout.
 *
 * While the disk is full a new run is answered 507 STORAGE_FULL, the supervisor and the agent stay
 * up, health and reads still answer, and a running job's updates that cannot be stored are not
 * acknowledged (so nothing is lost). Once the filler is gone the running job completes with every
 * log line exactly once (in its events and in its run log), new runs work, and both databases
 * pass `PRAGMA integrity_check`. While the database is locked a write is answered 503
 * DATABASE_BUSY (retry-able), and everything works again once the lock is let go.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectLogEvents } from './helpers/events.js';
import { Jobvisor, processesUnder, type Client } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

/** Fills the filesystem of `dir` with one file, as far as it goes; returns the file. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // What is left is less than one chunk: fill that too, byte by page.
  const rest = openSync(file, 'a');
  try {
    for (;;) writeSync(rest, chunk, 0, 4096);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(rest);
  }
  expect(statfsSync(dir).bavail).toBe(0);
  return file;
}

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

/** Bytes a process has written (to its pipes and files), from /proc/<pid>/io. */
function bytesWritten(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
}

const linesOf = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

describe('the data folder on a full filesystem', () => {
  let jv: Jobvisor;
  let admin: Client;
  let mounted = false;

  beforeAll(async () => {
    jv = new Jobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '2', JOBVISOR_HEARTBEAT_MS: '1000' } });
    mkdirSync(jv.dataDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=700', 'tmpfs', jv.dataDir]);
    mounted = true;
    await jv.start();
    admin = await jv.login();
  });
  afterAll(async () => {
    // stop() ends every process, then removes its folder, which fails at the mount point: unmount and remove again.
    await jv?.stop().catch(() => undefined);
    if (mounted) execFileSync('umount', ['-l', jv.dataDir]);
    rmSync(path.dirname(jv.dataDir), { recursive: true, force: true });
  });

  it('refuses new runs with 507 STORAGE_FULL, stays up and loses no update; once space is back the run completes with every line once', async () => {
    const lines = 2000;
    const events = collectLogEvents(jv.serverUrl, admin.token as string);
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 25, lines } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines >= 10, 20_000, 'running with some lines');
    const agents = processesUnder(path.join(jv.dataDir, 'agents'));
    expect(agents).toHaveLength(1);
    const runDir = path.join(jv.dataDir, 'runs', 'admin', job.jobId);
    const [cmd] = processesUnder(runDir);

    const filler = fill(jv.dataDir);
    const refused = await admin.post('/api/jobs', { template: 'sleep', jobKey: 'while-full', parameters: { seconds: 0, lines: 1 } });
    expect([refused.status, refused.body.error?.code]).toEqual([507, 'STORAGE_FULL']);
    expect(refused.body.error.message).toMatch(/^the supervisor's disk is full: /);
    // The refused run left nothing behind: no job under that key, in memory or on disk.
    expect((await admin.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).not.toContain('while-full');

    // Updates that cannot be stored are not acknowledged: the job stands still while the cmd goes on.
    await waitFor(() => jv.logs().includes('an update could not be stored'), { what: 'an update refused by the full disk' });
    const standing = (await admin.job(job.jobId)).logLines;
    expect((await admin.get('/api/health')).body).toEqual({ ok: true, supervisor: 'up' });
    expect(jv.supervisor?.child.exitCode).toBeNull();
    expect(processesUnder(path.join(jv.dataDir, 'agents'))).toEqual(agents);
    const log = await admin.get(`/api/jobs/${job.jobId}/log?offset=0&limit=65536`);
    expect(log.status).toBe(200);
    // The cmd goes on printing (to the agent, which cannot write its run log or its own log now):
    // well past the last page of each file that the disk had room for.
    const printed = bytesWritten(cmd!);
    await waitFor(
      async () => {
        if (!existsSync(`/proc/${cmd}`)) throw new Error(`the cmd ended while the disk was full: ${JSON.stringify(await admin.job(job.jobId))}`);
        return bytesWritten(cmd!) > printed + 12 * 1024;
      },
      { timeoutMs: 30_000, what: 'the cmd to print 12 KiB more while the disk is full' },
    );
    expect((await admin.job(job.jobId)).logLines).toBe(standing);
    expect(processesUnder(path.join(jv.dataDir, 'agents'))).toEqual(agents);

    rmSync(filler);
    const done = await admin.waitJob(job.jobId, (j) => j.status !== 'running', 40_000, 'the run to end');
    expect([done.status, done.reason]).toEqual(['completed', null]);
    expect(done.logLines).toBe(lines * 2);
    await waitFor(() => events.lines.length >= lines * 2, { what: 'all log events' });
    events.stop();
    expect(events.lines.filter((l) => l.startsWith('line '))).toEqual(linesOf(lines));
    const runLog = readFileSync(path.join(runDir, '1', 'run.log'), 'utf8');
    expect(runLog.split('\n').filter((l) => l.startsWith('line '))).toEqual(linesOf(lines));
    expect(processesUnder(path.join(jv.dataDir, 'agents'))).toEqual(agents);
    // The agent said, once it could write its own log again, that its run log had been held back.
    const agentLog = readFileSync(path.join(jv.dataDir, 'agents', readdirSync(path.join(jv.dataDir, 'agents'))[0]!, 'agent.log'), 'utf8');
    expect(agentLog).toContain('the run log is written again');

    const next = await admin.run({ template: 'sleep', jobKey: 'after-full', parameters: { seconds: 0, lines: 3 } });
    const nextDone = await admin.waitJob(next.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'a new run after the disk was freed');
    expect([nextDone.status, nextDone.logLines]).toEqual(['completed', 6]);

    for (const db of ['jobs.sqlite', 'accounts.sqlite']) expect([db, integrity(path.join(jv.dataDir, db))]).toEqual([db, 'ok']);
  });

  it('answers 503 DATABASE_BUSY while another process holds the job database\'s write lock, and works again once it lets go', async () => {
    const holder: ChildProcessWithoutNullStreams = spawn('sqlite3', [path.join(jv.dataDir, 'jobs.sqlite')]);
    const said = createInterface({ input: holder.stdout });
    const locked = new Promise<void>((resolve) => said.on('line', (l) => l === 'locked' && resolve()));
    holder.stdin.write('PRAGMA busy_timeout = 10000;\nBEGIN EXCLUSIVE;\nSELECT \'locked\';\n');
    try {
      await locked;
      const started = Date.now();
      const busy = await admin.post('/api/jobs', { template: 'sleep', jobKey: 'while-locked', parameters: { seconds: 0, lines: 1 } });
      expect([busy.status, busy.body.error?.code]).toEqual([503, 'DATABASE_BUSY']);
      expect(busy.body.error.message).toMatch(/^the supervisor's database is busy .*try again/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await admin.get('/api/health')).body).toEqual({ ok: true, supervisor: 'up' });
      expect((await admin.get('/api/jobs')).status).toBe(200);
    } finally {
      holder.stdin.end('COMMIT;\n.quit\n');
      await new Promise((r) => holder.once('exit', r));
    }
    expect(jv.supervisor?.child.exitCode).toBeNull();
    const job = await admin.run({ template: 'sleep', jobKey: 'while-locked', parameters: { seconds: 0, lines: 2 } });
    const done = await admin.waitJob(job.jobId, (j) => j.status !== 'pending' && j.status !== 'running', 30_000, 'a run after the lock was let go');
    expect([done.status, done.logLines]).toEqual(['completed', 4]);
    expect(integrity(path.join(jv.dataDir, 'jobs.sqlite'))).toBe('ok');
  });
});
