/**
 * The admin page's enrolled workers table, in a real Chromium: a worker started by the test
 * (`node dist/jobvisor-agent.mjs --enroll ...`) is listed with its labels, slots and state, and
 * shown disconnected and stale once it is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, logIn, newPage, screenshot, type TestPage } from './helpers/browser.js';
import { ADMIN_PASSWORD, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('enrolled workers in the web GUI (Chromium)', () => {
  let jv: Jobvisor;
  let browser: Browser;
  let admin: Client;
  let root: string;
  let worker: ChildProcess | undefined;
  const opened: TestPage[] = [];

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-gui-workers-'));
    const targets = [{ name: 'local', driver: 'local' }, { name: 'lab', driver: 'workers', lostGraceMs: 60_000 }];
    [jv, browser] = await Promise.all([startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify(targets), JOBVISOR_HEARTBEAT_MS: '500' } }), launchBrowser()]);
    admin = await jv.login();
  }, 90_000);
  afterAll(async () => {
    worker?.kill('SIGKILL');
    for (const t of opened) await t.context.close().catch(() => undefined);
    await browser?.close();
    await jv?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists each worker with its labels, slots and state; a killed worker shows disconnected and stale', async () => {
    const e = await admin.post('/api/admin/enrollments', { name: 'gui-lab' });
    expect(e.status).toBe(201);
    const tokenFile = path.join(root, 'token');
    writeFileSync(tokenFile, `${e.body.token as string}\n`, { mode: 0o600 });
    worker = spawn(process.execPath, [path.join(ROOT, 'dist', 'jobvisor-agent.mjs'), '--enroll', jv.supervisorUrl, '--token-file', tokenFile, '--labels', 'os=linux,gpu=a100', '--slots', '3', '--name', 'gui-box', '--work-dir', path.join(root, 'w')], { stdio: 'ignore' });

    const t = await newPage(browser, jv.serverUrl);
    opened.push(t);
    const p = t.page;
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.goto(`${jv.serverUrl}/#/admin`);
    const row = p.locator('[data-testid="workers"] tr[data-worker="gui-box"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    expect(await row.locator('td.worker-labels').textContent()).toBe('os=linux, gpu=a100');
    expect(await row.locator('td.worker-slots').textContent()).toBe('0 / 3');
    await screenshot(p, 'workers-1-connected');

    worker.kill('SIGKILL');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('disconnected (stale)');
    await screenshot(p, 'workers-2-stale');
  }, 120_000);
});
