/**
 * The schedule service: creates, lists, edits, pauses, resumes and deletes schedules, for their
 * owners (and admins). A schedule's run request is checked as a run request is (JobService
 * validate) when it is made and each time it is edited; its timing is checked here.
 */
import { randomBytes } from 'node:crypto';
import type { RunBody } from '../../shared/api.js';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ScheduleBody, SchedulePatch, ScheduleView } from '../../shared/scheduleApi.js';
import type { Caller } from '../../shared/types.js';
import type { JobService } from '../jobs.js';
import type { ScheduledRun, ScheduleRow, SqliteScheduleStore } from './store.js';
import { checkTimezone, keyTime, nextAfter, nextFirings, parseCron, shortestGapSeconds, type Timing } from './timing.js';

export interface ScheduleServiceDeps {
  store: SqliteScheduleStore;
  jobs: Pick<JobService, 'validate'>;
  log: Logger;
  maxPerUser: number;
  minIntervalSeconds: number;
  /** Told after every change (the scheduler looks again at what is due). */
  changed(): void;
  now?: () => number;
}

/** The job key of a firing: the schedule's name and the firing time (`nightly-20261201T090000Z`). */
export const firingJobKey = (name: string, fireTime: number) => `${name}-${keyTime(fireTime)}`;
/** Room a name leaves in a 64-character job key for `-20261201T090000Z`. */
const MAX_NAME = 64 - 1 - keyTime(0).length;

export function timingOf(s: ScheduleRow): Timing {
  return { cron: s.cron, timezone: s.timezone, intervalSeconds: s.intervalSeconds, anchor: s.anchor, startAt: s.startAt, endAt: s.endAt };
}

export function runBodyOf(s: Pick<ScheduleRow, 'template' | 'run'>, jobKey?: string): RunBody {
  return { template: s.template, ...s.run, parameters: s.run.parameters, ...(jobKey ? { jobKey } : {}) } as RunBody;
}

export class ScheduleService {
  private readonly now: () => number;

