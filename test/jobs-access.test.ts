import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startJobvisor, Client, type Jobvisor } from './helpers/jobvisor.js';

describe('who sees what, and bad input', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  let aliceJob: string;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: path.join(ROOT, 'test', 'fixtures', 'templates') });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
    const job = await alice.run({ template: 'quick', parameters: { samples: 1000, batches: 1 } });
    aliceJob = job.jobId;
    await alice.waitJob(aliceJob, (j) => j.status === 'completed', 30_000, 'alice job completed');
    const bobs = await bob.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    await bob.waitJob(bobs.jobId, (j) => j.status === 'completed', 30_000, 'bob job completed');
  });
  afterAll(async () => {
    await jv?.stop();
  });

  /** What a bad request must not change: the jobs everyone sees. */
  async function snapshot() {
    return JSON.stringify([(await admin.get('/api/jobs?all=1')).body.jobs.map((j: any) => [j.jobId, j.serial, j.status])]);
  }

  it('lets a user see and act on their own jobs only; an admin sees all', async () => {
    const mine = (await bob.get('/api/jobs')).body.jobs;
    expect(mine.every((j: any) => j.user === 'bob')).toBe(true);
    for (const [method, url, body] of [
      ['GET', `/api/jobs/${aliceJob}`],
      ['POST', `/api/jobs/${aliceJob}/cancel`, {}],
      ['GET', `/api/jobs/${aliceJob}/log`],
      ['GET', `/api/jobs/${aliceJob}/files`],
      ['GET', `/api/jobs/${aliceJob}/files/result.json`],
      ['POST', `/api/jobs/${aliceJob}/analysis`, { frame: 'x' }],
    ] as const) {
      const r = await bob.request(method, url, body);
      expect([url, r.status, r.body.error?.code]).toEqual([url, 404, 'JOB_NOT_FOUND']);
    }
    const forbidden = await bob.get('/api/jobs?all=1');
    expect(forbidden.status).toBe(403);
    const all = (await admin.get('/api/jobs?all=1')).body.jobs.map((j: any) => j.user).sort();
    expect(all).toEqual(['alice', 'bob']);
    expect((await admin.get(`/api/jobs/${aliceJob}`)).status).toBe(200);
  });

  it('answers bad run requests with a stable code and changes nothing', async () => {
    const before = await snapshot();
    const cases: [unknown, number, string][] = [
      ['{"template": "quick",', 400, 'BAD_JSON'],
      [{ template: 'nope' }, 400, 'UNKNOWN_TEMPLATE'],
      [{ template: 'quick', parameters: { samples: -5 } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', parameters: { samples: 'many' } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', parameters: { unknown: 1 } }, 400, 'INVALID_INPUT'],
      [{ template: 'parallel-only', size: 'sequential' }, 400, 'SIZE_NOT_ALLOWED'],
      [{ template: 'parallel-only', runMode: 'sequential' }, 400, 'SIZE_NOT_ALLOWED'],
      [{ template: 'parallel-only', parameters: { label: 'a\nb' } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', size: 'huge' }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', runMode: 'cluster' }, 400, 'UNKNOWN_TARGET'],
      [{ template: 'quick', runMode: 'Sequential; rm' }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', target: 'elsewhere' }, 400, 'UNKNOWN_TARGET'],
      [{ template: 'quick', target: '../local' }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', options: { partition: 'debug' } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', options: { partition: 'x'.repeat(200) } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', stray: { a: 1 } }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', stray: 'text' }, 400, 'INVALID_INPUT'],
      [{ template: 'quick', jobKey: '../etc' }, 400, 'INVALID_INPUT'],
      [JSON.stringify({ template: 'quick', parameters: { pad: 'x'.repeat(2 * 1024 * 1024) } }), 413, 'BODY_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const r = await alice.post('/api/jobs', body);
      expect([JSON.stringify(body).slice(0, 60), r.status, r.body.error?.code]).toEqual([JSON.stringify(body).slice(0, 60), status, code]);
      expect(typeof r.body.error.message).toBe('string');
    }
    expect(await snapshot()).toBe(before);
    const unknown = await alice.post('/api/jobs', { template: 'quick', parameters: { unknown: 1 } });
    expect(unknown.body.error.message).toMatch(/^parameters of quick: parameters: Unrecognized key: "unknown"/);
    expect((await alice.get('/api/templates')).status).toBe(200);
  });

  it('refuses paths outside the run directory: .., absolute, and a symlink leading out', async () => {
    for (const p of ['..%2F..%2Fjobs.sqlite', '%2Fetc%2Fpasswd', '..%5C..%5Cx']) {
      const r = await alice.get(`/api/jobs/${aliceJob}/files/${p}`);
      expect([p, r.status, r.body.error?.code]).toEqual([p, 400, 'PATH_OUTSIDE_RUN_DIR']);
    }
    symlinkSync('/etc/passwd', path.join(jv.dataDir, 'runs', 'alice', aliceJob, '1', 'escape'));
    const viaLink = await alice.get(`/api/jobs/${aliceJob}/files/escape`);
    expect([viaLink.status, viaLink.body.error?.code]).toEqual([400, 'PATH_OUTSIDE_RUN_DIR']);
    const listed = (await alice.get(`/api/jobs/${aliceJob}/files`)).body.files.map((f: any) => f.path);
    expect(listed).not.toContain('escape');
    const missing = await alice.get(`/api/jobs/${aliceJob}/files/nothing.txt`);
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'FILE_NOT_FOUND']);
  });

  it('refuses a missing or wrong token, an unknown frame, and an unknown serial', async () => {
    const anon = new Client(jv.serverUrl);
    expect((await anon.get('/api/jobs')).body.error.code).toBe('UNAUTHENTICATED');
    const wrong = new Client(jv.serverUrl, 'not-a-token');
    expect((await wrong.get(`/api/jobs/${aliceJob}`)).status).toBe(401);
    const frame = await alice.post(`/api/jobs/${aliceJob}/analysis`, { frame: 'nope' });
    expect([frame.status, frame.body.error.code]).toEqual([400, 'UNKNOWN_FRAME']);
    const unknown = await alice.post(`/api/jobs/${aliceJob}/analysis`, { frame: 'nope', serial: 99 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'RUN_NOT_FOUND']);
    expect((await admin.get('/api/health')).body).toEqual({ ok: true, supervisor: 'up' });
  });
});
