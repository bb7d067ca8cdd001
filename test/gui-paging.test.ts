/**
 * The jobs page pages its list (issue 13) in a real Chromium against a real jobvisor: with 230
 * jobs in the database it shows the newest 100, and "Show more jobs" adds the next pages until
 * every job is shown once, then goes away.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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

describe('jobs page, paged (Chromium)', () => {
  const gui = guiFile();
  let jv: Jobvisor;

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor()));
    await jv.addUser(await jv.login(), 'alice');
    await jv.stopSupervisor();
    const store = new SqliteJobStore(path.join(jv.dataDir, 'jobs.sqlite'), () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    store.saveBatch(Array.from({ length: 230 }, (_, i) => ({ next: row(i) })));
    store.close();
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
});
