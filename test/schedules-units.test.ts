/**
 * Schedules without processes: firing times (cron in a time zone with daylight saving, an
 * interval from its anchor, a window), what is due after a pause in the loop, the job key of a
 * firing, and the store's one row per firing time.
 */
import { describe, expect, it } from 'vitest';
import { JobvisorError } from '../src/shared/errors.js';
import { createLogger } from '../src/shared/logger.js';
import { Scheduler } from '../src/supervisor/schedules/scheduler.js';
import { waitFor } from './helpers/wait.js';
import { firingJobKey } from '../src/supervisor/schedules/service.js';
import { SqliteScheduleStore } from '../src/supervisor/schedules/store.js';
import { checkTimezone, latestDue, nextAfter, nextFirings, parseCron, shortestGapSeconds, type Timing } from '../src/supervisor/schedules/timing.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());
const cron = (expr: string, timezone = 'UTC', more: Partial<Timing> = {}): Timing => ({ cron: expr, timezone, intervalSeconds: null, anchor: 0, startAt: null, endAt: null, ...more });
const every = (seconds: number, anchor: number, more: Partial<Timing> = {}): Timing => ({ cron: null, timezone: 'UTC', intervalSeconds: seconds, anchor, startAt: null, endAt: null, ...more });

describe('schedule timing', () => {
  it('reads a cron expression in its time zone, across a change of daylight saving time', () => {
    // Berlin leaves summer time on 2026-10-25: 09:00 local is 07:00 UTC before, 08:00 UTC after.
    expect(iso(nextFirings(cron('0 0 9 * * *', 'Europe/Berlin'), at('2026-10-23T12:00:00Z'), 3))).toEqual(['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z']);
  });

  it('fires an interval at its anchor, then every interval, within its window', () => {
    const t = every(10, at('2026-12-01T00:00:00Z'), { endAt: at('2026-12-01T00:00:25Z') });
    expect(iso(nextFirings(t, at('2026-11-30T00:00:00Z'), 5))).toEqual(['2026-12-01T00:00:00.000Z', '2026-12-01T00:00:10.000Z', '2026-12-01T00:00:20.000Z']);
    expect(nextAfter(t, at('2026-12-01T00:00:20Z'))).toBeNull();
    const c = cron('0 0 * * * *', 'UTC', { startAt: at('2026-12-01T05:00:00Z') });
    expect(iso([nextAfter(c, at('2026-12-01T00:00:00Z'))!])).toEqual(['2026-12-01T05:00:00.000Z']);
  });

  it('says the latest time due after the cursor, or none', () => {
    const t = every(2, at('2026-12-01T00:00:00Z'));
    expect(latestDue(t, at('2026-12-01T00:00:00Z'), at('2026-12-01T00:00:07.5Z'))).toBe(at('2026-12-01T00:00:06Z'));
    expect(latestDue(t, at('2026-12-01T00:00:06Z'), at('2026-12-01T00:00:07.5Z'))).toBeNull();
    const c = cron('*/5 * * * * *');
    expect(latestDue(c, at('2026-12-01T00:00:00Z'), at('2026-12-01T00:01:02Z'))).toBe(at('2026-12-01T00:01:00Z'));
    expect(latestDue(c, at('2026-12-01T00:00:00Z'), at('2026-12-01T00:00:04Z'))).toBeNull();
  });

  it('refuses a bad cron expression or time zone with INVALID_SCHEDULE', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof JobvisorError ? err.code : 'other';
      }
      return 'none';
    };
    expect(code(() => parseCron('* * *', 'UTC'))).toBe('INVALID_SCHEDULE');
    expect(code(() => parseCron('0 0 32 * *', 'UTC'))).toBe('INVALID_SCHEDULE');
    expect(code(() => checkTimezone('Europe/Atlantis'))).toBe('INVALID_SCHEDULE');
    expect(code(() => parseCron('*/10 * * * * *', 'Pacific/Chatham'))).toBe('none');
  });

  it('measures the shortest gap between firings (the site’s shortest interval applies to cron too)', () => {
    expect(shortestGapSeconds(cron('* * * * * *'), 0)).toBe(1);
    expect(shortestGapSeconds(cron('0 */5 * * * *'), 0)).toBe(300);
    expect(shortestGapSeconds(every(90, 0), 0)).toBe(90);
  });

  it('names each firing\'s job by the schedule and the firing time', () => {
    expect(firingJobKey('nightly', at('2026-12-01T09:00:00.000Z'))).toBe('nightly-20261201T090000Z');
  });
});

