/**
 * Pipelines (`/api/pipelines`): stages as ordinary runs of the local target, in a graph; files
 * and JSON values passed from stage to stage; a failing stage blocks what is downstream; resume,
 * cancel, a supervisor killed mid-pipeline, bad graphs refused.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import type { PipelineView, StageView } from '../src/shared/pipelines.js';
import { resumingEventReader } from './helpers/events.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'templates');

async function create(client: Client, body: unknown): Promise<PipelineView> {
  const r = await client.post<{ pipeline: PipelineView }>('/api/pipelines', body);
  if (r.status !== 201) throw new Error(`create pipeline: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.pipeline;
}

async function pipeline(client: Client, id: string): Promise<PipelineView> {
  const r = await client.get<{ pipeline: PipelineView }>(`/api/pipelines/${id}`);
  if (r.status !== 200) throw new Error(`GET pipeline ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.pipeline;
}

async function waitPipeline(client: Client, id: string, pred: (p: PipelineView) => boolean, what: string, timeoutMs = 60_000): Promise<PipelineView> {
  let last: PipelineView | undefined;
  await waitFor(async () => pred((last = await pipeline(client, id))), { timeoutMs, intervalMs: 200, what: () => `${what} (last: ${JSON.stringify(last)})` });
  return last!;
}

const stage = (p: PipelineView, name: string): StageView => p.stages.find((s) => s.name === name)!;

/** a → b → c: a writes numbers and a factor, b scales a's numbers by a's factor, c sums b's numbers. */
function chain(opts: { gate?: string; aSeconds?: number; bSeconds?: number } = {}) {
  return {
    name: 'scale and sum',
    stages: {
      a: { template: 'pipe-gen', parameters: { count: 4, factor: 3, seconds: opts.aSeconds ?? 0 } },
      b: {
        template: 'pipe-scale',
        parameters: { gate: opts.gate ?? '', seconds: opts.bSeconds ?? 0 },
        inputs: { numbers: { from: 'a', file: 'out/numbers.txt' } },
        parameterFrom: { factor: { from: 'a', file: 'out/meta.json', pointer: '/scale/factor' } },
      },
      c: { template: 'pipe-sum', parameters: { label: 'total' }, inputs: { numbers: { from: 'b', file: 'out/scaled.txt' } } },
    },
  };
}

