/**
 * When a schedule fires: a cron expression (croner syntax, seconds allowed) in an IANA time
 * zone, or a fixed interval from an anchor, both within [startAt, endAt]. Pure functions of
 * the timing and a time, so the scheduler and the tests ask the same questions.
 */
import { Cron } from 'croner';
import { JobvisorError } from '../../shared/errors.js';

export interface Timing {
  cron: string | null;
  timezone: string;
  intervalSeconds: number | null;
  /** Interval schedules fire at anchor + k·interval (k ≥ 0). */
  anchor: number;
  startAt: number | null;
  endAt: number | null;
}

/** A cron expression read by croner, or INVALID_SCHEDULE saying why not. */
export function parseCron(expr: string, timezone: string): Cron {
  checkTimezone(timezone);
  try {
    return new Cron(expr, { timezone, paused: true });
  } catch (err) {
    throw new JobvisorError('INVALID_SCHEDULE', `invalid cron expression "${expr}": ${(err as Error).message}`, { field: 'cron' });
  }
}

export function checkTimezone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw new JobvisorError('INVALID_SCHEDULE', `unknown time zone "${timezone}" (an IANA name such as Europe/Berlin)`, { field: 'timezone' });
  }
}

const crons = new Map<string, Cron>();
function cronOf(t: Timing): Cron {
  const key = `${t.timezone}\n${t.cron ?? ''}`;
  let c = crons.get(key);
  if (!c) {
    if (crons.size > 1000) crons.clear();
    crons.set(key, (c = parseCron(t.cron ?? '', t.timezone)));
  }
  return c;
}

const inWindow = (t: Timing, time: number | null): number | null => (time === null || (t.endAt !== null && time > t.endAt) ? null : time);

/** The first firing time strictly after `after`, or null when there is none (past endAt). */
export function nextAfter(t: Timing, after: number): number | null {
  const from = t.startAt !== null ? Math.max(after, t.startAt - 1) : after;
  if (t.cron !== null) return inWindow(t, cronOf(t).nextRun(new Date(from))?.getTime() ?? null);
  const step = (t.intervalSeconds ?? 1) * 1000;
  const k = from < t.anchor ? 0 : Math.floor((from - t.anchor) / step) + 1;
  return inWindow(t, t.anchor + k * step);
}

/** The next `n` firing times after `after`. */
export function nextFirings(t: Timing, after: number, n: number): number[] {
  const out: number[] = [];
  for (let at = after; out.length < n; ) {
    const next = nextAfter(t, at);
    if (next === null) break;
    out.push(next);
    at = next;
  }
  return out;
}

/** The latest firing time in (after, until], or null when none is due. */
export function latestDue(t: Timing, after: number, until: number): number | null {
  const first = nextAfter(t, after);
  if (first === null || first > until) return null;
  let latest: number;
  if (t.cron !== null) {
    latest = cronOf(t).previousRuns(1, new Date(Math.min(until, t.endAt ?? until) + 1))[0]?.getTime() ?? first;
  } else {
    const step = (t.intervalSeconds ?? 1) * 1000;
    latest = t.anchor + Math.floor((Math.min(until, t.endAt ?? until) - t.anchor) / step) * step;
  }
  return Math.max(first, latest);
}

/** The shortest gap between the next few firings (seconds), to hold cron schedules to the site's shortest interval. */
export function shortestGapSeconds(t: Timing, after: number): number | null {
  if (t.intervalSeconds !== null) return t.intervalSeconds;
  const times = nextFirings(t, after, 12);
  let gap: number | null = null;
  for (let i = 1; i < times.length; i++) gap = Math.min(gap ?? Infinity, (times[i]! - times[i - 1]!) / 1000);
  return gap;
}

/** `20261201T155002Z`: a firing time as it appears in its job key. */
export function keyTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}
