/**
 * The agent's io actions on a run's files (src/cmds/files.ts, archive.ts), on real folders and
 * real .tar.gz files: archive (idempotent, finishing an archive written before a crash), list,
 * read and stat from the archive once the folder is gone, size, remove; a legacy run (the job's
 * own folder) without the later runs' folders in it. And the retention settings' durations.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runIo } from '../src/cmds/files.js';
import { IoOp } from '../src/shared/protocol.js';
import { policyOf, RetentionSettings } from '../src/shared/retention.js';

let dir: string;
const io = (o: Record<string, unknown>) => runIo(IoOp.parse({ kind: 'io', ...o }));
const text = (r: unknown) => Buffer.from((r as { dataBase64: string }).dataBase64, 'base64').toString('utf8');

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-archive-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeRun(runDir: string): void {
  mkdirSync(path.join(runDir, 'out'), { recursive: true });
  writeFileSync(path.join(runDir, 'run.log'), 'line 1\nline 2\n');
  writeFileSync(path.join(runDir, 'out', 'data.csv'), 'x,y\n'.repeat(1000));
}

describe('run archives', () => {
  it('packs a folder, then lists, reads and measures from the archive; a second archive does nothing', async () => {
    const runDir = path.join(dir, 'runs', 'j', '1');
    const archive = path.join(dir, 'archive', 'j', '1.tar.gz');
    makeRun(runDir);
    expect(await io({ action: 'size', runDir, archive })).toEqual({ where: 'folder', bytes: 14 + 4000 });
    const packed = await io({ action: 'archive', runDir, archive });
    expect(packed).toMatchObject({ archived: true, where: 'archive', bytes: statSync(archive).size });
    expect(existsSync(runDir)).toBe(false);
    expect(existsSync(`${archive}.partial`)).toBe(false);
    const listed = (await io({ action: 'list', runDir, archive })) as { files: { path: string; size: number }[] };
    expect(listed.files.map((f) => [f.path, f.size]).sort()).toEqual([['out/data.csv', 4000], ['run.log', 14]]);
    expect(text(await io({ action: 'read', runDir, archive, path: 'run.log' }))).toBe('line 1\nline 2\n');
    const part = await io({ action: 'read', runDir, archive, path: 'out/data.csv', offset: 3998, length: 100 });
    expect([text(part), (part as { size: number }).size]).toEqual(['y\n', 4000]);
    expect(await io({ action: 'stat', runDir, archive, path: 'out/data.csv' })).toMatchObject({ size: 4000, dataBase64: '' });
    await expect(io({ action: 'read', runDir, archive, path: 'nothing' })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(await io({ action: 'size', runDir, archive })).toEqual({ where: 'archive', bytes: statSync(archive).size });
    expect(await io({ action: 'archive', runDir, archive })).toMatchObject({ archived: false, where: 'archive' });
    expect(await io({ action: 'remove', runDir, archive })).toEqual({ removed: true });
    expect(existsSync(archive)).toBe(false);
    expect(await io({ action: 'size', runDir, archive })).toEqual({ where: 'none', bytes: 0 });
    expect(await io({ action: 'archive', runDir, archive })).toMatchObject({ archived: false, where: 'none' });
  });

  it('finishes an archive written before a crash: the folder is removed, the archive kept as it is', async () => {
    const runDir = path.join(dir, 'runs', 'j', '2');
    const archive = path.join(dir, 'archive', 'j', '2.tar.gz');
    makeRun(runDir);
    mkdirSync(path.dirname(archive), { recursive: true });
    execFileSync('tar', ['-czf', archive, '-C', runDir, '.']);
    const before = statSync(archive).mtimeMs;
    expect(await io({ action: 'archive', runDir, archive })).toMatchObject({ archived: true, where: 'archive' });
    expect(existsSync(runDir)).toBe(false);
    expect(statSync(archive).mtimeMs).toBe(before);
    expect(text(await io({ action: 'read', runDir, archive, path: 'run.log' }))).toBe('line 1\nline 2\n');
  });

  it("reads, packs and removes a legacy run (the job's own folder) without the later runs' folders", async () => {
    const jobDir = path.join(dir, 'runs', 'j');
    const archive = path.join(dir, 'archive', 'j', '1.tar.gz');
    makeRun(jobDir);
    makeRun(path.join(jobDir, '2'));
    const listed = (await io({ action: 'list', runDir: jobDir, archive, legacy: true })) as { files: { path: string }[] };
    expect(listed.files.map((f) => f.path).sort()).toEqual(['out/data.csv', 'run.log']);
    await expect(io({ action: 'read', runDir: jobDir, archive, legacy: true, path: '2/run.log' })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(await io({ action: 'size', runDir: jobDir, archive, legacy: true })).toEqual({ where: 'folder', bytes: 4014 });
    await io({ action: 'archive', runDir: jobDir, archive, legacy: true });
    expect(existsSync(path.join(jobDir, '2', 'run.log'))).toBe(true);
    expect(existsSync(path.join(jobDir, 'run.log'))).toBe(false);
    const fromArchive = (await io({ action: 'list', runDir: path.join(dir, 'runs', 'gone'), archive })) as { files: { path: string }[] };
    expect(fromArchive.files.map((f) => f.path).sort()).toEqual(['out/data.csv', 'run.log']);
    makeRun(jobDir);
    await io({ action: 'remove', runDir: jobDir, archive, legacy: true });
    expect(existsSync(path.join(jobDir, 'run.log'))).toBe(false);
    expect(existsSync(path.join(jobDir, '2', 'run.log'))).toBe(true);
  });
});

describe('retention settings', () => {
  it('reads durations and picks a policy by role, default for any other role', () => {
    const s = RetentionSettings.parse({ default: { archiveAfter: '30d', deleteAfter: '90d' }, roles: { premium: { archiveAfter: '12h' }, admin: {} } });
    expect(policyOf(s, 'user')).toEqual({ archiveAfter: 30 * 86_400_000, deleteAfter: 90 * 86_400_000 });
    expect(policyOf(s, 'premium')).toEqual({ archiveAfter: 12 * 3_600_000 });
    expect(policyOf(s, 'admin')).toEqual({});
    expect(policyOf(s, null)).toEqual(s.default);
    expect(policyOf(s, 'constructor')).toEqual(s.default);
    expect(RetentionSettings.parse({})).toEqual({ default: {}, roles: {} });
    for (const bad of [{ default: { archiveAfter: '10' } }, { default: { archiveAfter: '-1d' } }, { default: { keep: '1d' } }, { roles: { 'a b': {} } }]) {
      expect(RetentionSettings.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
