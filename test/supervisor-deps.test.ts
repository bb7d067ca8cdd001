/**
 * The supervisor built without listening (`createSupervisor(deps)`): drivers and the job store
 * are injected, so a test (or another process layout) runs it with any driver. Here two
 * targets, each a local driver of its own with its own slots, and a job store in memory; real
 * agents run the jobs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../src/drivers/local/driver.js';
import type { Driver } from '../src/drivers/driver.js';
import { CALLER_ROLE_HEADER, CALLER_USER_HEADER, type JobView } from '../src/shared/api.js';
import { agentWsUrl, loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { loadTemplates } from '../src/shared/template.js';
import { createSupervisor, type Supervisor } from '../src/supervisor/main.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import { ROOT } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const SECRET = 'secret-of-this-test-0123456789';

describe('createSupervisor with injected drivers and store', () => {
  let dir: string;
  let supervisor: Supervisor;
  let server: http.Server;
  let url: string;

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${SECRET}`, [CALLER_USER_HEADER]: 'ada', [CALLER_ROLE_HEADER]: 'user', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-deps-'));
    const templatesDir = path.join(ROOT, 'templates');
    const config = loadConfig({ JOBVISOR_DATA_DIR: dir, JOBVISOR_TEMPLATES_DIR: templatesDir, JOBVISOR_LOG_LEVEL: 'silent' });
    const local = (name: string, slots: number): Driver =>
      createLocalDriver({
        name,
        title: `Workstation ${name}`,
        sizes: { sequential: { slots, maxTimeSeconds: 60 }, parallel: { slots, maxTimeSeconds: 60 } },
        runsDir: path.join(dir, 'runs'),
        agentsDir: path.join(dir, 'agents'),
        templatesDir,
        logLevel: 'silent',
      });
    let port = 0;
    supervisor = createSupervisor({
      config,
      drivers: new Map([['alpha', local('alpha', 1)], ['beta', local('beta', 3)]]),
      store: (targets) => new SqliteJobStore(':memory:', targets.legacyPlacement),
      templates: loadTemplates(templatesDir),
      secret: SECRET,
      log: createLogger('deps-test', 'silent'),
      agentUrl: () => agentWsUrl(config, port),
    });
    server = http.createServer(supervisor.app.callback());
    server.on('upgrade', (req, socket, head) => supervisor.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    await supervisor.recover();
  });
  afterAll(async () => {
    await supervisor?.close(() => new Promise((r) => server.close(() => r())));
    for (const d of ['alpha', 'beta']) await supervisor?.targets.get(d)?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs jobs on the injected targets, each with its own slot pool, and lists them with their titles', async () => {
    const targets = (await call('GET', '/targets')).body.targets;
    expect(targets.map((t: any) => [t.name, t.driver, t.title, t.needsLogin])).toEqual([
      ['alpha', 'local', 'Workstation alpha', false],
      ['beta', 'local', 'Workstation beta', false],
    ]);
    const runs = await Promise.all(
      ['alpha', 'alpha', 'beta', 'beta'].map(async (target, i) => (await call('POST', '/jobs/run', { template: 'sleep', target, jobKey: `j${i}`, parameters: { seconds: 1, lines: 2 } })).body.job as JobView),
    );
    expect(runs.map((j) => j.target)).toEqual(['alpha', 'alpha', 'beta', 'beta']);
    const views = async () => Promise.all(runs.map(async (j) => (await call('GET', `/jobs/${j.jobId}`)).body.job as JobView));
    // alpha has one slot: one of its runs waits for it; beta has three: both of its runs go at once.
    await waitFor(async () => (await views()).filter((j) => j.status === 'running').length === 3, { timeoutMs: 20_000, what: 'three runs running' });
    const now = await views();
    expect(now.filter((j) => j.target === 'alpha').map((j) => j.status).sort()).toEqual(['pending', 'running']);
    expect(now.find((j) => j.target === 'alpha' && j.status === 'pending')?.waitingFor).toBe('waiting for a CPU slot');
    await waitFor(async () => (await views()).every((j) => j.status === 'completed'), { timeoutMs: 30_000, what: 'every run to complete' });
    const slots = (await fetch(url + '/slots', { headers: { authorization: `Bearer ${SECRET}`, [CALLER_USER_HEADER]: 'root', [CALLER_ROLE_HEADER]: 'admin' } }).then((r) => r.json())) as any;
    expect(slots.slots.filter((s: any) => s.size === 'sequential').map((s: any) => [s.target, s.pool, s.total, s.used])).toEqual([
      ['alpha', 'local', 1, 0],
      ['beta', 'local', 3, 0],
    ]);
  });
});