describe('pipelines', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  let scratch: string;

  beforeAll(async () => {
    jv = await startJobvisor({ extraTemplates: FIXTURES, env: { JOBVISOR_SLOTS_SEQUENTIAL: '2' } });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
    scratch = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-pipes-'));
  }, 120_000);
  afterAll(async () => {
    await jv?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('runs a → b → c, passing a file and a JSON value along; c\'s result depends on a\'s file', async () => {
    const events = resumingEventReader(() => jv.serverUrl, alice.token!);
    const created = await create(alice, chain());
    expect(created.stages.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(stage(created, 'b').dependsOn).toEqual(['a']);
    const done = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the pipeline to end');
    expect([done.state, done.reason, done.progress]).toEqual(['completed', null, 1]);
    for (const s of done.stages) expect([s.name, s.state, s.jobStatus, s.attempts, s.serial]).toEqual([s.name, 'completed', 'completed', 1, 1]);
    // Each stage starts only once the one before it has ended.
    const [a, b, c] = done.stages as [StageView, StageView, StageView];
    expect(b.queuedAt!).toBeGreaterThanOrEqual(a.endedAt!);
    expect(c.queuedAt!).toBeGreaterThanOrEqual(b.endedAt!);

    const sum = await alice.get(`/api/jobs/${c.jobId}/files/sum.json`);
    expect(sum.body).toEqual({ sum: 3 * (1 + 2 + 3 + 4), count: 4, label: 'total' });
    const bJob = await alice.job(b.jobId!);
    expect(bJob.parameters.factor).toBe(3);
    expect(bJob.inputs?.map((i) => [i.name, i.fileName])).toEqual([['numbers', 'numbers.txt']]);

    // The stages' runs are ordinary jobs, in the jobs list with their pipeline.
    const jobs = (await alice.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs.filter((j) => j.pipelineId === created.pipelineId);
    expect(jobs.map((j) => j.jobKey).sort()).toEqual(['a', 'b', 'c'].map((s) => `${created.pipelineId}-${s}`));
    // Pipeline events went to its owner, on every change.
    await waitFor(() => events.seen.some((e) => e.event === 'pipeline' && e.data.pipeline?.state === 'completed'), { what: 'the completed pipeline event' });
    const states = events.seen.filter((e) => e.event === 'pipeline' && e.data.pipelineId === created.pipelineId).map((e) => (e.data.pipeline as PipelineView).stages.map((s) => s.state[0]).join(''));
    expect(states).toContain('cww');
    expect(states).toContain('ccr');
    events.stop();

    // Others do not see it; admins do.
    expect((await bob.get(`/api/pipelines/${created.pipelineId}`)).body.error.code).toBe('PIPELINE_NOT_FOUND');
    expect((await bob.get('/api/pipelines')).body.pipelines).toEqual([]);
    expect((await admin.get('/api/pipelines?all=1')).body.pipelines.map((p: PipelineView) => p.pipelineId)).toContain(created.pipelineId);
    expect((await alice.get('/api/pipelines?all=1')).status).toBe(403);
  }, 120_000);

  it('stops everything after a failing middle stage (never started), then resumes from it once the cause is fixed', async () => {
    const gate = path.join(scratch, 'gate');
    writeFileSync(gate, 'fail\n');
    const created = await create(alice, chain({ gate }));
    const failed = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the pipeline to fail');
    expect(failed.state).toBe('failed');
    expect(stage(failed, 'a').state).toBe('completed');
    expect(stage(failed, 'b').state).toBe('failed');
    expect(stage(failed, 'b').reason).toContain('gate says fail');
    const c = stage(failed, 'c');
    expect([c.state, c.jobId, c.attempts]).toEqual(['blocked', null, 0]);
    expect(c.reason).toMatch(/^stage b failed: .*gate says fail/);
    expect(failed.reason).toMatch(/^stage b failed: /);
    expect((await alice.post(`/api/pipelines/${created.pipelineId}/cancel`)).body.error.code).toBe('PIPELINE_NOT_ACTIVE');

    writeFileSync(gate, 'ok\n');
    const resumed = await alice.post<{ pipeline: PipelineView }>(`/api/pipelines/${created.pipelineId}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.pipeline.state).toBe('running');
    const done = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the resumed pipeline to end');
    expect(done.state).toBe('completed');
    // a was kept (one run), b ran again (its job's run 2), c ran for the first time.
    expect(done.stages.map((s) => [s.name, s.attempts, s.serial])).toEqual([['a', 1, 1], ['b', 2, 2], ['c', 1, 1]]);
    expect((await alice.get(`/api/jobs/${stage(done, 'c').jobId}/files/sum.json`)).body.sum).toBe(30);
    expect((await alice.post(`/api/pipelines/${created.pipelineId}/resume`)).body.error.code).toBe('PIPELINE_NOT_RESUMABLE');
  }, 120_000);

  it('lets a branch go on while a sibling fails, blocks their join, and starts the join once after resume', async () => {
    const gate = path.join(scratch, 'gate-diamond');
    writeFileSync(gate, 'fail');
    const numbers = { numbers: { from: 'a', file: 'out/numbers.txt' } };
    const created = await create(alice, {
      stages: {
        a: { template: 'pipe-gen', parameters: { count: 3 } },
        b: { template: 'pipe-scale', parameters: { gate, factor: 2 }, inputs: numbers },
        c: { template: 'pipe-scale', parameters: { factor: 5, seconds: 1 }, inputs: numbers },
        d: { template: 'pipe-sum', after: ['b'], inputs: { numbers: { from: 'c', file: 'out/scaled.txt' } } },
      },
    });
    expect(stage(created, 'd').dependsOn.sort()).toEqual(['b', 'c']);
    const failed = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the pipeline to fail');
    expect(failed.stages.map((s) => [s.name, s.state])).toEqual([['a', 'completed'], ['b', 'failed'], ['c', 'completed'], ['d', 'blocked']]);
    writeFileSync(gate, 'ok');
    await alice.post(`/api/pipelines/${created.pipelineId}/resume`);
    const done = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the resumed pipeline to end');
    expect(done.stages.map((s) => [s.name, s.state, s.attempts, s.serial])).toEqual([['a', 'completed', 1, 1], ['b', 'completed', 2, 2], ['c', 'completed', 1, 1], ['d', 'completed', 1, 1]]);
    expect((await alice.get(`/api/jobs/${stage(done, 'd').jobId}/files/sum.json`)).body.sum).toBe(5 * (1 + 2 + 3));
  }, 90_000);

  it('fails a stage whose upstream file is missing or whose read parameter its template refuses, leaving no upload behind', async () => {
    const missing = await create(alice, {
      stages: { a: { template: 'pipe-gen' }, b: { template: 'pipe-sum', inputs: { numbers: { from: 'a', file: 'out/missing.txt' } } } },
    });
    const m = await waitPipeline(alice, missing.pipelineId, (p) => p.state !== 'running', 'the pipeline to fail');
    expect([stage(m, 'b').state, stage(m, 'b').jobId]).toEqual(['failed', null]);
    expect(stage(m, 'b').reason).toContain('stage a produced no out/missing.txt');

    const refused = await create(alice, {
      stages: {
        a: { template: 'pipe-gen' },
        b: { template: 'pipe-scale', inputs: { numbers: { from: 'a', file: 'out/numbers.txt' } }, parameterFrom: { factor: { from: 'a', file: 'out/meta.json', pointer: '/scale' } } },
      },
    });
    const r = await waitPipeline(alice, refused.pipelineId, (p) => p.state !== 'running', 'the pipeline to fail');
    expect([stage(r, 'b').state, stage(r, 'b').jobId]).toEqual(['failed', null]);
    expect(stage(r, 'b').reason).toContain('parameters of pipe-scale');
    expect((await alice.get('/api/uploads')).body.uploads).toEqual([]);
  }, 60_000);

  it('blocks what follows a stage whose postprocess rejects its output, and never passes it on', async () => {
    const created = await create(alice, {
      stages: {
        check: { template: 'steps', parameters: { postFail: true } },
        next: { template: 'pipe-sum', after: ['check'], inputs: { numbers: { from: 'check', file: 'main.txt' } } },
      },
    });
    const failed = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the pipeline to fail');
    expect(stage(failed, 'check').reason).toContain('postprocess rejected the results');
    expect([stage(failed, 'next').state, stage(failed, 'next').jobId]).toEqual(['blocked', null]);
    expect(stage(failed, 'next').reason).toMatch(/^stage check failed: postprocess rejected the results/);
  }, 60_000);

  it('cancels its running stage on cancel, and the rest never start', async () => {
    const created = await create(alice, chain({ aSeconds: 60 }));
    const running = await waitPipeline(alice, created.pipelineId, (p) => stage(p, 'a').jobStatus === 'running', 'stage a to run');
    const canceled = await alice.post<{ pipeline: PipelineView }>(`/api/pipelines/${created.pipelineId}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.pipeline.state).toBe('canceled');
    const a = await alice.waitJob(stage(running, 'a').jobId!, (j) => j.status !== 'running' && j.status !== 'pending', 20_000, 'stage a to end');
    expect(a.status).toBe('canceled');
    const p = await pipeline(alice, created.pipelineId);
    expect(p.stages.map((s) => [s.name, s.state, s.jobId === null])).toEqual([['a', 'canceled', false], ['b', 'canceled', true], ['c', 'canceled', true]]);
    // Nothing starts later either.
    const jobs = (await alice.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs.filter((j) => j.pipelineId === created.pipelineId);
    expect(jobs.length).toBe(1);

    expect((await alice.request('DELETE', `/api/pipelines/${created.pipelineId}`)).status).toBe(204);
    expect((await alice.get(`/api/pipelines/${created.pipelineId}`)).status).toBe(404);
    expect((await alice.get(`/api/jobs/${stage(running, 'a').jobId}`)).status).toBe(404);
  }, 60_000);

  it('goes on after a supervisor restart: a stage whose run ended while it was down moves the pipeline on', async () => {
    const created = await create(alice, chain({ aSeconds: 3 }));
    const running = await waitPipeline(alice, created.pipelineId, (p) => stage(p, 'a').jobStatus === 'running', 'stage a to run');
    const a = stage(running, 'a');
    await jv.stopSupervisor('SIGKILL');
    // The run ends while no supervisor is there: its output appears in its run folder.
    const out = path.join(jv.dataDir, 'runs', 'alice', a.jobId!, '1', 'out', 'meta.json');
    await waitFor(() => existsSync(out), { timeoutMs: 30_000, what: `${out} to be written` });
    await jv.startSupervisor();
    const done = await waitPipeline(alice, created.pipelineId, (p) => p.state !== 'running', 'the pipeline to end after the restart', 90_000);
    expect(done.state).toBe('completed');
    expect(done.stages.map((s) => [s.name, s.state, s.attempts])).toEqual([['a', 'completed', 1], ['b', 'completed', 1], ['c', 'completed', 1]]);
    expect((await alice.get(`/api/jobs/${stage(done, 'c').jobId}/files/sum.json`)).body.sum).toBe(30);
  }, 150_000);

  it('lists pipelines a page at a time, newest first: cursor, state filter, total; a bad or foreign cursor and a limit over 500 are refused', async () => {
    const carol = await jv.addUser(admin, 'carol');
    const made: PipelineView[] = [];
    for (let i = 0; i < 5; i++) made.push(await create(carol, { name: `paged ${i}`, stages: { a: { template: 'pipe-gen', parameters: { count: 1, factor: 1, seconds: 0 } } } }));
    await Promise.all(made.map((p) => waitPipeline(carol, p.pipelineId, (x) => x.state === 'completed', 'paged pipeline to complete')));

    type Page = { pipelines: PipelineView[]; nextCursor?: string; total?: number };
    const seen: PipelineView[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const r = await carol.get<Page>(`/api/pipelines?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      sizes.push(r.body.pipelines.length);
      seen.push(...r.body.pipelines);
      cursor = r.body.nextCursor;
    } while (cursor !== undefined);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen.map((p) => p.pipelineId).sort()).toEqual(made.map((p) => p.pipelineId).sort());
    // Newest first: by creation time, then by id (pipelines made in the same millisecond).
    const order = [...seen].sort((a, b) => b.createdAt - a.createdAt || (b.pipelineId < a.pipelineId ? -1 : 1));
    expect(seen.map((p) => p.pipelineId)).toEqual(order.map((p) => p.pipelineId));

    const totals = await Promise.all(['total=1', 'total=1&state=completed', 'total=1&state=running,failed', 'limit=500'].map((q) => carol.get<Page>(`/api/pipelines?${q}`)));
    expect(totals.map((r) => [r.status, r.body.total, r.body.pipelines.length, r.body.nextCursor])).toEqual([
      [200, 5, 5, undefined],
      [200, 5, 5, undefined],
      [200, 0, 0, undefined],
      [200, undefined, 5, undefined],
    ]);
    // Others do not see carol's; an admin does with all=1.
    expect((await alice.get<Page>('/api/pipelines?limit=500')).body.pipelines.some((p) => p.user === 'carol')).toBe(false);
    const everyone = await admin.get<Page>('/api/pipelines?all=1&total=1&limit=500');
    expect(everyone.body.pipelines.filter((p) => p.user === 'carol').length).toBe(5);
    expect(everyone.body.total).toBe(everyone.body.pipelines.length);

    const carolCursor = (await carol.get<Page>('/api/pipelines?limit=1')).body.nextCursor!;
    const refused = await Promise.all(
      (
        [
          [carol, 'limit=501'],
          [carol, 'limit=0'],
          [carol, 'state=sleeping'],
          [carol, 'cursor=not-a-cursor'],
          [carol, `cursor=${carolCursor}&state=failed`],
          [alice, `cursor=${carolCursor}`],
          [alice, 'all=1'],
        ] as const
      ).map(async ([who, q]) => {
        const r = await who.get<{ error: { code: string } }>(`/api/pipelines?${q}`);
        return [q, r.status, r.body.error.code];
      }),
    );
    expect(refused).toEqual([
      ['limit=501', 400, 'INVALID_INPUT'],
      ['limit=0', 400, 'INVALID_INPUT'],
      ['state=sleeping', 400, 'INVALID_INPUT'],
      ['cursor=not-a-cursor', 400, 'BAD_CURSOR'],
      [`cursor=${carolCursor}&state=failed`, 400, 'BAD_CURSOR'],
      [`cursor=${carolCursor}`, 400, 'BAD_CURSOR'],
      ['all=1', 403, 'FORBIDDEN'],
    ]);
  });

  it('refuses bad graphs with stable codes, and stores nothing', async () => {
    const before = (await alice.get('/api/pipelines')).body.pipelines.length;
    const refuse = async (body: unknown, status: number, code: string) => {
      const r = await alice.post('/api/pipelines', body);
      expect([r.status, r.body.error?.code], JSON.stringify(r.body)).toEqual([status, code]);
      return r.body.error.message as string;
    };
    const gen = { template: 'pipe-gen' };
    expect(await refuse({ stages: { a: { ...gen, after: ['b'] }, b: { ...gen, after: ['c'] }, c: { ...gen, after: ['a'] } } }, 400, 'PIPELINE_CYCLE')).toContain('→');
    await refuse({ stages: { a: { ...gen, after: ['a'] } } }, 400, 'PIPELINE_CYCLE');
    await refuse({ stages: { a: gen, b: { ...gen, after: ['nope'] } } }, 400, 'PIPELINE_UNKNOWN_STAGE');
    await refuse({ stages: { a: gen, b: { template: 'pipe-sum', inputs: { numbers: { from: 'zz', file: 'x.txt' } } } } }, 400, 'PIPELINE_UNKNOWN_STAGE');
    await refuse({ stages: { a: { template: 'no-such-template' } } }, 400, 'UNKNOWN_TEMPLATE');
    await refuse({ stages: { a: gen, b: { template: 'pipe-sum', after: ['a'] } } }, 400, 'INPUT_REQUIRED');
    await refuse({ stages: { a: gen, b: { template: 'pipe-sum', inputs: { numbers: { from: 'a', file: '../x.txt' } } } } }, 400, 'INVALID_INPUT');
    await refuse({ stages: { a: gen, b: { template: 'pipe-scale', inputs: { numbers: { from: 'a', file: 'out/numbers.txt' } }, parameterFrom: { factor: { from: 'a', file: 'out/meta.json', pointer: 'scale' } } } } }, 400, 'INVALID_INPUT');
    await refuse({ stages: { a: { template: 'pipe-gen', parameters: { count: -1 } } } }, 400, 'INVALID_INPUT');
    await refuse({ stages: {} }, 400, 'INVALID_INPUT');
    expect((await alice.get('/api/pipelines')).body.pipelines.length).toBe(before);
  }, 30_000);
});
