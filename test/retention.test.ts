/**
 * Retention on this machine, with second-scale ages (JOBVISOR_RETENTION): past archiveAfter a
 * run's folder becomes one .tar.gz in the archive folder (its files still listed and downloaded),
 * past deleteAfter it is purged (record and parameters kept), a folder removed by hand makes the
 * run missing; a sweep never touches an active run, a second sweep does nothing, a supervisor
 * restart between sweeps loses nothing, an archive written before a crash is finished; usage
 * numbers match the files' sizes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const ARCHIVE_MS = 3000;
const DELETE_MS = 12_000;
const RETENTION = { default: { archiveAfter: `${ARCHIVE_MS / 1000}s`, deleteAfter: `${DELETE_MS / 1000}s` }, roles: { admin: {} } };

/** Bytes of the regular files under a folder. */
function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(path.join(e.parentPath, e.name)).size;
  return total;
}

const sleepUntil = async (t: number) => waitFor(() => Date.now() >= t, { timeoutMs: 60_000, what: 'the run to age' });

describe('retention', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  const runDir = (user: string, jobId: string, serial = 1) => path.join(jv.dataDir, 'runs', user, jobId, String(serial));
  const archive = (user: string, jobId: string, serial = 1) => path.join(jv.dataDir, 'archive', user, jobId, `${serial}.tar.gz`);
  const sweep = async () => {
    const r = await admin.post('/api/admin/retention/sweep');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.sweep as { archived: { jobId: string; serial: number }[]; purged: { jobId: string }[]; missing: { jobId: string }[]; skipped: { jobId: string; reason: string }[]; failed: unknown[]; measured: number };
  };
  const ids = (runs: { jobId: string }[]) => runs.map((r) => r.jobId).sort();

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_RETENTION: JSON.stringify(RETENTION), JOBVISOR_RETENTION_SWEEP_SECONDS: '3600' } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
  });

  it('only admins sweep; users see their own disk use, admins everyone’s', async () => {
    expect((await alice.post('/api/admin/retention/sweep')).status).toBe(403);
    expect((await alice.get('/api/admin/usage')).status).toBe(403);
    const mine = await alice.get('/api/usage');
    expect([mine.status, mine.body.usage]).toEqual([200, { user: 'alice', bytes: 0, runs: 0, archivedBytes: 0, archivedRuns: 0, targets: [] }]);
  });

  it('archives, serves files from the archive, purges, finds missing runs; never touches an active run; survives a restart', async () => {
    // The long run takes the parallel slots, the others queue for the one sequential slot.
    const run = async (c: Client, jobKey: string, seconds = 0) => c.run({ template: 'sleep', jobKey, size: seconds > 0 ? 'parallel' : 'sequential', parameters: { seconds, lines: 3 } });
    const busy = await run(alice, 'busy', 600);
    const a = await run(alice, 'a');
    const gone = await run(alice, 'gone');
    const crashed = await run(alice, 'crashed');
    const mine = await run(admin, 'admins');
    for (const j of [a, gone, crashed, mine]) await (j.user === 'admin' ? admin : alice).waitJob(j.jobId, (v) => v.status === 'completed', 30_000, `${j.jobKey} completed`);
    await alice.waitJob(busy.jobId, (v) => v.status === 'running', 30_000, 'busy running');

    // Young runs are measured only; usage matches the files.
    const first = await sweep();
    expect([first.archived, first.purged, first.missing, first.failed]).toEqual([[], [], [], []]);
    const sizes = [a, gone, crashed].map((j) => folderBytes(runDir('alice', j.jobId)));
    const usage = (await alice.get('/api/usage')).body.usage;
    expect(usage).toMatchObject({ user: 'alice', runs: 3, bytes: sizes.reduce((x, y) => x + y, 0), archivedBytes: 0 });
    expect(usage.targets).toEqual([{ target: 'local', runs: 3, bytes: usage.bytes, archivedBytes: 0, archivedRuns: 0 }]);
    expect((await alice.job(a.jobId)).bytes).toBe(sizes[0]);
    const all = (await admin.get('/api/admin/usage')).body.users as { user: string }[];
    expect(all.map((u) => u.user).sort()).toEqual(['admin', 'alice']);

    // A folder removed by hand: missing. An archive written before a crash (folder still there): finished next time.
    rmSync(runDir('alice', gone.jobId), { recursive: true });
    mkdirSync(path.dirname(archive('alice', crashed.jobId)), { recursive: true });
    execFileSync('tar', ['-czf', archive('alice', crashed.jobId), '-C', runDir('alice', crashed.jobId), '.']);
    const second = await sweep();
    expect(ids(second.missing)).toEqual([gone.jobId]);
    expect(await alice.job(gone.jobId)).toMatchObject({ status: 'missing', files: 'missing', parameters: { seconds: 0, lines: 3 } });

    // Past archiveAfter: archived; the active run and the admin's (policy without ages) are left alone.
    const endedAt = Math.max(...(await Promise.all([a, crashed].map((j) => alice.job(j.jobId)))).map((v) => v.endedAt ?? 0));
    await sleepUntil(endedAt + ARCHIVE_MS + 500);
    const third = await sweep();
    expect(ids(third.archived)).toEqual([a.jobId, crashed.jobId].sort());
    expect([third.purged, third.missing, third.failed]).toEqual([[], [], []]);
    for (const j of [a, crashed]) {
      expect(existsSync(runDir('alice', j.jobId))).toBe(false);
      expect(existsSync(archive('alice', j.jobId))).toBe(true);
    }
    expect(existsSync(runDir('admin', mine.jobId))).toBe(true);
    expect(await alice.job(busy.jobId)).toMatchObject({ status: 'running', files: 'kept' });
    expect(existsSync(runDir('alice', busy.jobId))).toBe(true);

    // Files of an archived run: listed, downloaded and its log read from the archive.
    const view = await alice.job(a.jobId);
    expect([view.status, view.files, view.bytes]).toEqual(['completed', 'archived', statSync(archive('alice', a.jobId)).size]);
    const listed = await alice.get(`/api/jobs/${a.jobId}/files`);
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body.archived).toBe(true);
    expect(listed.body.files.map((f: { path: string }) => f.path).sort()).toEqual(['done.txt', 'parameters.json', 'run.log']);
    const done = await alice.get(`/api/jobs/${a.jobId}/files/done.txt`);
    expect([done.status, done.body]).toEqual([200, 'ok\n']);
    const log = await alice.get(`/api/jobs/${a.jobId}/log`);
    expect(log.body.text).toContain('line 3');
    expect((await alice.get(`/api/jobs/${a.jobId}/files/nothing.txt`)).status).toBe(404);
    const archivedUsage = (await alice.get('/api/usage')).body.usage;
    expect(archivedUsage.archivedBytes).toBe(statSync(archive('alice', a.jobId)).size + statSync(archive('alice', crashed.jobId)).size);
    expect(archivedUsage.archivedRuns).toBe(2);

    // A second sweep does nothing; nor does one after a supervisor restart.
    const fourth = await sweep();
    expect([fourth.archived, fourth.purged, fourth.missing, fourth.failed]).toEqual([[], [], [], []]);
    await jv.stopSupervisor();
    await jv.startSupervisor();
    const fifth = await sweep();
    expect([fifth.archived, fifth.purged, fifth.missing, fifth.failed]).toEqual([[], [], [], []]);
    expect((await alice.job(a.jobId)).files).toBe('archived');

    // Past deleteAfter: purged, archive deleted, the record kept.
    await sleepUntil(endedAt + DELETE_MS + 500);
    const sixth = await sweep();
    expect(ids(sixth.purged)).toEqual([a.jobId, crashed.jobId].sort());
    expect(existsSync(archive('alice', a.jobId))).toBe(false);
    expect(await alice.job(a.jobId)).toMatchObject({ status: 'purged', files: 'purged', parameters: { seconds: 0, lines: 3 } });
    const purgedFiles = await alice.get(`/api/jobs/${a.jobId}/files`);
    expect([purgedFiles.status, purgedFiles.body.error.code]).toEqual([410, 'RUN_FILES_GONE']);
    expect(existsSync(runDir('admin', mine.jobId))).toBe(true);
    expect((await alice.job(busy.jobId)).status).toBe('running');
    expect((await alice.get('/api/usage')).body.usage).toMatchObject({ runs: 0, bytes: 0 });

    // A purged job runs again in a fresh folder.
    const again = await run(alice, 'a');
    await alice.waitJob(a.jobId, (v) => v.serial === 2 && v.status === 'completed', 30_000, 'the purged job run again');
    expect(again.serial).toBe(2);
    expect(existsSync(path.join(runDir('alice', a.jobId, 2), 'done.txt'))).toBe(true);
    expect((await alice.request('DELETE', `/api/jobs/${busy.jobId}`)).status).toBe(204);
  }, 180_000);
});
