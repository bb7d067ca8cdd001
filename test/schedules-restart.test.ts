/**
 * Schedules across supervisor restarts (real processes): firing every 2 s, the supervisor
 * stopped for a few firing times and started again. No firing time ever fires twice (also after
 * a SIGKILL), `skip` runs none of the times missed while it was down, `runOnce` runs exactly one,
 * for the latest missed time; both go on firing on time afterwards.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import type { FiringView, ScheduleView } from '../src/shared/scheduleApi.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const EVERY_2S = { template: 'sleep', parameters: { seconds: 0, lines: 1 }, intervalSeconds: 2 };

describe('schedules across supervisor restarts', () => {
  let jv: Jobvisor;
  let admin: Client;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_MIN_SCHEDULE_INTERVAL_SECONDS: '1', JOBVISOR_SLOTS_SEQUENTIAL: '4' } });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  const firings = async (id: string): Promise<FiringView[]> => {
    const r = await admin.get<{ firings: FiringView[] }>(`/api/schedules/${id}/firings?limit=1000`);
    if (r.status !== 200) throw new Error(`firings: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.firings.slice().sort((a, b) => a.fireTime - b.fireTime);
  };
  const create = async (body: Record<string, unknown>) => {
    const r = await admin.post<{ schedule: ScheduleView }>('/api/schedules', body);
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.schedule;
  };
  /** Waits (polling the server, which stays up) until the supervisor answers again. */
  const supervisorUp = () => waitFor(async () => (await admin.get('/api/schedules')).status === 200, { timeoutMs: 30_000, what: 'the supervisor to answer' });

  /** Stops the supervisor, waits for at least `times` firing times to pass, starts it; returns the window it was down. */
  async function downFor(signal: NodeJS.Signals, times: number): Promise<{ from: number; to: number }> {
    await jv.stopSupervisor(signal);
    const from = Date.now();
    await waitFor(() => Date.now() - from > times * 2000 + 500, { timeoutMs: times * 2000 + 5000, what: 'firing times to pass' });
    const to = Date.now();
    await jv.startSupervisor();
    await supervisorUp();
    return { from, to };
  }

  it('never fires a time twice, skips the times missed while down (skip), or runs the latest once (runOnce)', async () => {
    const skip = await create({ ...EVERY_2S, name: 'skipper', missed: 'skip' });
    const once = await create({ ...EVERY_2S, name: 'oncer', missed: 'runOnce' });
    await waitFor(async () => (await firings(skip.scheduleId)).length >= 1 && (await firings(once.scheduleId)).length >= 1, { timeoutMs: 15_000, what: 'first firings' });

    const down = await downFor('SIGTERM', 3);
    await waitFor(async () => (await firings(skip.scheduleId)).some((f) => f.fireTime > down.to) && (await firings(once.scheduleId)).some((f) => f.fireTime > down.to), { timeoutMs: 15_000, what: 'firings after the restart' });

    const missedSkip = (await firings(skip.scheduleId)).filter((f) => f.fireTime > down.from && f.fireTime < down.to);
    expect(missedSkip).toEqual([]);
    const view = (await admin.get<{ schedule: ScheduleView }>(`/api/schedules/${skip.scheduleId}`)).body.schedule;
    expect(view.skipped).toBeGreaterThanOrEqual(3);

    const missedOnce = (await firings(once.scheduleId)).filter((f) => f.kind === 'missed');
    expect(missedOnce).toHaveLength(1);
    const m = missedOnce[0]!;
    expect(m.fireTime).toBeGreaterThan(down.from);
    // The latest missed time: the next one after it came once the supervisor was back.
    expect(m.fireTime).toBeGreaterThan(down.to - 2000);
    expect(m.firedAt).toBeGreaterThan(down.to);
    expect(m.jobId).toMatch(/^[0-9a-f]{16}$/);
    // Of the times from the stop up to that one (the supervisor was down, or still starting), only that one ran.
    const between = (await firings(once.scheduleId)).filter((f) => f.fireTime > down.from && f.fireTime <= m.fireTime);
    expect(between.map((f) => f.fireTime)).toEqual([m.fireTime]);

    // A kill (no clean stop) right after a firing: the claimed times stay claimed.
    await waitFor(async () => (await firings(once.scheduleId)).length >= missedOnce.length + 3, { timeoutMs: 15_000, what: 'more firings' });
    const killed = await downFor('SIGKILL', 2);
    await waitFor(async () => (await firings(once.scheduleId)).some((f) => f.fireTime > killed.to), { timeoutMs: 15_000, what: 'firings after the kill' });
    expect((await firings(once.scheduleId)).filter((f) => f.kind === 'missed')).toHaveLength(2);

    for (const s of [skip, once]) {
      const all = await firings(s.scheduleId);
      const times = all.map((f) => f.fireTime);
      expect(new Set(times).size).toBe(times.length);
      // Every firing time is on the schedule's grid, and each made exactly one job.
      expect(times.every((t) => (t - s.nextFirings[0]!) % 2000 === 0)).toBe(true);
      const jobs = (await admin.get<{ jobs: JobView[] }>('/api/jobs')).body.jobs.filter((j) => j.scheduleId === s.scheduleId);
      expect(jobs.map((j) => j.jobKey).sort()).toEqual(all.filter((f) => f.jobId).map((f) => f.jobKey).sort());
      expect(jobs.every((j) => j.serial === 1)).toBe(true);
    }
  });

  it('records a firing whose template is gone (after a restart) on the schedule, and goes on firing', async () => {
    const s = await create({ template: 'quick', parameters: {}, intervalSeconds: 2, name: 'goner' });
    await waitFor(async () => (await firings(s.scheduleId)).some((f) => f.jobId), { timeoutMs: 15_000, what: 'a first firing' });
    await jv.stopSupervisor();
    rmSync(path.join(jv.templatesDir, 'quick'), { recursive: true, force: true });
    await jv.startSupervisor();
    await supervisorUp();
    await waitFor(async () => (await firings(s.scheduleId)).filter((f) => f.error).length >= 2, { timeoutMs: 15_000, what: 'two refused firings' });
    const view = (await admin.get<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}`)).body.schedule;
    expect(view.state).toBe('active');
    expect(view.lastError).toMatch(/^no template named "quick"/);
    expect(view.lastJobId).toBeNull();
  });
});
