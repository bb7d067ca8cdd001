/**
 * Templates sent to enrolled workers: a worker started from the agent bundle alone, in a fresh
 * empty work folder and without `--templates`, runs heat1d (a template whose command is a script
 * of its folder) with the files the supervisor sent it; a changed template file is sent again
 * (and only it); a worker started with `--templates DIR` runs its own copy and is sent nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const BUNDLE = path.join(ROOT, 'dist', 'jobvisor-agent.mjs');

describe('templates on enrolled workers', () => {
  let jv: Jobvisor;
  let admin: Client;
  let root: string;
  let tokenFile: string;
  const children: ChildProcess[] = [];

  const startWorker = (name: string, extra: string[] = []) => {
    const workDir = path.join(root, name);
    mkdirSync(workDir);
    // Started from an empty folder of its own, with the bundle alone: nothing of the checkout but that file.
    const child = spawn(process.execPath, [BUNDLE, '--enroll', jv.supervisorUrl, '--token-file', tokenFile, '--labels', `who=${name}`, '--slots', '2', '--name', name, '--work-dir', workDir, '--status-ms', '500', ...extra], {
      cwd: workDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, JOBVISOR_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    children.push(child);
    return { workDir, output };
  };
  const connected = (name: string) =>
    waitFor(async () => ((await admin.get('/api/admin/workers')).body.workers as { name: string; connected: boolean }[]).some((w) => w.name === name && w.connected), { timeoutMs: 30_000, what: `worker ${name} connected` });
  const runOn = async (name: string, body: Record<string, unknown>) => {
    const job = await admin.run({ target: 'lab', requires: { who: name }, ...body });
    return admin.waitJob(job.jobId, (j) => j.serial === job.serial && !['pending', 'running'].includes(j.status), 120_000, `a ${String(body.template)} run on ${name}`);
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-worker-templates-'));
    const targets = [{ name: 'local', driver: 'local' }, { name: 'lab', driver: 'workers' }];
    jv = await startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'worker-script-templates'), env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_HEARTBEAT_MS: '500' } });
    admin = await jv.login();
    const r = await admin.post('/api/admin/enrollments', { name: 'bare', target: 'lab' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    tokenFile = path.join(root, 'token');
    writeFileSync(tokenFile, r.body.token + '\n');
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await jv?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('runs heat1d on a bare worker with the template files the supervisor sent it', async () => {
    const w = startWorker('bare');
    await connected('bare');
    expect(existsSync(path.join(w.workDir, 'templates', 'heat1d'))).toBe(false);
    const done = await runOn('bare', { template: 'heat1d', jobKey: 'heat', parameters: { nx: 101, endTime: 1, frames: 5, paceSeconds: 0 } });
    expect([done.status, done.reason]).toEqual(['completed', null]);
    for (const f of ['heat1d.mjs', 'analysis.mjs', 'template.json']) {
      expect(readFileSync(path.join(w.workDir, 'templates', 'heat1d', f), 'utf8')).toBe(readFileSync(path.join(jv.templatesDir, 'heat1d', f), 'utf8'));
    }
    const files = (await admin.get(`/api/jobs/${done.jobId}/files`)).body.files as { path: string }[];
    expect(files.map((f) => f.path)).toContain('summary.json');
  }, 180_000);

  it('sends a changed template file again, and only it; keeps the script executable', async () => {
    const w = { workDir: path.join(root, 'bare') };
    const first = await runOn('bare', { template: 'say', jobKey: 'say' });
    expect(first.status).toBe('completed');
    expect(String((await admin.get(`/api/jobs/${first.jobId}/files/out.txt`)).body).trim()).toBe('v1');
    const cached = path.join(w.workDir, 'templates', 'say');
    expect(statSync(path.join(cached, 'say.sh')).mode & 0o111).not.toBe(0);
    expect(readFileSync(path.join(cached, 'lib', 'data.txt'), 'utf8')).toBe('data\n');
    const before = statSync(path.join(cached, 'template.json')).ino;

    writeFileSync(path.join(jv.templatesDir, 'say', 'say.sh'), '#!/bin/sh\necho v2 > out.txt\n');
    rmSync(path.join(jv.templatesDir, 'say', 'lib', 'data.txt'));
    const second = await runOn('bare', { template: 'say', jobKey: 'say' });
    expect(second.status).toBe('completed');
    expect(String((await admin.get(`/api/jobs/${second.jobId}/files/out.txt`)).body).trim()).toBe('v2');
    expect(statSync(path.join(cached, 'template.json')).ino).toBe(before);
    expect(existsSync(path.join(cached, 'lib', 'data.txt'))).toBe(false);
  }, 120_000);

  it('sends nothing to a worker started with its own copy of the templates (--templates DIR)', async () => {
    const own = mkdtempSync(path.join(root, 'own-templates-'));
    mkdirSync(path.join(own, 'say'));
    writeFileSync(path.join(own, 'say', 'say.sh'), '#!/bin/sh\necho mine > out.txt\n', { mode: 0o755 });
    startWorker('own', ['--templates', own]);
    await connected('own');
    const done = await runOn('own', { template: 'say', jobKey: 'say-own' });
    expect(done.status).toBe('completed');
    expect(String((await admin.get(`/api/jobs/${done.jobId}/files/out.txt`)).body).trim()).toBe('mine');
    expect(existsSync(path.join(own, 'say', 'template.json'))).toBe(false);
  }, 120_000);
});
