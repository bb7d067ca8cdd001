/**
 * A run's progress lines on the event stream (issue 13, target 5): each batch of output lines is
 * one small `log` event (with the run's line count), each progress change one small `progress`
 * event, and neither makes a `job` event carrying the whole view: a run that prints 40 progress
 * lines makes as few job events as one that prints none. The job view (GET) and the events agree.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumingEventReader } from './helpers/events.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const LINES = 40;

const PRINTER_TEMPLATE = {
  name: 'printer',
  title: 'Progress printer',
  description: 'Prints `lines` PROGRESS lines, 50 a second.',
  parameters: { lines: { type: 'integer', label: 'Lines', default: 10, min: 1, max: 1000 } },
  command: ['sh', '-c', 'i=1; while [ $i -le $0 ]; do echo "PROGRESS $(awk "BEGIN{print $i/$0}") step $i"; i=$((i+1)); sleep 0.02; done', '{lines}'],
  sizes: ['sequential'],
  resources: { cores: 1 },
  timeLimitSeconds: 60,
  progress: { kind: 'stdout' },
  results: [],
};

describe('progress on the event stream', () => {
  let jv: Jobvisor;
  let admin: Client;
  let templates: string;
  beforeAll(async () => {
    templates = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-printer-'));
    mkdirSync(path.join(templates, 'printer'));
    writeFileSync(path.join(templates, 'printer', 'template.json'), JSON.stringify(PRINTER_TEMPLATE));
    jv = await startJobvisor({ env: { JOBVISOR_LOG_LEVEL: 'info' }, extraTemplates: templates });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
    rmSync(templates, { recursive: true, force: true });
  });

  it('sends progress as small progress events and lines as log events, not as job views', async () => {
    // The agent is started first, so the run measured is that of a warm supervisor.
    await admin.waitJob((await admin.run({ template: 'printer', jobKey: 'warm', parameters: { lines: 1 } })).jobId, (j) => j.status === 'completed');
    const events = resumingEventReader(() => jv.serverUrl, admin.token as string);
    await waitFor(() => events.types().includes('hello'), { what: 'the event stream open' });
    const { jobId } = await admin.run({ template: 'printer', jobKey: 'p', parameters: { lines: LINES } });
    const job = await admin.waitJob(jobId, (j) => j.status === 'completed', 30_000);
    await waitFor(() => events.lines(jobId).length >= LINES, { what: 'every log line as an event' });
    await waitFor(() => events.progress(jobId).includes(1), { what: 'the last progress as an event' });
    events.stop();
    const mine = events.seen.filter((e) => (e.data as { jobId?: string; job?: { jobId: string } }).jobId === jobId || (e.data as { job?: { jobId: string } }).job?.jobId === jobId);

    // Job events: queued, running, ended, measured at most (as for a trivial run); lines and progress made none.
    expect(mine.filter((e) => e.event === 'job').length).toBeLessThanOrEqual(4);
    // Progress events: exactly these fields, in order, never going back, ending at 1; and what GET says.
    const progress = mine.filter((e) => e.event === 'progress').map((e) => e.data as Record<string, unknown>);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(Object.keys(p).sort()).toEqual(['jobId', 'progress', 'progressMessage', 'serial', 'type', 'updatedAt', 'user']);
    const values = progress.map((p) => p.progress as number);
    expect(values.every((v, k) => k === 0 || v >= values[k - 1]!)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ user: 'admin', serial: 1, progress: 1, progressMessage: `step ${LINES}` });
    expect(job.progress).toBe(1);
    expect(job.progressMessage).toBe(`step ${LINES}`);
    // Log events: every line once, in order, each telling the run's line count so far, up to the view's.
    expect(events.lines(jobId)).toEqual(Array.from({ length: LINES }, (_, k) => expect.stringMatching(new RegExp(`^PROGRESS \\S+ step ${k + 1}$`))));
    const counts = mine.filter((e) => e.event === 'log').map((e) => e.data as { lines: string[]; logLines: number });
    let sum = 0;
    for (const c of counts) expect(c.logLines).toBe((sum += c.lines.length));
    expect(sum).toBe(job.logLines);
  }, 60_000);
});
