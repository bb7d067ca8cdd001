/**
 * The jobs page and the pipelines page page their lists (issue 13) in a real Chromium against a
 * real jobvisor: with 230 jobs and 130 pipelines in the database each shows the newest 100, and
 * "Show more jobs" / "Show more pipelines" adds the next pages until every one is shown once,
 * then goes away.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SqlitePipelineStore, type PipelineRow } from '../src/supervisor/pipelines/store.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';
import type { JobRow } from '../src/supervisor/store.js';
import { logIn, screenshot } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

function row(i: number): JobRow {
  const queuedAt = T0 + i * 60_000;
  return {
    id: `page${String(i).padStart(12, '0')}`, user: 'alice', jobKey: `key-${String(i).padStart(3, '0')}`, template: 'sleep', target: 'local', driver: 'local', size: 'sequential',
    serial: 1, status: 'completed', parameters: { seconds: 0, lines: 1 }, options: null, progress: 1, progressMessage: null, reason: null, queuedAt, startedAt: queuedAt,
    endedAt: queuedAt + 1000, updatedAt: queuedAt + 1000, logLines: 1, agentId: null, pid: null, sent: true, externalId: null, logOffset: 0, scheduler: null, phase: null,
    phaseTimes: {}, inputs: [], cause: null, notify: null, callbackUrl: null, stale: null, runDir: null, files: 'purged', bytes: 0, ownerRole: 'user', scheduleId: null, scheduleName: null,
  } as JobRow;
}

/** A one-stage pipeline of alice's that ended long ago (no job behind its stage any more). */
function pipelineRow(i: number): PipelineRow {
  const createdAt = T0 + i * 60_000;
  return {
    id: i.toString(16).padStart(12, '0'), user: 'alice', role: 'user', name: `pipeline ${String(i).padStart(3, '0')}`, spec: { name: `pipeline ${i}`, stages: { a: { template: 'sleep', parameters: {}, after: [], inputs: {}, parameterFrom: {} } } },
    order: ['a'], state: 'completed', reason: null, createdAt, updatedAt: createdAt + 1000, endedAt: createdAt + 1000,
    stages: new Map([['a', { name: 'a', state: 'completed', reason: null, jobId: null, serial: null, attempts: 1 }]]),
  };
}

describe('jobs page and pipelines page, paged (Chromium)', () => {
  const gui = guiFile();
  let jv: Jobvisor;

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor()));
    await jv.addUser(await jv.login(), 'alice');
    await jv.stopSupervisor();
    const store = new SqliteJobStore(path.join(jv.dataDir, 'jobs.sqlite'), () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    store.saveBatch(Array.from({ length: 230 }, (_, i) => ({ next: row(i) })));
    store.close();
    const pipelines = new SqlitePipelineStore(path.join(jv.dataDir, 'jobs.sqlite'));
    for (let i = 0; i < 130; i++) pipelines.save(pipelineRow(i));
    pipelines.close();
    await jv.startSupervisor();
  }, 120_000);

  it('shows the newest 100 jobs, then the next pages on "Show more jobs", each job once', async () => {
    const { page: p, context } = await gui.page();
    try {
      await logIn(p, 'alice', 'alice-password');
      const rows = p.locator('.jobs-page tr[data-job-id]');
      const more = p.getByTestId('jobs-more');
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(100);
      await expect.poll(() => more.isVisible()).toBe(true);
      expect(await rows.first().getAttribute('data-job-id')).toBe(row(229).id);
      await more.click();
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(200);
      await more.click();
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(230);
      await expect.poll(() => more.isVisible()).toBe(false);
      const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id')));
      expect(ids).toEqual(Array.from({ length: 230 }, (_, i) => row(229 - i).id));
      await screenshot(p, 'paging-all-shown');
    } finally {
      await context.close();
    }
  });

  it('shows the newest 100 pipelines, then the rest on "Show more pipelines", each once', async () => {
    const { page: p } = await gui.page();
    await logIn(p, 'alice', 'alice-password');
    await p.goto(`${jv.serverUrl}/#/pipelines`);
    const rows = p.locator('[data-testid="pipelines"] tr[data-pipeline-id]');
    const more = p.getByTestId('more-pipelines');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(100);
    await expect.poll(() => more.isVisible()).toBe(true);
    await more.click();
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(130);
    await expect.poll(() => more.isVisible()).toBe(false);
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-pipeline-id')));
    expect(ids).toEqual(Array.from({ length: 130 }, (_, i) => pipelineRow(129 - i).id));
    await screenshot(p, 'paging-pipelines-all-shown');
  });
});
