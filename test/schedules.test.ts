/**
 * Schedules against a real jobvisor (server + supervisor processes, local target): an interval
 * schedule firing every 2 s, a cron expression with seconds in a non-UTC time zone, pause,
 * resume, edit and delete, a firing that cannot run (quota), bad inputs, and others' schedules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import type { FiringView, ScheduleView } from '../src/shared/scheduleApi.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const QUICK = { template: 'sleep', parameters: { seconds: 0, lines: 1 } };
/** A cron time far away: the schedule exists but does not fire during the test. */
const NEVER_SOON = { cron: '0 0 0 1 1 *', timezone: 'UTC' };

async function create(c: Client, body: Record<string, unknown>): Promise<ScheduleView> {
  const r = await c.post<{ schedule: ScheduleView }>('/api/schedules', body);
  if (r.status !== 201) throw new Error(`create schedule: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.schedule;
}

async function firings(c: Client, id: string): Promise<FiringView[]> {
  const r = await c.get<{ firings: FiringView[] }>(`/api/schedules/${id}/firings?limit=1000`);
  if (r.status !== 200) throw new Error(`firings: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.firings.slice().sort((a, b) => a.fireTime - b.fireTime);
}

async function scheduledJobs(c: Client, id: string): Promise<JobView[]> {
  const r = await c.get<{ jobs: JobView[] }>('/api/jobs');
  return r.body.jobs.filter((j) => j.scheduleId === id);
}

describe('schedules', () => {
  let jv: Jobvisor;
  let admin: Client;
  let alice: Client;
  let bob: Client;
  let carol: Client;

  beforeAll(async () => {
    jv = await startJobvisor({
      env: {
        JOBVISOR_MIN_SCHEDULE_INTERVAL_SECONDS: '1',
        JOBVISOR_MAX_SCHEDULES_PER_USER: '3',
        JOBVISOR_SLOTS_SEQUENTIAL: '4',
        JOBVISOR_QUOTAS: JSON.stringify({ user: { activeRuns: 1 } }),
      },
    });
    admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    bob = await jv.addUser(admin, 'bob');
    carol = await jv.addUser(admin, 'carol');
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('fires an interval schedule every 2 s, each firing an ordinary run with its own job key, in the jobs list with its schedule', async () => {
    const s = await create(admin, { ...QUICK, name: 'every2', intervalSeconds: 2 });
    expect(s).toMatchObject({ name: 'every2', state: 'active', intervalSeconds: 2, cron: null, timezone: 'UTC', missed: 'skip', lastFireTime: null });
    expect(s.nextFirings).toHaveLength(5);
    expect(s.nextFirings.slice(1).map((t, i) => t - s.nextFirings[i]!)).toEqual([2000, 2000, 2000, 2000]);
    await waitFor(async () => (await firings(admin, s.scheduleId)).filter((f) => f.jobId).length >= 3, { timeoutMs: 20_000, what: 'three firings' });
    const done = (await firings(admin, s.scheduleId)).slice(0, 3);
    expect(done.map((f) => f.fireTime)).toEqual([s.nextFirings[0], s.nextFirings[1], s.nextFirings[2]]);
    for (const f of done) {
      expect(f).toMatchObject({ error: null, kind: 'onTime' });
      expect(f.jobKey).toMatch(/^every2-\d{8}T\d{6}Z$/);
      expect(f.firedAt - f.fireTime).toBeLessThan(2000); // on time: well before the next one
    }
    const jobs = await scheduledJobs(admin, s.scheduleId);
    expect(new Set(jobs.map((j) => j.jobKey)).size).toBe(jobs.length);
    expect(jobs.every((j) => j.scheduleName === 'every2' && j.template === 'sleep')).toBe(true);
    await admin.waitJob(done[0]!.jobId!, (j) => j.status === 'completed');
    const again = (await admin.get<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}`)).body.schedule;
    expect(again.lastFiredAt).not.toBeNull();
    expect(again.lastError).toBeNull();
    expect((await admin.request('DELETE', `/api/schedules/${s.scheduleId}`)).status).toBe(204);
  });

  it('fires a cron expression with seconds in the schedule\'s time zone (Asia/Kolkata, UTC+5:30)', async () => {
    // Only in the current hour of Kolkata (and the next, near its end): a schedule read in UTC would not fire.
    const now = new Date();
    const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Kolkata', hour: '2-digit', hourCycle: 'h23' }).format(now));
    const hours = now.getUTCMinutes() % 60 >= 29 && now.getUTCMinutes() < 31 ? `${hour},${(hour + 1) % 24}` : String(hour);
    const s = await create(admin, { ...QUICK, name: 'kolkata', cron: `*/3 * ${hours} * * *`, timezone: 'Asia/Kolkata' });
    expect(s.timezone).toBe('Asia/Kolkata');
    expect(s.nextFirings.every((t) => new Date(t).getUTCSeconds() % 3 === 0)).toBe(true);
    await waitFor(async () => (await firings(admin, s.scheduleId)).filter((f) => f.jobId).length >= 2, { timeoutMs: 20_000, what: 'two cron firings' });
    const [a, b] = await firings(admin, s.scheduleId);
    expect(b!.fireTime - a!.fireTime).toBe(3000);
    await admin.request('DELETE', `/api/schedules/${s.scheduleId}`);

    // 9:30 in New York is 14:30 UTC in December (EST), 13:30 in July (EDT).
    const ny = await create(admin, { ...QUICK, name: 'ny', cron: '0 30 9 * * *', timezone: 'America/New_York', startAt: '2027-07-01T00:00:00Z', endAt: '2027-07-03T00:00:00Z' });
    expect(ny.nextFirings.map((t) => new Date(t).toISOString())).toEqual(['2027-07-01T13:30:00.000Z', '2027-07-02T13:30:00.000Z']);
    await admin.request('DELETE', `/api/schedules/${ny.scheduleId}`);
  });

  it('pauses, resumes, edits and deletes a schedule', async () => {
    const s = await create(admin, { ...QUICK, name: 'editme', intervalSeconds: 1 });
    await waitFor(async () => (await firings(admin, s.scheduleId)).length >= 1, { what: 'a first firing' });
    const paused = await admin.post<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.schedule).toMatchObject({ state: 'paused', nextFirings: [] });
    const whilePaused = (await firings(admin, s.scheduleId)).length;
    const pausedAt = Date.now();
    await waitFor(() => Date.now() - pausedAt > 2500, { timeoutMs: 5000 });
    expect((await firings(admin, s.scheduleId)).length).toBe(whilePaused);

    const resumed = await admin.post<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}/resume`);
    expect(resumed.body.schedule.state).toBe('active');
    await waitFor(async () => (await firings(admin, s.scheduleId)).length > whilePaused, { what: 'a firing after resume' });
    // No firing for the times while it was paused.
    expect((await firings(admin, s.scheduleId)).filter((f) => f.fireTime > pausedAt && f.fireTime < resumed.body.schedule.updatedAt)).toEqual([]);

    const edited = await admin.request<{ schedule: ScheduleView }>('PATCH', `/api/schedules/${s.scheduleId}`, { intervalSeconds: 3, parameters: { seconds: 0, lines: 2 }, name: 'edited' });
    expect(edited.status).toBe(200);
    expect(edited.body.schedule).toMatchObject({ name: 'edited', intervalSeconds: 3, parameters: { seconds: 0, lines: 2 } });
    const next = edited.body.schedule.nextFirings;
    expect(next.slice(1).map((t, i) => t - next[i]!)).toEqual([3000, 3000, 3000, 3000]);
    await waitFor(async () => (await firings(admin, s.scheduleId)).some((f) => f.jobKey.startsWith('edited-') && f.jobId), { what: 'a firing of the edited schedule' });
    const job = await admin.job((await firings(admin, s.scheduleId)).find((f) => f.jobKey.startsWith('edited-'))!.jobId!);
    expect(job.parameters).toMatchObject({ lines: 2 });

    // A bad edit changes nothing.
    const bad = await admin.request<{ error: { code: string } }>('PATCH', `/api/schedules/${s.scheduleId}`, { cron: 'not a cron' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_SCHEDULE']);
    expect((await admin.get<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}`)).body.schedule).toMatchObject({ name: 'edited', intervalSeconds: 3, cron: null });

    expect((await admin.request('DELETE', `/api/schedules/${s.scheduleId}`)).status).toBe(204);
    expect((await admin.get<{ error: { code: string } }>(`/api/schedules/${s.scheduleId}`)).body.error.code).toBe('SCHEDULE_NOT_FOUND');
    const jobsAfter = (await scheduledJobs(admin, s.scheduleId)).length;
    const deletedAt = Date.now();
    await waitFor(() => Date.now() - deletedAt > 3500, { timeoutMs: 6000 });
    expect((await scheduledJobs(admin, s.scheduleId)).length).toBe(jobsAfter);
  });

  it('records a firing that cannot run (over the quota) on the schedule, and goes on firing', async () => {
    const s = await create(carol, { template: 'sleep', parameters: { seconds: 60, lines: 0 }, name: 'busy', intervalSeconds: 1 });
    await waitFor(async () => (await firings(carol, s.scheduleId)).filter((f) => f.error).length >= 2, { timeoutMs: 15_000, what: 'two refused firings' });
    const all = await firings(carol, s.scheduleId);
    expect(all[0]).toMatchObject({ error: null });
    expect(all[0]!.jobId).toMatch(/^[0-9a-f]{16}$/);
    const refused = all.filter((f) => f.error);
    expect(refused[0]!.error).toMatch(/runs queued or running/);
    const view = (await carol.get<{ schedule: ScheduleView }>(`/api/schedules/${s.scheduleId}`)).body.schedule;
    expect(view.state).toBe('active');
    expect(view.lastError).toMatch(/quotas\.user\.activeRuns = 1/);
    expect(view.lastFiredAt).not.toBeNull();
    await carol.request('DELETE', `/api/schedules/${s.scheduleId}`);
    await carol.post(`/api/jobs/${all[0]!.jobId}/cancel`, {});
  });

  it('refuses bad schedules with stable codes, and changes nothing', async () => {
    const refuse = async (body: Record<string, unknown>, status: number, code: string) => {
      const r = await alice.post<{ error: { code: string; message: string } }>('/api/schedules', body);
      expect([r.status, r.body.error?.code], JSON.stringify({ body, answer: r.body })).toEqual([status, code]);
      return r.body.error.message;
    };
    expect(await refuse({ ...QUICK, cron: '61 * * * *' }, 400, 'INVALID_SCHEDULE')).toMatch(/invalid cron expression/);
    expect(await refuse({ ...QUICK, cron: '*/5 * * * * *', timezone: 'Mars/Olympus' }, 400, 'INVALID_SCHEDULE')).toMatch(/unknown time zone "Mars\/Olympus"/);
    await refuse({ ...QUICK, cron: '* * * * *', intervalSeconds: 60 }, 400, 'INVALID_SCHEDULE');
    await refuse({ ...QUICK }, 400, 'INVALID_SCHEDULE');
    await refuse({ ...QUICK, intervalSeconds: 60, startAt: '2027-01-02T00:00:00Z', endAt: '2027-01-01T00:00:00Z' }, 400, 'INVALID_SCHEDULE');
    await refuse({ ...QUICK, intervalSeconds: 0 }, 400, 'INVALID_INPUT');
    await refuse({ ...QUICK, intervalSeconds: 60, startAt: 'tomorrow' }, 400, 'INVALID_INPUT');
    await refuse({ ...QUICK, intervalSeconds: 60, inputs: { text: 'x' } }, 400, 'INVALID_INPUT');
    await refuse({ template: 'no-such-template', intervalSeconds: 60 }, 400, 'UNKNOWN_TEMPLATE');
    await refuse({ template: 'sleep', parameters: { seconds: -5 }, intervalSeconds: 60 }, 400, 'INVALID_INPUT');
    await refuse({ ...QUICK, target: 'nowhere', intervalSeconds: 60 }, 400, 'UNKNOWN_TARGET');
    expect((await alice.get<{ schedules: ScheduleView[] }>('/api/schedules')).body.schedules).toEqual([]);

    await create(alice, { ...QUICK, ...NEVER_SOON, name: 'dup' });
    await refuse({ ...QUICK, ...NEVER_SOON, name: 'dup' }, 409, 'SCHEDULE_EXISTS');
    await create(alice, { ...QUICK, ...NEVER_SOON });
    await create(alice, { ...QUICK, ...NEVER_SOON });
    expect(await refuse({ ...QUICK, ...NEVER_SOON }, 429, 'SCHEDULE_LIMIT')).toMatch(/maxSchedulesPerUser = 3/);
    expect((await alice.get<{ schedules: ScheduleView[] }>('/api/schedules')).body.schedules).toHaveLength(3);
  });

  it('lets only a schedule\'s owner and admins see or change it', async () => {
    const mine = await create(bob, { ...QUICK, ...NEVER_SOON, name: 'bobs' });
    const id = mine.scheduleId;
    for (const [method, path, body] of [
      ['GET', `/api/schedules/${id}`, undefined],
      ['GET', `/api/schedules/${id}/firings`, undefined],
      ['PATCH', `/api/schedules/${id}`, { intervalSeconds: 60 }],
      ['POST', `/api/schedules/${id}/pause`, {}],
      ['POST', `/api/schedules/${id}/resume`, {}],
      ['DELETE', `/api/schedules/${id}`, undefined],
    ] as const) {
      const r = await carol.request<{ error: { code: string } }>(method, path, body);
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 404, 'SCHEDULE_NOT_FOUND']);
    }
    expect((await carol.get<{ schedules: ScheduleView[] }>('/api/schedules')).body.schedules.map((s) => s.name)).not.toContain('bobs');
    expect((await carol.get('/api/schedules?all=1')).status).toBe(403);
    const all = (await admin.get<{ schedules: ScheduleView[] }>('/api/schedules?all=1')).body.schedules;
    expect(all.find((s) => s.scheduleId === id)?.user).toBe('bob');
    const byAdmin = await admin.post<{ schedule: ScheduleView }>(`/api/schedules/${id}/pause`);
    expect([byAdmin.status, byAdmin.body.schedule.state, byAdmin.body.schedule.user]).toEqual([200, 'paused', 'bob']);
    expect((await bob.get<{ schedule: ScheduleView }>(`/api/schedules/${id}`)).body.schedule.state).toBe('paused');
  });
});