describe('schedule store', () => {
  it('claims a firing time once: a second claim of the same time is refused', () => {
    const store = new SqliteScheduleStore(':memory:');
    const now = Date.now();
    store.save({
      id: 's1', user: 'alice', ownerRole: 'user', name: 'n', template: 'sleep', run: { parameters: {} }, cron: null, timezone: 'UTC', intervalSeconds: 60,
      anchor: now, startAt: null, endAt: null, missed: 'skip', paused: false, cursor: now - 1, skipped: 0, lastFireTime: null, lastFiredAt: null, lastJobId: null, lastError: null, createdAt: now, updatedAt: now,
    });
    const claim = { scheduleId: 's1', fireTime: now, firedAt: now, jobKey: 'n-x', kind: 'onTime' as const, skipped: 0 };
    expect(store.claim(claim)).toBe(true);
    expect(store.claim({ ...claim, firedAt: now + 5 })).toBe(false);
    expect(store.get('s1')?.cursor).toBe(now);
    expect(store.firings('s1', 10)).toHaveLength(1);
    store.close();
  });
});

describe('scheduler loop (its clock and the run requests driven by the test)', () => {
  const T0 = at('2026-12-01T00:00:00Z');
  const row = (id: string, more: Partial<Parameters<SqliteScheduleStore['save']>[0]>) => ({
    id, user: 'alice', ownerRole: 'user', name: id, template: 'sleep', run: { parameters: {} }, cron: null, timezone: 'UTC', intervalSeconds: 10,
    anchor: T0, startAt: null, endAt: null, missed: 'skip' as const, paused: false, cursor: T0 - 1, skipped: 0, lastFireTime: null, lastFiredAt: null, lastJobId: null, lastError: null, createdAt: T0, updatedAt: T0, ...more,
  });

  it('at start runs one firing for the latest missed time (runOnce), none (skip), and a broken schedule holds up no other', async () => {
    const store = new SqliteScheduleStore(':memory:');
    store.save(row('once', { missed: 'runOnce' }));
    store.save(row('skip', { missed: 'skip' }));
    store.save(row('broken', { cron: '* * * * * *', intervalSeconds: null, timezone: 'Not/AZone', missed: 'runOnce' }));
    const runs: string[] = [];
    let now = T0 + 35_000;
    const jobs = { run: async (_c: unknown, body: { jobKey?: string }) => (runs.push(body.jobKey ?? ''), { jobId: `job${runs.length}` }) };
    const scheduler = new Scheduler({ store, jobs: jobs as never, log: createLogger('test', 'silent'), now: () => now, maxSleepMs: 5 });
    scheduler.start();
    await waitFor(() => runs.length === 1);
    expect(runs).toEqual(['once-20261201T000030Z']);
    expect(store.get('skip')).toMatchObject({ cursor: T0 + 30_000, skipped: 4 });
    expect(store.get('once')).toMatchObject({ cursor: T0 + 30_000, skipped: 3, lastJobId: 'job1', lastError: null });
    // Then on time: both fire at 40 s, once each, however often the loop looks.
    now = T0 + 40_000;
    await waitFor(() => runs.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs.slice(1).sort()).toEqual(['once-20261201T000040Z', 'skip-20261201T000040Z']);
    await scheduler.close();
    expect(store.firings('once', 10).map((f) => f.kind)).toEqual(['onTime', 'missed']);
    store.close();
  });
});