  constructor(private readonly deps: ScheduleServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  create(caller: Caller, body: ScheduleBody): ScheduleView {
    const { store, maxPerUser } = this.deps;
    const count = store.count(caller.username);
    if (count >= maxPerUser) throw new JobvisorError('SCHEDULE_LIMIT', `you have ${count} schedules, the most one user may (maxSchedulesPerUser = ${maxPerUser}); delete one first`, { limit: maxPerUser });
    const now = this.now();
    const id = randomBytes(8).toString('hex');
    const row: ScheduleRow = {
      id,
      user: caller.username,
      ownerRole: caller.role,
      name: body.name ?? `${body.template.slice(0, 30)}-${id.slice(0, 6)}`,
      template: body.template,
      run: runOf(body),
      cron: body.cron ?? null,
      timezone: body.timezone ?? 'UTC',
      intervalSeconds: body.intervalSeconds ?? null,
      anchor: 0,
      startAt: body.startAt ?? null,
      endAt: body.endAt ?? null,
      missed: body.missed ?? 'skip',
      paused: false,
      cursor: now,
      skipped: 0,
      lastFireTime: null,
      lastFiredAt: null,
      lastJobId: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    };
    row.anchor = anchorOf(row, now);
    this.check(caller, row);
    store.save(row);
    this.deps.log.info({ scheduleId: id, user: row.user, name: row.name, template: row.template }, 'schedule created');
    this.deps.changed();
    return this.view(row);
  }

  list(caller: Caller, all: boolean): ScheduleView[] {
    return this.deps.store.list(all && caller.role === 'admin' ? undefined : caller.username).map((s) => this.view(s));
  }

  get(caller: Caller, id: string): ScheduleView {
    return this.view(this.visible(caller, id));
  }

  /** Edits any field; the edited schedule is checked as a new one is. New timing: firings from now on. */
  edit(caller: Caller, id: string, patch: SchedulePatch): ScheduleView {
    const old = this.visible(caller, id);
    const now = this.now();
    const next: ScheduleRow = { ...old, updatedAt: now };
    if (patch.name !== undefined) next.name = patch.name;
    if (patch.template !== undefined) next.template = patch.template;
    const run: ScheduledRun = { ...old.run };
    if (patch.parameters !== undefined) run.parameters = patch.parameters;
    for (const k of ['target', 'size', 'options', 'callbackUrl'] as const) if (patch[k] !== undefined) (run as unknown as Record<string, unknown>)[k] = patch[k];
    next.run = run;
    if (patch.cron !== undefined && patch.intervalSeconds !== undefined) throw new JobvisorError('INVALID_SCHEDULE', 'give either cron or intervalSeconds, not both', { field: 'cron' });
    if (patch.cron !== undefined) [next.cron, next.intervalSeconds] = [patch.cron, null];
    if (patch.intervalSeconds !== undefined) [next.cron, next.intervalSeconds] = [null, patch.intervalSeconds];
    if (patch.timezone !== undefined) next.timezone = patch.timezone;
    if (patch.startAt !== undefined) next.startAt = patch.startAt;
    if (patch.endAt !== undefined) next.endAt = patch.endAt;
    if (patch.missed !== undefined) next.missed = patch.missed;
    const timed = ['cron', 'intervalSeconds', 'timezone', 'startAt', 'endAt'].some((k) => patch[k as keyof SchedulePatch] !== undefined);
    if (timed) {
      next.anchor = anchorOf(next, now);
      next.cursor = Math.max(old.cursor, now);
    }
    // The owner's own edit carries their role of today; an admin's edit keeps the owner's.
    if (caller.username === old.user) next.ownerRole = caller.role;
    this.check(caller, next);
    this.deps.store.save(next);
    this.deps.log.info({ scheduleId: id, by: caller.username, fields: Object.keys(patch) }, 'schedule edited');
    this.deps.changed();
    return this.view(next);
  }

  /** Paused: no firing. Resumed: firing times from now on (those while paused are not run). */
  setPaused(caller: Caller, id: string, paused: boolean): ScheduleView {
    const old = this.visible(caller, id);
    const now = this.now();
    const next = { ...old, paused, updatedAt: now, cursor: paused ? old.cursor : Math.max(old.cursor, now) };
    this.deps.store.save(next);
    this.deps.log.info({ scheduleId: id, by: caller.username, paused }, paused ? 'schedule paused' : 'schedule resumed');
    this.deps.changed();
    return this.view(next);
  }

  remove(caller: Caller, id: string): void {
    const s = this.visible(caller, id);
    this.deps.store.delete(s.id);
    this.deps.log.info({ scheduleId: id, by: caller.username }, 'schedule deleted');
    this.deps.changed();
  }

  firings(caller: Caller, id: string, limit: number) {
    return this.deps.store.firings(this.visible(caller, id).id, limit);
  }

  view(s: ScheduleRow): ScheduleView {
    const t = timingOf(s);
    const after = Math.max(s.cursor, this.now());
    const ended = nextAfter(t, after) === null;
    return {
      scheduleId: s.id,
      user: s.user,
      name: s.name,
      template: s.template,
      parameters: s.run.parameters,
      target: s.run.target ?? null,
      size: s.run.size ?? null,
      options: s.run.options ?? null,
      callbackUrl: s.run.callbackUrl ?? null,
      cron: s.cron,
      timezone: s.timezone,
      intervalSeconds: s.intervalSeconds,
      startAt: s.startAt,
      endAt: s.endAt,
      missed: s.missed,
      state: ended ? 'ended' : s.paused ? 'paused' : 'active',
      nextFirings: s.paused || ended ? [] : nextFirings(t, after, 5),
      lastFireTime: s.lastFireTime,
      lastFiredAt: s.lastFiredAt,
      lastJobId: s.lastJobId,
      lastError: s.lastError,
      skipped: s.skipped,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
  }

  /** The schedule if the caller may see it (its owner, or an admin); another's is as unknown as none. */
  private visible(caller: Caller, id: string): ScheduleRow {
    const s = this.deps.store.get(id);
    if (!s || (caller.role !== 'admin' && s.user !== caller.username)) throw new JobvisorError('SCHEDULE_NOT_FOUND', `no schedule ${id}`);
    return s;
  }

  /** The timing, the name and the run request of a schedule as made or edited; throws what is wrong. */
  private check(caller: Caller, s: ScheduleRow): void {
    if (s.name.length > MAX_NAME) throw new JobvisorError('INVALID_SCHEDULE', `a schedule's name has at most ${MAX_NAME} characters (it begins each firing's job key)`, { field: 'name' });
    const other = this.deps.store.byName(s.user, s.name);
    if (other && other.id !== s.id) throw new JobvisorError('SCHEDULE_EXISTS', `${s.user} already has a schedule named "${s.name}"`);
    checkTiming(s, this.deps.minIntervalSeconds, this.now());
    // Checked as the owner's run request (an admin editing another's schedule checks the owner's run).
    const owner: Caller = s.user === caller.username ? caller : { username: s.user, role: s.ownerRole as Caller['role'] };
    this.deps.jobs.validate(owner, runBodyOf(s));
  }
}

function runOf(b: ScheduleBody): ScheduledRun {
  const run: ScheduledRun = { parameters: b.parameters ?? {} };
  if (b.target !== undefined) run.target = b.target;
  if (b.size !== undefined) run.size = b.size;
  if (b.options !== undefined) run.options = b.options;
  if (b.callbackUrl !== undefined) run.callbackUrl = b.callbackUrl;
  return run;
}

/** Interval schedules fire at startAt, or one interval after the whole second they were (re)timed, then every interval. */
function anchorOf(s: Pick<ScheduleRow, 'intervalSeconds' | 'startAt'>, now: number): number {
  if (s.intervalSeconds === null) return 0;
  return s.startAt ?? Math.ceil(now / 1000) * 1000 + s.intervalSeconds * 1000;
}

function checkTiming(s: ScheduleRow, minIntervalSeconds: number, now: number): void {
  if ((s.cron === null) === (s.intervalSeconds === null)) throw new JobvisorError('INVALID_SCHEDULE', 'give either cron (with timezone) or intervalSeconds', { field: 'cron' });
  checkTimezone(s.timezone);
  if (s.cron !== null) parseCron(s.cron, s.timezone);
  if (s.startAt !== null && s.endAt !== null && s.endAt <= s.startAt) throw new JobvisorError('INVALID_SCHEDULE', 'endAt must be after startAt', { field: 'endAt' });
  const t = timingOf(s);
  const gap = shortestGapSeconds(t, Math.max(now, s.startAt ?? now));
  if (gap !== null && gap < minIntervalSeconds) {
    throw new JobvisorError('INVALID_SCHEDULE', `this schedule would fire every ${gap} s; the shortest time between firings here is ${minIntervalSeconds} s (minScheduleIntervalSeconds)`, { field: s.cron !== null ? 'cron' : 'intervalSeconds', limit: minIntervalSeconds });
  }
}
