/**
 * How many job events a run makes (issue 13, target 8): a trivial run makes at most 3 (queued,
 * running, ended with its disk use: the agent measures a small run folder as the run ends and says
 * it in the exit update) whatever the queue, because a run's steps within one
 * turn of the supervisor's event loop are one event (eventCoalescer.ts) and moving up in a
 * queue is no event (the job view has the exact place).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import { SseParser } from '../src/shared/sse.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const TRUE_TEMPLATE = {
  name: 'true',
  title: 'Do nothing',
  description: 'Runs /bin/true.',
  parameters: {},
  command: ['/bin/true'],
  sizes: ['sequential', 'parallel'],
  resources: { cores: 1 },
  timeLimitSeconds: 60,
  progress: { kind: 'none' },
  results: [],
};

/** Every job event of /api/events, by job id, in order. */
function followJobEvents(baseUrl: string, token: string) {
  const byJob = new Map<string, JobView[]>();
  const abort = new AbortController();
  void (async () => {
    const res = await fetch(`${baseUrl}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const parser = new SseParser((m) => {
      if (m.event !== 'job') return;
      const job = (JSON.parse(m.data) as { job: JobView }).job;
      byJob.set(job.jobId, [...(byJob.get(job.jobId) ?? []), job]);
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => undefined);
  return { byJob, stop: () => abort.abort() };
}

describe('job events per run', () => {
  let jv: Jobvisor;
  let admin: Client;
  let templates: string;
  beforeAll(async () => {
    templates = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-true-'));
    mkdirSync(path.join(templates, 'true'));
    writeFileSync(path.join(templates, 'true', 'template.json'), JSON.stringify(TRUE_TEMPLATE));
    jv = await startJobvisor({ env: { JOBVISOR_SLOTS_SEQUENTIAL: '1', JOBVISOR_LOG_LEVEL: 'info' }, extraTemplates: templates });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
    rmSync(templates, { recursive: true, force: true });
  });

  it('a trivial run makes at most 3 job events, and so does every run of a queue of 300 behind it', async () => {
    // The agent is started first, so the runs measured are those of a warm supervisor.
    await admin.waitJob((await admin.run({ template: 'true', jobKey: 'warm' })).jobId, (j) => j.status === 'completed');
    const events = followJobEvents(jv.serverUrl, admin.token as string);
    await new Promise((r) => setTimeout(r, 200)); // the stream is open before the first run
    const first = await admin.run({ template: 'true', jobKey: 'first' });
    const batch = await admin.post<{ jobs: { jobId: string }[] }>('/api/jobs/batch', { runs: Array.from({ length: 300 }, (_, i) => ({ template: 'true', jobKey: `q-${i}` })) });
    expect(batch.status).toBe(200);
    const ids = [first.jobId, ...batch.body.jobs.map((j) => j.jobId)];
    const last = (id: string) => events.byJob.get(id)?.at(-1);
    // Every run ended, and its disk use was measured (the run's last event).
    await waitFor(() => ids.every((id) => last(id)?.status === 'completed' && last(id)?.bytes !== null), { timeoutMs: 120_000, what: 'every run completed and measured' });
    events.stop();
    const counts = ids.map((id) => events.byJob.get(id)?.length ?? 0);
    // The runs over 3, with what their events said (status/waitingFor/queuePosition/phase/bytes), to read a failure.
    const said = (id: string) => (events.byJob.get(id) ?? []).map((j) => `${j.status}/${j.waitingFor}/${j.queuePosition}/${j.phase}/${j.bytes}`).join(' -> ');
    expect(ids.filter((id) => (events.byJob.get(id)?.length ?? 0) > 3).slice(0, 3).map(said)).toEqual([]);
    expect(counts[0]).toBeLessThanOrEqual(3);
    expect(Math.max(...counts)).toBeLessThanOrEqual(3);
    // What they said, in order: queued (waiting), running, completed with its bytes.
    const views = events.byJob.get(ids[150] as string) ?? [];
    expect(views[0]?.status).toBe('pending');
    expect(views.filter((j) => j.status === 'completed').map((j) => j.bytes !== null)).toEqual([true]);
    const statuses = views.map((j) => j.status);
    expect(statuses.indexOf('completed')).toBeGreaterThan(statuses.lastIndexOf('pending'));
  }, 180_000);

  it('tells a queued run its place in its first event, and always the exact place in the job view', async () => {
    const blocker = await admin.run({ template: 'sleep', jobKey: 'blocker', parameters: { seconds: 3, lines: 1 } });
    await admin.waitJob(blocker.jobId, (j) => j.status === 'running', 20_000, 'blocker running');
    const events = followJobEvents(jv.serverUrl, admin.token as string);
    await new Promise((r) => setTimeout(r, 200));
    const batch = await admin.post<{ jobs: { jobId: string }[] }>('/api/jobs/batch', { runs: Array.from({ length: 5 }, (_, i) => ({ template: 'true', jobKey: `place-${i}` })) });
    const ids = batch.body.jobs.map((j) => j.jobId);
    await waitFor(() => ids.every((id) => events.byJob.has(id)), { timeoutMs: 10_000, what: 'an event of each queued run' });
    expect(ids.map((id) => events.byJob.get(id)?.[0]?.queuePosition)).toEqual([1, 2, 3, 4, 5]);
    expect((await admin.job(ids[4] as string)).queuePosition).toBe(5);
    await admin.waitJob(ids[4] as string, (j) => j.status === 'completed', 60_000, 'the last queued run completed');
    events.stop();
  }, 90_000);
});
