/**
 * Input files on this machine: a template's file inputs uploaded with the run request
 * (multipart) or beforehand (upload, then reference by id), staged into the run directory's
 * `inputs/`, the command given their paths; every refusal leaves nothing behind (no file under
 * the uploads folder, no upload, no job).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import http from 'node:http';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { form, PDB, postForm, postRaw, runWithFiles, upload, uploadFiles } from './helpers/inputs.js';
import { waitFor } from './helpers/wait.js';
import { acceptsFile, sanitiseFileName } from '../src/supervisor/fileNames.js';
import { parseTemplate } from '../src/shared/template.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');
const MiB = 1024 * 1024;

describe('file names and accept lists', () => {
  it('keeps one safe path element of an uploaded file name', () => {
    expect(sanitiseFileName('../../etc/x')).toBe('x');
    expect(sanitiseFileName('..\\..\\win\\y.pdb')).toBe('y.pdb');
    expect(sanitiseFileName('my file (1).txt')).toBe('my_file__1_.txt');
    expect(sanitiseFileName('..')).toBe('file');
    expect(sanitiseFileName('')).toBe('file');
    expect(sanitiseFileName('.hidden')).toBe('hidden');
    expect(sanitiseFileName('a..b')).toBe('a.b');
    expect(sanitiseFileName('é.txt')).toBe('file_.txt');
    const long = sanitiseFileName('x'.repeat(500) + '.pdb');
    expect([long.length, long.endsWith('.pdb')]).toEqual([200, true]);
  });

  it('matches extensions and media types', () => {
    expect(acceptsFile(undefined, 'a.exe', 'application/x-msdownload')).toBe(true);
    expect(acceptsFile(['.pdb'], 'A.PDB', 'application/octet-stream')).toBe(true);
    expect(acceptsFile(['chemical/x-pdb'], 'a.ent', 'chemical/x-pdb; charset=x')).toBe(true);
    expect(acceptsFile(['text/*'], 'a.dat', 'text/plain')).toBe(true);
    expect(acceptsFile(['.pdb', 'text/*'], 'a.exe', 'application/octet-stream')).toBe(false);
  });

  it('refuses a template whose input name is a parameter or built-in placeholder', () => {
    const base = { name: 't', title: 'T', parameters: { x: { type: 'number', label: 'X', default: 1 } }, command: ['echo', '{f}'], timeLimitSeconds: 5 };
    expect(() => parseTemplate({ ...base, inputs: { x: { label: 'X file' } } }, '/t')).toThrow(/already a parameter/);
    expect(() => parseTemplate({ ...base, inputs: { runDir: { label: 'R' } } }, '/t')).toThrow(/already a parameter/);
    expect(() => parseTemplate(base, '/t')).toThrow(/unknown placeholder \{f\}/);
    expect(parseTemplate({ ...base, inputs: { f: { label: 'F' } } }, '/t').inputs.f?.required).toBe(false);
  });
});

describe('input files on this machine', () => {
  let jv: Jobvisor;
  let alice: Client;
  let carol: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_MAX_UPLOAD_BYTES: String(3 * MiB), JOBVISOR_UPLOAD_QUOTA_BYTES: String(5 * MiB), JOBVISOR_MAX_UPLOAD_PARTS: '4' } });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    carol = await jv.addUser(admin, 'carol');
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
  });

  /** A run's folder (`<job folder>/<serial>`), the latest run's by default. */
  const runDirOf = (user: string, jobId: string, serial?: number) => {
    const job = path.join(jv.dataDir, 'runs', user, jobId);
    return path.join(job, String(serial ?? Math.max(...readdirSync(job).filter((n) => /^\d+$/.test(n)).map(Number))));
  };
  const result = (user: string, jobId: string) => JSON.parse(readFileSync(path.join(runDirOf(user, jobId), 'result.json'), 'utf8'));
  const jobIds = async (c: Client) => ((await c.get('/api/jobs')).body.jobs as { jobId: string }[]).map((j) => j.jobId).sort();

  it('publishes a template’s inputs', async () => {
    const t = (await alice.get('/api/templates')).body.templates.find((x: { name: string }) => x.name === 'count-lines');
    expect(t.inputs.structure).toMatchObject({ label: 'Structure file', accept: ['.pdb', '.txt', 'chemical/x-pdb'], maxBytes: 1048576, required: true });
    expect(t.inputs.notes.required).toBe(false);
  });

  it('runs with a file uploaded in the run request (multipart); the command gets its path in inputs/; the upload goes once the run started', async () => {
    const r = await runWithFiles(alice, { template: 'count-lines', jobKey: 'multi', parameters: { label: 'one' } }, [{ field: 'structure', name: 'protein.pdb', data: PDB, type: 'chemical/x-pdb' }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const done = await alice.waitJob(r.body.job.jobId, (j) => j.status === 'completed', 60_000, 'the run with a file');
    const runDir = runDirOf('alice', done.jobId);
    const out = result('alice', done.jobId);
    expect(out).toMatchObject({ label: 'one', file: path.join(runDir, 'inputs', 'protein.pdb'), lines: 4, bytes: Buffer.byteLength(PDB), notes: null, notesArg: '', inputs: ['protein.pdb'] });
    expect(out.sha256).toBe(createHash('sha256').update(PDB).digest('hex'));
    expect(done.inputs).toEqual([{ name: 'structure', fileName: 'protein.pdb', size: Buffer.byteLength(PDB), sha256: out.sha256 }]);
    await waitFor(async () => (await alice.get('/api/uploads')).body.uploads.length === 0 && uploadFiles(jv.dataDir).length === 0, { what: 'the upload to go' });
    expect(readFileSync(path.join(runDir, 'run.log'), 'utf8')).toContain('4 lines');
  });

  it('runs with files uploaded first and referred to by id; a re-run of the job key has only its own inputs', async () => {
    const up = await upload(alice, 'first.txt', 'a\nb\n');
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body).toMatchObject({ fileName: 'first.txt', size: 4, sha256: createHash('sha256').update('a\nb\n').digest('hex'), inUse: false });
    expect(up.body.expiresAt).toBeGreaterThan(Date.now() + 3600_000);
    const notes = await upload(alice, 'notes.md', 'some notes');
    const listed = (await alice.get('/api/uploads')).body.uploads.map((u: { uploadId: string }) => u.uploadId).sort();
    expect(listed).toEqual([up.body.uploadId, notes.body.uploadId].sort());
    const job = await alice.run({ template: 'count-lines', jobKey: 'ref', inputs: { structure: up.body.uploadId, notes: notes.body.uploadId } });
    await alice.waitJob(job.jobId, (j) => j.status === 'completed', 60_000, 'the run with uploads');
    expect(result('alice', job.jobId)).toMatchObject({ lines: 2, notes: 'some notes', inputs: ['first.txt', 'notes.md'] });
    await waitFor(async () => (await alice.get('/api/uploads')).body.uploads.length === 0, { what: 'the uploads to go' });
    // A used upload cannot be used again.
    const reused = await alice.post('/api/jobs', { template: 'count-lines', jobKey: 'ref', inputs: { structure: up.body.uploadId } });
    expect([reused.status, reused.body.error?.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);

    const second = await runWithFiles(alice, { template: 'count-lines', jobKey: 'ref' }, [{ field: 'structure', name: 'second.txt', data: 'x\n' }]);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    await alice.waitJob(job.jobId, (j) => j.status === 'completed' && j.serial === 2, 60_000, 'the re-run');
    expect(result('alice', job.jobId)).toMatchObject({ lines: 1, inputs: ['second.txt'], notes: null });
  });

  it('runs the linecount example on an uploaded CSV file', async () => {
    const csv = 'name,value\nalpha,1\nbeta,2\nalpha,3\n';
    const r = await runWithFiles(alice, { template: 'linecount', parameters: { top: 2 } }, [{ field: 'text', name: 'table.csv', data: csv, type: 'text/csv' }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const done = await alice.waitJob(r.body.job.jobId, (j) => j.status === 'completed', 60_000, 'linecount');
    expect(done.progress).toBe(1);
    expect(result('alice', done.jobId)).toEqual({
      file: 'table.csv', bytes: csv.length, lines: 4, words: 8, sha256: createHash('sha256').update(csv).digest('hex'),
      top: [{ word: 'alpha', n: 2 }, { word: '1', n: 1 }],
    });
  });

  it('keeps an uploaded file inside inputs/ whatever its name says', async () => {
    const r = await runWithFiles(alice, { template: 'count-lines', jobKey: 'names' }, [{ field: 'structure', name: '../../etc/x.txt', data: 'p\nq\nr\n' }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await alice.waitJob(r.body.job.jobId, (j) => j.status === 'completed', 60_000, 'the run');
    const runDir = runDirOf('alice', r.body.job.jobId);
    expect(result('alice', r.body.job.jobId)).toMatchObject({ file: path.join(runDir, 'inputs', 'x.txt'), lines: 3 });
    expect(existsSync(path.join(jv.dataDir, 'runs', 'etc'))).toBe(false);
    // Sent raw (not through a FormData that may rewrite it), the name still lands inside inputs/.
    const boundary = 'XyZ';
    const body = [
      `--${boundary}`, 'Content-Disposition: form-data; name="request"', '', JSON.stringify({ template: 'count-lines', jobKey: 'names' }),
      `--${boundary}`, 'Content-Disposition: form-data; name="structure"; filename="../../../tmp/evil name.txt"', 'Content-Type: text/plain', '', 'one', `--${boundary}--`, '',
    ].join('\r\n');
    const raw = await postRaw(alice, '/api/jobs', body, `multipart/form-data; boundary=${boundary}`);
    expect(raw.status, JSON.stringify(raw.body)).toBe(200);
    await alice.waitJob(r.body.job.jobId, (j) => j.status === 'completed' && j.serial === 2, 60_000, 'the second run');
    expect(result('alice', r.body.job.jobId).file).toBe(path.join(runDirOf('alice', r.body.job.jobId, 2), 'inputs', 'evil_name.txt'));
  });

  it('refuses bad input files with a stable code, leaving no upload, no file and no job', async () => {
    const before = await jobIds(alice);
    const expectNothingLeft = async (what: string) => {
      // A file part cut off by a malformed body ends the supervisor's request without an answer: it cleans up on its own, at once.
      await waitFor(() => uploadFiles(jv.dataDir).length === 0, { timeoutMs: 5000, what: () => `${what}: no upload files (${uploadFiles(jv.dataDir).join(', ')})` });
      expect((await alice.get('/api/uploads')).body.uploads, what).toEqual([]);
      expect(await jobIds(alice), what).toEqual(before);
    };
    const run = { template: 'count-lines', jobKey: 'refused' };
    const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['unknown input', () => runWithFiles(alice, run, [{ field: 'structure', name: 'a.txt', data: 'a' }, { field: 'bogus', name: 'b.txt', data: 'b' }]), 400, 'UNKNOWN_INPUT'],
      ['unknown input by id', () => alice.post('/api/jobs', { ...run, inputs: { bogus: 'f'.repeat(24) } }), 400, 'UNKNOWN_INPUT'],
      ['required input missing', () => alice.post('/api/jobs', run), 400, 'INPUT_REQUIRED'],
      ['required input missing (multipart)', () => runWithFiles(alice, run, [{ field: 'notes', name: 'n.txt', data: 'n' }]), 400, 'INPUT_REQUIRED'],
      ['type refused', () => runWithFiles(alice, run, [{ field: 'structure', name: 'tool.exe', data: 'MZ', type: 'application/octet-stream' }]), 415, 'INPUT_TYPE_REFUSED'],
      ['type refused, a large file', () => runWithFiles(alice, run, [{ field: 'structure', name: 'tool.exe', data: Buffer.alloc(2.5 * MiB, 1), type: 'application/octet-stream' }]), 415, 'INPUT_TYPE_REFUSED'],
      ['unknown input, a large file', () => runWithFiles(alice, run, [{ field: 'bogus', name: 'b.bin', data: Buffer.alloc(2.5 * MiB, 1) }]), 400, 'UNKNOWN_INPUT'],
      ['over the input’s maxBytes', () => runWithFiles(alice, run, [{ field: 'structure', name: 'big.pdb', data: Buffer.alloc(MiB + 1, 65) }]), 413, 'UPLOAD_TOO_LARGE'],
      ['second file over its maxBytes', () => runWithFiles(alice, run, [{ field: 'structure', name: 'ok.pdb', data: PDB }, { field: 'notes', name: 'n.txt', data: Buffer.alloc(1001, 65) }]), 413, 'UPLOAD_TOO_LARGE'],
      ['over the site’s maxUploadBytes', () => upload(alice, 'huge.bin', Buffer.alloc(3 * MiB + 10, 66)), 413, 'UPLOAD_TOO_LARGE'],
      ['bad parameters after the files', () => runWithFiles(alice, { ...run, parameters: { label: 7 } }, [{ field: 'structure', name: 'a.pdb', data: PDB }]), 400, 'INVALID_INPUT'],
      ['no request part', () => postForm(alice, '/api/jobs', form(undefined, [{ field: 'structure', name: 'a.pdb', data: PDB }])), 400, 'INVALID_MULTIPART'],
      ['request part after the files', () => postForm(alice, '/api/jobs', form(run, [{ field: 'structure', name: 'a.pdb', data: PDB }], true)), 400, 'INVALID_MULTIPART'],
      ['request part not JSON', () => postRaw(alice, '/api/jobs', '--b\r\nContent-Disposition: form-data; name="request"\r\n\r\n{nope\r\n--b--\r\n', 'multipart/form-data; boundary=b'), 400, 'BAD_JSON'],
      ['malformed multipart', () => postRaw(alice, '/api/uploads', '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc', 'multipart/form-data; boundary=b'), 400, 'INVALID_MULTIPART'],
      ['no boundary', () => postRaw(alice, '/api/uploads', 'abc', 'multipart/form-data'), 400, 'INVALID_MULTIPART'],
      ['too many parts', () => runWithFiles(alice, run, [1, 2, 3, 4].map((i) => ({ field: 'structure', name: `${i}.pdb`, data: PDB }))), 400, 'INVALID_MULTIPART'],
      ['input given twice', () => runWithFiles(alice, run, [{ field: 'structure', name: 'a.pdb', data: PDB }, { field: 'structure', name: 'b.pdb', data: PDB }]), 400, 'INVALID_MULTIPART'],
      ['upload without a file part', () => postForm(alice, '/api/uploads', (() => { const f = new FormData(); f.append('x', 'y'); return f; })()), 400, 'INVALID_MULTIPART'],
      ['unknown upload id', () => alice.post('/api/jobs', { ...run, inputs: { structure: 'a'.repeat(24) } }), 404, 'UPLOAD_NOT_FOUND'],
      ['unknown template', () => runWithFiles(alice, { template: 'nope' }, [{ field: 'structure', name: 'a.pdb', data: PDB }]), 400, 'UNKNOWN_TEMPLATE'],
    ];
    for (const [what, call, status, code] of cases) {
      const r = await call();
      expect([r.status, r.body?.error?.code], `${what}: ${JSON.stringify(r.body)}`).toEqual([status, code]);
      await expectNothingLeft(what);
    }
  });

  it('checks an upload referred to by id against the input: size, type; the refused run leaves the upload as it was', async () => {
    const big = await upload(alice, 'big.pdb', Buffer.alloc(1.5 * MiB, 65));
    const exe = await upload(alice, 'tool.exe', 'MZ', 'application/octet-stream');
    expect([big.status, exe.status]).toEqual([201, 201]);
    const before = await jobIds(alice);
    const tooBig = await alice.post('/api/jobs', { template: 'count-lines', jobKey: 'by-id', inputs: { structure: big.body.uploadId } });
    expect([tooBig.status, tooBig.body.error.code]).toEqual([413, 'UPLOAD_TOO_LARGE']);
    const wrongType = await alice.post('/api/jobs', { template: 'count-lines', jobKey: 'by-id', inputs: { structure: exe.body.uploadId } });
    expect([wrongType.status, wrongType.body.error.code]).toEqual([415, 'INPUT_TYPE_REFUSED']);
    expect(await jobIds(alice)).toEqual(before);
    const uploads = (await alice.get('/api/uploads')).body.uploads;
    expect(uploads.map((u: { inUse: boolean }) => u.inUse)).toEqual([false, false]);
    for (const u of [big, exe]) expect((await alice.request('DELETE', `/api/uploads/${u.body.uploadId}`)).status).toBe(204);
    expect(uploadFiles(jv.dataDir)).toEqual([]);
  });

  it('refuses another user’s upload, and one over the user’s quota; DELETE removes an upload', async () => {
    const mine = await upload(alice, 'mine.pdb', PDB);
    expect(mine.status).toBe(201);
    const taken = await carol.post('/api/jobs', { template: 'count-lines', inputs: { structure: mine.body.uploadId } });
    expect([taken.status, taken.body.error.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);
    expect((await carol.request('DELETE', `/api/uploads/${mine.body.uploadId}`)).status).toBe(404);
    expect((await alice.request('DELETE', `/api/uploads/${mine.body.uploadId}`)).status).toBe(204);
    expect((await alice.get('/api/uploads')).body.uploads).toEqual([]);
    expect(uploadFiles(jv.dataDir)).toEqual([]);

    // Quota 5 MiB: two files of 2.5 MiB fit, a third does not (and leaves nothing).
    const a = await upload(carol, 'a.bin', Buffer.alloc(2.5 * MiB, 1));
    const b = await upload(carol, 'b.bin', Buffer.alloc(2.5 * MiB, 2));
    expect([a.status, b.status]).toEqual([201, 201]);
    for (const size of [10, 2.5 * MiB]) {
      // Refused before a byte is stored; a large body is still read to its end so that the client gets the answer.
      const c = await upload(carol, 'c.bin', Buffer.alloc(size, 3));
      expect([c.status, c.body.error?.code], `${size} bytes`).toEqual([413, 'UPLOAD_QUOTA']);
    }
    expect(uploadFiles(jv.dataDir).length).toBe(2);
    for (const u of [a, b]) expect((await carol.request('DELETE', `/api/uploads/${u.body.uploadId}`)).status).toBe(204);
    expect(uploadFiles(jv.dataDir)).toEqual([]);
    const d = await upload(carol, 'd.bin', Buffer.alloc(10, 3));
    expect(d.status).toBe(201);
    expect((await carol.request('DELETE', `/api/uploads/${d.body.uploadId}`)).status).toBe(204);
  });

  it('keeps a queued run’s upload across a supervisor restart and stages it when the run goes on', async () => {
    // The one sequential slot is taken: the run with a file waits (not sent) while the supervisor restarts.
    const blocker = await alice.run({ template: 'sleep', jobKey: 'blocker', parameters: { seconds: 600, lines: 0 } });
    await alice.waitJob(blocker.jobId, (j) => j.status === 'running', 60_000, 'the blocker');
    const r = await runWithFiles(alice, { template: 'count-lines', jobKey: 'restart' }, [{ field: 'structure', name: 'kept.pdb', data: PDB }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await alice.waitJob(r.body.job.jobId, (j) => j.waitingFor?.includes('CPU slot') === true, 30_000, 'waiting for a slot');
    await jv.stopSupervisor();
    await jv.startSupervisor();
    expect(uploadFiles(jv.dataDir).length).toBe(1);
    await waitFor(async () => (await alice.post(`/api/jobs/${blocker.jobId}/cancel`, {})).status === 200, { timeoutMs: 60_000, what: 'the blocker to be canceled' });
    await alice.waitJob(r.body.job.jobId, (j) => j.status === 'completed', 90_000, 'the run with a file after the restart');
    expect(result('alice', r.body.job.jobId)).toMatchObject({ lines: 4, inputs: ['kept.pdb'] });
    await waitFor(() => uploadFiles(jv.dataDir).length === 0, { what: 'the upload to go' });
  }, 180_000);
});

describe('uploads cut off or left behind', () => {
  let jv: Jobvisor;
  let alice: Client;
  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: FIXTURES });
    alice = await jv.addUser(await jv.login(), 'alice');
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
  });

  it('leaves nothing of an upload whose client went away in the middle', async () => {
    const boundary = 'cutoff';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const url = new URL('/api/uploads', jv.serverUrl);
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + 4 * MiB) } });
    req.on('error', () => undefined);
    req.write(head);
    req.write(Buffer.alloc(1 * MiB, 7));
    // The supervisor has the file's first bytes (a temp file), then the client is gone.
    await waitFor(() => uploadFiles(jv.dataDir).some((f) => f.endsWith('.part')), { what: 'the upload to begin' });
    req.destroy();
    await waitFor(() => uploadFiles(jv.dataDir).length === 0, { what: 'the temp file to go' });
    expect((await alice.get('/api/uploads')).body.uploads).toEqual([]);
  });

  it('removes at start a claimed upload whose run no longer waits for it (its release was missed)', async () => {
    await jv.stopSupervisor();
    const id = 'c'.repeat(24);
    const dir = path.join(jv.dataDir, 'uploads', 'alice');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, id), 'left over');
    const db = new Database(path.join(jv.dataDir, 'jobs.sqlite'));
    db.prepare(`INSERT INTO uploads (id, user, file_name, media_type, size, sha256, created_at, expires_at, job_id, serial)
      VALUES (?, 'alice', 'left.txt', 'text/plain', 9, ?, 0, ?, 'feedfacefeedface', 1)`).run(id, 'a'.repeat(64), Date.now() + 3600_000);
    db.close();
    await jv.startSupervisor();
    await waitFor(() => uploadFiles(jv.dataDir).length === 0, { what: 'the left-over upload to go' });
    expect((await alice.get('/api/uploads')).body.uploads).toEqual([]);
  }, 60_000);

  it('removes the uploads of a queued run whose job is deleted', async () => {
    const blocker = await alice.run({ template: 'sleep', jobKey: 'blocker', parameters: { seconds: 600, lines: 0 } });
    await alice.waitJob(blocker.jobId, (j) => j.status === 'running', 60_000, 'the blocker');
    const r = await runWithFiles(alice, { template: 'count-lines', jobKey: 'deleted' }, [{ field: 'structure', name: 'a.pdb', data: PDB }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await alice.get('/api/uploads')).body.uploads.map((u: { inUse: boolean }) => u.inUse)).toEqual([true]);
    const id = (await alice.get('/api/uploads')).body.uploads[0].uploadId;
    expect((await alice.request('DELETE', `/api/uploads/${id}`)).body.error.code).toBe('UPLOAD_IN_USE');
    expect((await alice.request('DELETE', `/api/jobs/${r.body.job.jobId}`)).status).toBe(204);
    await waitFor(async () => uploadFiles(jv.dataDir).length === 0 && (await alice.get('/api/uploads')).body.uploads.length === 0, { what: 'the uploads to go' });
    expect((await alice.post(`/api/jobs/${blocker.jobId}/cancel`, {})).status).toBe(200);
  }, 90_000);
});

describe('unreferenced uploads', () => {
  let jv: Jobvisor;
  afterAll(async () => {
    await jv?.stop();
  });

  it('expire after uploadTtlSeconds, file and record', async () => {
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_UPLOAD_TTL_SECONDS: '2' } });
    const admin = await jv.login();
    const up = await upload(admin, 'soon-gone.txt', 'x');
    expect(up.status).toBe(201);
    expect(up.body.expiresAt - Date.now()).toBeLessThanOrEqual(2000);
    expect(uploadFiles(jv.dataDir)).toEqual([`admin/${up.body.uploadId}`]);
    await waitFor(() => uploadFiles(jv.dataDir).length === 0, { timeoutMs: 15_000, what: 'the upload to expire' });
    expect((await admin.get('/api/uploads')).body.uploads).toEqual([]);
    const late = await admin.post('/api/jobs', { template: 'count-lines', inputs: { structure: up.body.uploadId } });
    expect([late.status, late.body.error.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);
    expect(readdirSync(path.join(jv.dataDir, 'uploads', 'admin'))).toEqual([]);
  }, 60_000);
});
