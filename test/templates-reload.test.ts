/**
 * Templates reload without downtime (src/supervisor/templates.ts): a real supervisor whose
 * templates folder is edited while it runs. A bad template is reported (with its file and
 * field) and skipped, a good one that turns bad keeps its last good version, runs keep the
 * version they started with; reloads come from the folder watch, SIGHUP and the admin call;
 * nothing of it stops the service, not even at start.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Jobvisor, type Client } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

interface Problem { file: string; field: string; message: string; line?: number; column?: number }
interface AdminTemplates { templates: { name: string; kept: boolean }[]; problems: Problem[]; watching: boolean; pinnedRuns: number }

const SAY = `const [word, seconds] = process.argv.slice(2);
console.log('version ' + word);
setTimeout(() => {}, Number(seconds) * 1000);
`;

function versioned(word: string, timeLimitSeconds: number) {
  return {
    name: 'versioned', title: `Versioned ${word}`, timeLimitSeconds, sizes: ['sequential'],
    parameters: { seconds: { type: 'number', label: 'Seconds', default: 0, min: 0, max: 60 } },
    command: ['{node}', '{templateDir}/say.mjs', word, '{seconds}'],
  };
}

function writeTemplate(jv: Jobvisor, folder: string, content: unknown, files: Record<string, string> = {}): void {
  const dir = path.join(jv.templatesDir, folder);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'template.json'), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

const names = async (c: Client) => ((await c.get('/api/templates')).body.templates as { name: string }[]).map((t) => t.name);
const adminView = async (c: Client) => (await c.get('/api/admin/templates')).body as AdminTemplates;

describe('templates reload', () => {
  let jv: Jobvisor | undefined;
  afterEach(async () => {
    await jv?.stop();
    jv = undefined;
  });

  it('starts with a broken template, reports every problem with its file and field, and serves the others', async () => {
    jv = new Jobvisor();
    writeTemplate(jv, 'typo', '{\n  "name": "typo",\n  "title": "T"\n  "command": ["true"]\n}\n');
    writeTemplate(jv, 'badparams', { name: 'badparams', title: 'B', timeLimitSeconds: 10, command: ['{node}', '{templateDir}/gone.mjs', '{nope}'], parameters: { n: { type: 'integer', label: 'N', default: 50, max: 10 } } });
    await jv.start();
    const admin = await jv.login();
    expect(await names(admin)).toEqual(expect.arrayContaining(['quick', 'sleep', 'heat1d', 'fileprogress']));
    expect(await names(admin)).not.toContain('typo');
    const view = await adminView(admin);
    const typo = view.problems.find((p) => p.file.endsWith('typo/template.json'));
    expect(typo).toMatchObject({ field: '', line: 4, column: 3 });
    const bad = view.problems.filter((p) => p.file.endsWith('badparams/template.json')).map((p) => `${p.field}: ${p.message}`);
    expect(bad).toEqual(expect.arrayContaining([
      expect.stringMatching(/^command\.2: command: unknown placeholder \{nope\}/),
      expect.stringMatching(/^command\.1: gone\.mjs is not in the template's folder/),
      expect.stringMatching(/^parameters\.n\.default: /),
    ]));
    expect(jv.logs()).toMatch(/template problem: .*typo\/template\.json:4:3/);
    const job = await admin.run({ template: 'quick', jobKey: 'q' });
    expect((await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000)).status).toBe('completed');
    // The admin call answers what it did: fixing the file loads it.
    writeTemplate(jv, 'typo', { name: 'typo', title: 'T', timeLimitSeconds: 5, parameters: {}, command: ['true'] });
    const reload = await admin.post('/api/admin/templates/reload', {});
    expect(reload.status).toBe(200);
    expect(reload.body).toMatchObject({ trigger: 'admin', loaded: ['typo'], changed: [], removed: [] });
    expect(reload.body.problems.some((p: Problem) => p.file.endsWith('typo/template.json'))).toBe(false);
    const alice = await jv.addUser(admin, 'alice');
    expect((await alice.post('/api/admin/templates/reload', {})).status).toBe(403);
    expect((await alice.get('/api/admin/templates')).status).toBe(403);
    expect((await admin.post('/api/admin/templates/reload', { now: true })).body.error.code).toBe('INVALID_INPUT');
  });

  it('keeps the last good version of a template broken on disk while it runs (watch), and drops a removed one (SIGHUP)', async () => {
    jv = new Jobvisor();
    await jv.start();
    const admin = await jv.login();
    expect((await adminView(admin)).watching).toBe(true);
    const quick = path.join(jv.templatesDir, 'quick', 'template.json');
    const good = readFileSync(quick, 'utf8');
    writeFileSync(quick, good.replace('"timeLimitSeconds"', '"timeLimitSecond"'));
    await waitFor(async () => (await adminView(admin)).problems.some((p) => p.file === quick), { timeoutMs: 15_000, what: 'the watch to report the problem' });
    const view = await adminView(admin);
    expect(view.problems.find((p) => p.file === quick)?.message).toMatch(/still offering the version loaded at /);
    expect(view.templates.find((t) => t.name === 'quick')?.kept).toBe(true);
    expect(await names(admin)).toContain('quick');
    const job = await admin.run({ template: 'quick', jobKey: 'still' });
    expect((await admin.waitJob(job.jobId, (j) => j.status === 'completed', 30_000)).status).toBe('completed');

    writeFileSync(quick, good);
    await waitFor(async () => (await adminView(admin)).problems.length === 0, { timeoutMs: 15_000, what: 'the fixed file to load' });

    rmSync(path.join(jv.templatesDir, 'linecount'), { recursive: true });
    process.kill(jv.supervisor!.child.pid!, 'SIGHUP');
    await waitFor(async () => !(await names(admin)).includes('linecount'), { timeoutMs: 15_000, what: 'the removed template to go' });
    const refused = await admin.post('/api/jobs', { template: 'linecount', jobKey: 'x' });
    expect(refused.body.error.code).toBe('UNKNOWN_TEMPLATE');
    expect((await admin.get('/api/health')).body.supervisor).toBe('up');
  });

  it('lets runs queued or running keep the template version they started with', async () => {
    jv = new Jobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '1', JOBVISOR_HEARTBEAT_MS: '500', JOBVISOR_RUN_END_GRACE_MS: '300', JOBVISOR_TEMPLATES_WATCH: 'false' } });
    writeTemplate(jv, 'versioned', versioned('one', 60), { 'say.mjs': SAY });
    await jv.start();
    const admin = await jv.login();
    expect((await adminView(admin)).watching).toBe(false);
    const running = await admin.run({ template: 'versioned', jobKey: 'running', parameters: { seconds: 4 } });
    await admin.waitJob(running.jobId, (j) => j.status === 'running', 30_000, 'running');
    const queued = await admin.run({ template: 'versioned', jobKey: 'queued', parameters: { seconds: 0 } });
    expect((await admin.job(queued.jobId)).status).toBe('pending');

    // Version two: another word, and a time limit the running run is already past.
    writeTemplate(jv, 'versioned', versioned('two', 1));
    const reload = await admin.post('/api/admin/templates/reload', {});
    expect(reload.body).toMatchObject({ changed: ['versioned'], loaded: [], removed: [] });
    expect((await adminView(admin)).pinnedRuns).toBe(2);

    const ran = await admin.waitJob(running.jobId, (j) => j.status !== 'running' && j.status !== 'pending', 30_000, 'the running run to end');
    expect([ran.status, ran.reason]).toEqual(['completed', null]);
    await admin.waitJob(queued.jobId, (j) => j.status === 'completed', 30_000, 'the queued run');
    expect((await admin.get(`/api/jobs/${queued.jobId}/log`)).body.text).toContain('version one');
    const fresh = await admin.run({ template: 'versioned', jobKey: 'fresh', parameters: { seconds: 0 } });
    await admin.waitJob(fresh.jobId, (j) => j.status === 'completed', 30_000, 'a new run');
    expect((await admin.get(`/api/jobs/${fresh.jobId}/log`)).body.text).toContain('version two');
  });

  it('starts without a templates folder, offering none, and loads it once it exists', async () => {
    const missing = path.join(mkdtempSync(path.join(os.tmpdir(), 'jobvisor-no-templates-')), 'not-yet');
    jv = new Jobvisor({ env: { JOBVISOR_TEMPLATES_DIR: missing } });
    await jv.start();
    const admin = await jv.login();
    expect(await names(admin)).toEqual([]);
    expect((await adminView(admin)).problems).toEqual([{ file: missing, field: '', message: 'the templates folder does not exist' }]);
    mkdirSync(missing);
    writeTemplate({ templatesDir: missing } as Jobvisor, 'versioned', versioned('one', 5), { 'say.mjs': SAY });
    const reload = await admin.post('/api/admin/templates/reload', {});
    expect(reload.body).toMatchObject({ loaded: ['versioned'], problems: [] });
    expect(await names(admin)).toEqual(['versioned']);
    rmSync(path.dirname(missing), { recursive: true, force: true });
  });
});
