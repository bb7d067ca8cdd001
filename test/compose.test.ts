import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ROOT } from './helpers/jobvisor.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';

describe('the compose deployment (docker/compose.yaml)', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-compose-'));
  const project = `jobvisor-test-${process.pid}`;
  let env: NodeJS.ProcessEnv;
  let url = '';
  const compose = (...args: string[]) =>
    execFileSync('docker-compose', ['-f', path.join(ROOT, 'docker', 'compose.yaml'), '-p', project, ...args], { env, encoding: 'utf8', stdio: 'pipe' });

  beforeAll(async () => {
    execFileSync('bash', [path.join(ROOT, 'docker', 'build-jobvisor-image.sh')], { stdio: 'ignore' });
    cpSync(path.join(ROOT, 'templates'), path.join(home, 'templates'), { recursive: true });
    const [server, supervisor] = [await freePort(), await freePort()];
    env = { PATH: process.env.PATH, JOBVISOR_HOME: home, JOBVISOR_SERVER_PORT: String(server), JOBVISOR_SUPERVISOR_PORT: String(supervisor) };
    url = `http://127.0.0.1:${server}`;
    compose('up', '-d');
  });
  afterAll(() => {
    try {
      compose('down');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('serves the API; a job runs in an agent container on the same engine and its results come back', async () => {
    const passwordFile = path.join(home, 'data', 'initial-admin-password');
    await waitFor(async () => (await fetch(`${url}/api/health`).then((r) => r.json()).catch(() => undefined))?.supervisor === 'up', { timeoutMs: 30_000, what: 'the deployment to answer' });
    const login = await new Client(url).post('/api/auth/login', { username: 'admin', password: readFileSync(passwordFile, 'utf8').trim() });
    const admin = new Client(url, login.body.token);
    const job = await admin.run({ template: 'quick', parameters: { samples: 100000, batches: 2 } });
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, 'completed');
    expect(done.driver).toBe('docker');
    const result = await admin.get(`/api/jobs/${job.jobId}/files/result.json`);
    expect(result.status).toBe(200);
    expect(Math.abs(result.body.pi - Math.PI)).toBeLessThan(0.1);
    expect(execFileSync('docker', ['ps', '--format', '{{.Image}}'], { encoding: 'utf8' })).toContain('jobvisor-agent:latest');
  });
});
