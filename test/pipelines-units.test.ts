/** The pure parts of pipelines: the graph's order and cycles, JSON pointers, and how stages move on. */
import { describe, expect, it } from 'vitest';
import { PipelineBody } from '../src/shared/pipelines.js';
import { blockStages, followJob, readyStages, settle, type StageJob } from '../src/supervisor/pipelines/advance.js';
import path from 'node:path';
import { loadTemplates } from '../src/shared/template.js';
import { atPointer, checkPipeline, stageOrder } from '../src/supervisor/pipelines/graph.js';
import type { PipelineRow, StageRow } from '../src/supervisor/pipelines/store.js';

const spec = (stages: Record<string, { after?: string[]; from?: string }>) =>
  PipelineBody.parse({
    stages: Object.fromEntries(
      Object.entries(stages).map(([n, s]) => [n, { template: 't', after: s.after ?? [], inputs: s.from ? { f: { from: s.from, file: 'x.txt' } } : {} }]),
    ),
  });

function row(stages: Record<string, { after?: string[]; from?: string }>, states: Record<string, StageRow['state']> = {}): PipelineRow {
  const body = spec(stages);
  const order = stageOrder(body.stages);
  const rows = new Map(order.map((name) => [name, { name, state: states[name] ?? 'waiting', reason: null, jobId: null, serial: null, attempts: 0 } as StageRow]));
  return { id: 'p', user: 'u', role: 'user', name: 'p', spec: body, order, state: 'running', reason: null, createdAt: 0, updatedAt: 0, endedAt: null, stages: rows };
}

const job = (status: StageJob['status'], reason: string | null = null, serial = 1): StageJob => ({ serial, status, reason, progress: null, progressMessage: null, queuedAt: 1, startedAt: 2, endedAt: 3 });

describe('pipeline graphs', () => {
  it('orders stages after what they depend on, by after and by the files they read', () => {
    expect(stageOrder(spec({ c: { from: 'b' }, b: { after: ['a'] }, a: {} }).stages)).toEqual(['a', 'b', 'c']);
    expect(stageOrder(spec({ a: {}, b: {}, d: { after: ['b', 'c'] }, c: { from: 'a' } }).stages)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('names the cycle, a stage that depends on itself, and an unknown stage', () => {
    const cycle = () => stageOrder(spec({ a: { after: ['c'] }, b: { after: ['a'] }, c: { from: 'b' }, d: {} }).stages);
    expect(cycle).toThrow(expect.objectContaining({ code: 'PIPELINE_CYCLE', details: { cycle: ['a', 'c', 'b', 'a'] } }));
    expect(() => stageOrder(spec({ a: { from: 'a' } }).stages)).toThrow(expect.objectContaining({ code: 'PIPELINE_CYCLE' }));
    expect(() => stageOrder(spec({ a: { after: ['x'] } }).stages)).toThrow(expect.objectContaining({ code: 'PIPELINE_UNKNOWN_STAGE' }));
  });

  it('names the stage of a parameter out of its limits and keeps the issues, so a form shows each at its field', () => {
    const templates = loadTemplates(path.join(import.meta.dirname, '..', 'templates'));
    const body = PipelineBody.parse({ stages: { a: { template: 'quick' }, b: { template: 'quick', after: ['a'], parameters: { samples: 5 } } } });
    let error: unknown;
    try {
      checkPipeline(body, (n) => templates.get(n), { maxStages: 10 });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'INVALID_INPUT', details: { stage: 'b', issues: [expect.objectContaining({ path: ['samples'] })] } });
    expect((error as Error).message).toMatch(/^stage b: parameters of quick: /);
  });

  it('reads JSON pointers (RFC 6901), undefined for what is not there', () => {
    const doc = { a: { b: [10, { 'c/d': 1, 'e~f': 2 }] }, z: null };
    expect(atPointer(doc, '')).toBe(doc);
    expect(atPointer(doc, '/a/b/0')).toBe(10);
    expect(atPointer(doc, '/a/b/1/c~1d')).toBe(1);
    expect(atPointer(doc, '/a/b/1/e~0f')).toBe(2);
    expect(atPointer(doc, '/z')).toBe(null);
    expect(atPointer(doc, '/a/b/2')).toBeUndefined();
    expect(atPointer(doc, '/a/b/01')).toBeUndefined();
    expect(atPointer(doc, '/a/toString')).toBeUndefined();
  });
});

describe('moving a pipeline on', () => {
  it('follows a stage job to its end; a job run again outside the pipeline fails the stage', () => {
    const st: StageRow = { name: 'a', state: 'running', reason: null, jobId: 'j', serial: 1, attempts: 1 };
    expect(followJob(st, job('running'))).toBe(false);
    expect(followJob({ ...st }, job('completed'))).toBe(true);
    const failed = { ...st };
    followJob(failed, job('error', 'exited with code 2'));
    expect([failed.state, failed.reason]).toEqual(['failed', 'exited with code 2']);
    const gone = { ...st };
    followJob(gone, undefined);
    expect([gone.state, gone.reason]).toEqual(['failed', 'its job was deleted']);
    const rerun = { ...st };
    followJob(rerun, job('running', null, 2));
    expect(rerun.state).toBe('failed');
  });

  it('blocks everything downstream of a failed stage with its reason, lets other branches go on, then fails the pipeline', () => {
    // a → b → d, a → c → d, b → e
    const p = row({ a: {}, b: { after: ['a'] }, c: { after: ['a'] }, d: { after: ['b', 'c'] }, e: { from: 'b' } }, { a: 'completed', b: 'failed' });
    p.stages.get('b')!.reason = 'gate says fail';
    expect(blockStages(p)).toBe(true);
    expect(readyStages(p).map((s) => s.name)).toEqual(['c']);
    expect([p.stages.get('d')!.state, p.stages.get('d')!.reason]).toEqual(['blocked', 'stage b failed: gate says fail']);
    expect(p.stages.get('e')!.reason).toBe('stage b failed: gate says fail');
    expect(settle(p, 5)).toBe(false); // c may still run
    p.stages.get('c')!.state = 'completed';
    expect(settle(p, 5)).toBe(true);
    expect([p.state, p.reason, p.endedAt]).toEqual(['failed', 'stage b failed: gate says fail', 5]);
  });

  it('passes a block down a chain in one call, naming the first failed stage', () => {
    const p = row({ a: {}, b: { after: ['a'] }, c: { after: ['b'] } }, { a: 'canceled' });
    blockStages(p);
    expect(['b', 'c'].map((n) => p.stages.get(n)!.reason)).toEqual(['stage a was canceled', 'stage a was canceled']);
  });

  it('completes when every stage completed', () => {
    const p = row({ a: {}, b: { after: ['a'] } }, { a: 'completed', b: 'completed' });
    expect(readyStages(p)).toEqual([]);
    expect(settle(p, 9)).toBe(true);
    expect([p.state, p.reason]).toEqual(['completed', null]);
  });
});
