/**
 * `jobvisor jobs` and job keys on a list of several pages (620 jobs seeded in the database):
 * --limit (0 pages through every one), filters, a bad date refused by the server, and a job key
 * found on a later page.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import type { JobRow } from '../src/supervisor/store.js';
import { ADMIN_PASSWORD, CLI, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

function row(i: number): JobRow {
  const queuedAt = T0 + i * 3600_000;
  return {
    id: `cli0${String(i).padStart(12, '0')}`, user: 'admin', jobKey: `key-${i}`, template: i % 2 ? 'sleep' : 'quick', target: 'local', driver: 'local', size: 'sequential',
    serial: 1, status: i % 5 === 0 ? 'error' : 'completed', parameters: {}, options: null, progress: null, progressMessage: null, reason: null, queuedAt, startedAt: queuedAt,
    endedAt: queuedAt + 1000, updatedAt: queuedAt + 1000, logLines: 0, agentId: null, pid: null, sent: true, externalId: null, logOffset: 0, scheduler: null, phase: null,
    phaseTimes: {}, inputs: [], cause: null, notify: null, callbackUrl: null, stale: null, runDir: null, files: 'purged', bytes: 0, ownerRole: 'admin', scheduleId: null, scheduleName: null,
  } as JobRow;
}

describe('jobvisor jobs, paged', () => {
  let jv: Jobvisor;
  let dir: string;

  function cli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = { PATH: process.env.PATH, HOME: dir, JOBVISOR_URL: jv.serverUrl, JOBVISOR_CLI_CONFIG: path.join(dir, 'cli.json') };
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-cli-paging-'));
    jv = await startJobvisor();
    await jv.stopSupervisor();
    const store = new SqliteJobStore(path.join(jv.dataDir, 'jobs.sqlite'), () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    store.saveBatch(Array.from({ length: 620 }, (_, i) => ({ next: row(i) })));
    store.close();
    await jv.startSupervisor();
    expect(await cli(['login', '--username', 'admin', '--password-stdin'], `${ADMIN_PASSWORD}\n`)).toMatchObject({ code: 0 });
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the newest 100 by default, N with --limit, every one with --limit 0 (two requests of 500), filtered', async () => {
    const byDefault = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobs: JobRow[]; nextCursor?: string };
    expect([byDefault.jobs.length, typeof byDefault.nextCursor]).toEqual([100, 'string']);
    const every = JSON.parse((await cli(['jobs', '--limit', '0', '--json'])).stdout) as { jobs: { jobId: string }[]; nextCursor?: string };
    expect(every.jobs.map((j) => j.jobId)).toEqual(Array.from({ length: 620 }, (_, i) => row(619 - i).id));
    expect(every.nextCursor).toBeUndefined();
    const text = await cli(['jobs', '--limit', '3']);
    expect(text.stdout.trim().split('\n')).toHaveLength(5); // header, 3 jobs, the "more" line
    expect(text.stdout).toMatch(/the 3 most recent; more with --limit N/);
    const filtered = JSON.parse((await cli(['jobs', '--limit', '0', '--status', 'error', '--template', 'quick', '--since', '2026-03-10', '--json'])).stdout) as { jobs: { jobId: string }[] };
    const want = Array.from({ length: 620 }, (_, i) => row(i)).filter((r) => r.status === 'error' && r.template === 'quick' && r.queuedAt >= Date.parse('2026-03-10')).reverse().map((r) => r.id);
    expect(filtered.jobs.map((j) => j.jobId)).toEqual(want);
  });

  it('refuses a bad date with the server\'s error, and finds a job key on a later page', async () => {
    const bad = await cli(['jobs', '--since', 'yesterday']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/INVALID_INPUT|not valid/);
    const found = JSON.parse((await cli(['status', 'key-3', '--json'])).stdout) as { job: { jobId: string } };
    expect(found.job.jobId).toBe(row(3).id);
  });
});
