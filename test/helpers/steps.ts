/**
 * What template steps promise on every target (test/steps.test.ts: local; steps-clusters: Slurm,
 * Grid Engine), tried with the `steps` fixture template through the HTTP API: the three phases
 * in order, every step's lines in the log, a preprocess failure (the command never runs), a
 * postprocess rejection, a cancel during preprocess.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { JobView } from '../../src/shared/api.js';
import { resumingEventReader } from './events.js';
import type { Client } from './jobvisor.js';
import { waitFor } from './wait.js';

export const STEPS_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'templates');

export interface StepsTarget {
  target: string;
  client: () => Client;
  serverUrl: () => string;
  /** How long a run may take to end on this target. */
  runMs: number;
  /**
   * Phases are read by polling (a batch scheduler): the phases that passed between two polls
   * arrive in one update, and so in one job event. Then the events show the phases in order,
   * maybe not each one; the run's phaseTimes still have every phase.
   */
  polled?: boolean;
}

async function fileNames(c: Client, jobId: string): Promise<string[]> {
  const r = await c.get<{ files: { path: string }[] }>(`/api/jobs/${jobId}/files`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.files.map((f) => f.path);
}

async function runLog(c: Client, jobId: string): Promise<string> {
  const r = await c.get<string>(`/api/jobs/${jobId}/files/run.log`);
  expect(r.status).toBe(200);
  return String(r.body);
}

/** The distinct phases of a job's views, in the order they came. */
function phasesSeen(views: JobView[]): string[] {
  const out: string[] = [];
  for (const v of views) if (v.phase && out.at(-1) !== v.phase) out.push(v.phase);
  return out;
}

export function stepsScenarios(t: StepsTarget): void {
  const run = (jobKey: string, parameters: Record<string, unknown>) => t.client().run({ template: 'steps', target: t.target, jobKey, parameters });

  it('runs preprocess, command and postprocess in order: three phases, each step’s lines in the log, progress from the command only', async () => {
    const c = t.client();
    const events = resumingEventReader(t.serverUrl, c.token!);
    try {
      // The command lasts long enough to be seen running on a cluster that is polled.
      const job = await run('steps-ok', { mainSeconds: 2 });
      const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
      expect([done.status, done.reason]).toEqual(['completed', null]);
      expect(done.phase).toBeNull();
      const times = done.phaseTimes;
      expect(Object.keys(times).sort()).toEqual(['finishing', 'preparing', 'running']);
      expect(times.preparing! <= times.running! && times.running! <= times.finishing!).toBe(true);
      expect(times.preparing!).toBeGreaterThanOrEqual(done.queuedAt);
      expect(times.finishing!).toBeLessThanOrEqual(done.endedAt!);
      const log = await runLog(c, job.jobId);
      const order = ['[jobvisor] preprocess: node', 'pre: checking', 'pre: ok', '[jobvisor] command: node', 'main: working', 'main: done', '[jobvisor] postprocess: node', 'post: ok'];
      const at = order.map((line) => log.split('\n').indexOf(line));
      expect(at.every((i) => i >= 0), log).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      await waitFor(() => events.lines(job.jobId).includes('post: ok'), { what: 'the postprocess line as a log event' });
      for (const line of order) expect(events.lines(job.jobId)).toContain(line);
      const views = events.jobViews(job.jobId);
      const seen = phasesSeen(views);
      if (t.polled) {
        expect(seen.length, JSON.stringify(seen)).toBeGreaterThan(0);
        expect(seen.filter((p) => ['preparing', 'running', 'finishing'].includes(p)), 'in order').toEqual(['preparing', 'running', 'finishing'].filter((p) => seen.includes(p)));
      } else {
        expect(seen).toEqual(['preparing', 'running', 'finishing']);
      }
      // The preprocess's PROGRESS 0.9 line is not progress: the command's 0.5 is.
      expect(views.some((v) => v.progress === 0.9)).toBe(false);
      expect((await fileNames(c, job.jobId)).filter((f) => f.endsWith('.txt')).sort()).toEqual(['main.txt', 'pre-started.txt']);
    } finally {
      events.stop();
    }
  });

  it('goes straight to the running phase for a template without steps, with no step lines in its log', async () => {
    const c = t.client();
    const events = resumingEventReader(t.serverUrl, c.token!);
    try {
      const job = await c.run({ template: 'sleep', target: t.target, jobKey: 'no-steps', parameters: { seconds: 2, lines: 2 } });
      const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
      expect(done.status).toBe('completed');
      expect(Object.keys(done.phaseTimes)).toEqual(['running']);
      expect(phasesSeen(events.jobViews(job.jobId))).toEqual(['running']);
      expect(await runLog(c, job.jobId)).not.toContain('[jobvisor]');
    } finally {
      events.stop();
    }
  });

  it('ends the run as error when preprocess fails, with its message; the command never runs', async () => {
    const c = t.client();
    const job = await run('steps-pre-fails', { preFail: true });
    const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
    expect(done.status).toBe('error');
    expect(done.reason).toMatch(/^preprocess failed: (.*\n)*bad input: the text is empty \(exited with code 2\)$/);
    expect(done.phaseTimes.running).toBeUndefined();
    const files = await fileNames(c, job.jobId);
    expect(files).toContain('pre-started.txt');
    expect(files).not.toContain('main.txt');
    expect(await runLog(c, job.jobId)).not.toContain('[jobvisor] command:');
  });

  it('ends the run as error when postprocess rejects the results', async () => {
    const c = t.client();
    const job = await run('steps-post-rejects', { postFail: true });
    const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
    expect(done.status).toBe('error');
    expect(done.reason).toMatch(/^postprocess rejected the results: (.*\n)*no output structure produced \(exited with code 3\)$/);
    expect(done.phaseTimes.finishing).toBeDefined();
    expect(await fileNames(c, job.jobId)).toContain('main.txt');
  });

  it('runs the wordfreq example: a text normalised, counted and checked; a text with no word refused by its preprocess', async () => {
    const c = t.client();
    const job = await c.run({ template: 'wordfreq', target: t.target, jobKey: 'wordfreq', parameters: { text: 'To be, or not to be: that is the question.', top: 2 } });
    const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
    expect([done.status, done.reason, done.progress]).toEqual(['completed', null, 1]);
    const result = await c.get(`/api/jobs/${job.jobId}/files/result.json`);
    expect(result.body).toMatchObject({ words: 10, counted: 10, distinct: 8, top: [{ word: 'be', count: 2 }, { word: 'to', count: 2 }] });
    expect(await runLog(c, job.jobId)).toMatch(/results checked: 10 words, 8 distinct, top 2 listed/);

    const refused = await c.run({ template: 'wordfreq', target: t.target, jobKey: 'wordfreq-empty', parameters: { text: '... !!' } });
    const failed = await c.waitJob(refused.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
    expect(failed.status).toBe('error');
    expect(failed.reason).toMatch(/^preprocess failed: (.*\n)*error: the text holds no word \(letters or digits\) \(exited with code 2\)$/);
  });

  it('cancels a run during preprocess: the command never starts', async () => {
    const c = t.client();
    const job = await run('steps-cancel', { preSeconds: 120 });
    await c.waitJob(job.jobId, (j) => j.phase === 'preparing', t.runMs, 'the preparing phase');
    const r = await c.post(`/api/jobs/${job.jobId}/cancel`, {});
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    const done = await c.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), t.runMs, 'the run to end');
    expect(done.status).toBe('canceled');
    expect(done.phaseTimes.running).toBeUndefined();
    expect(await fileNames(c, job.jobId)).not.toContain('main.txt');
  });
}
