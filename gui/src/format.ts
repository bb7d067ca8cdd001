/** How values look on the page: times, durations, sizes, statuses, what a run waits for. */
import { h } from './dom.js';
import { formatDuration } from './numbers.js';
import { isActive, type JobView, type SchedulerView, type Size, type Status } from './types.js';

const STATUS_TEXT: Record<Status, string> = {
  pending: 'pending',
  running: 'running',
  completed: 'completed',
  error: 'error',
  canceled: 'canceled',
  missing: 'missing',
  purged: 'purged',
};

/** A status badge; its class gives the colour, its text the status (colour is never the only cue). */
export function statusBadge(status: Status): HTMLSpanElement {
  return h('span', { class: `badge badge-${status}`, 'data-status': status }, STATUS_TEXT[status] ?? status);
}

export function updateBadge(el: HTMLElement, status: Status): void {
  if (el.dataset.status === status) return;
  el.className = `badge badge-${status}`;
  el.dataset.status = status;
  el.textContent = STATUS_TEXT[status] ?? status;
}

/** Durations: "1 s", "1.4 s" under 10 s, "2 min 5 s" (numbers.ts); a clock that ticks counts whole seconds. */
export { formatDuration } from './numbers.js';

/** "just now", "12 s ago", "5 min ago", then the date. */
export function formatAgo(at: number, now = Date.now()): string {
  const d = now - at;
  if (d < 2000) return 'just now';
  if (d < 60_000) return `${Math.floor(d / 1000)} s ago`;
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.floor(d / 3_600_000)} h ago`;
  return formatTime(at);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** The time of day when it is today, else date and time. */
export function formatTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '—';
  const d = new Date(at);
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function formatDateTime(at: number | null | undefined): string {
  return at === null || at === undefined ? '—' : dateTimeFmt.format(new Date(at));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function formatPercent(p: number | null): string {
  return p === null ? '' : `${Math.round(p * 100)} %`;
}

export function sizeText(s: Size): string {
  return s;
}

export const SIZE_HINT: Record<Size, string> = {
  sequential: 'short, interactive runs; they take turns on few CPU slots',
  parallel: 'long or multi-core runs',
};

/** "Grid Engine job 12: qw", with the scheduler's reason and estimated start when it gives them. */
export function schedulerText(externalId: string | null, s: SchedulerView): string {
  const parts = [`${s.name} job ${externalId ?? '?'}: ${s.state}`];
  if (s.reason) parts.push(` (${s.reason})`);
  if (s.estimatedStart) parts.push(` · estimated start ${s.estimatedStart}`);
  if (s.unconfirmed) parts.push(` · unconfirmed: ${s.name} could not be asked lately; this is the last state seen`);
  return parts.join('');
}

/**
 * What a run waits for or does now, in a few words: "waiting for a CPU slot (#2)", what its
 * scheduler says of it, the last progress message, or the first line of why it ended.
 */
export function jobActivity(job: JobView): string {
  if (job.waitingFor) return job.queuePosition ? `${job.waitingFor} (#${job.queuePosition})` : job.waitingFor;
  if (job.status === 'running') return job.progressMessage ?? 'running';
  if (job.status === 'pending') return 'queued';
  if (job.reason) return firstLine(job.reason);
  if (job.status === 'completed') return 'finished';
  return '';
}

export function firstLine(text: string, max = 160): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Whether a job waits for its user to log in to its target (again). */
export function needsTargetLogin(job: JobView): boolean {
  return isActive(job.status) && (job.waitingFor ?? '').toLowerCase().startsWith('login required');
}

/**
 * An element whose text the page ticker keeps current: the time since `from` (until `to`, if
 * the run has ended), or how long ago `at` was.
 */
export function elapsedCell(from: number | null, to: number | null): HTMLSpanElement {
  const el = h('span', { class: 'elapsed' });
  setElapsed(el, from, to);
  return el;
}

export function setElapsed(el: HTMLElement, from: number | null, to: number | null): void {
  if (from === null) {
    delete el.dataset.elapsedFrom;
    el.textContent = '—';
    return;
  }
  el.dataset.elapsedFrom = String(from);
  if (to === null) delete el.dataset.elapsedTo;
  else el.dataset.elapsedTo = String(to);
  el.textContent = formatDuration((to ?? Date.now()) - from, to === null);
}

export function agoCell(at: number): HTMLTimeElement {
  const el = h('time', { class: 'ago' });
  setAgo(el, at);
  return el;
}

export function setAgo(el: HTMLElement, at: number): void {
  el.dataset.ago = String(at);
  el.setAttribute('datetime', new Date(at).toISOString());
  el.title = formatDateTime(at);
  el.textContent = formatAgo(at);
}

/** Updates every elapsed-time and "ago" element on the page; runs once a second. */
export function tick(root: ParentNode = document): void {
  const now = Date.now();
  for (const el of root.querySelectorAll<HTMLElement>('[data-elapsed-from]')) {
    const from = Number(el.dataset.elapsedFrom);
    const to = el.dataset.elapsedTo === undefined ? now : Number(el.dataset.elapsedTo);
    const text = formatDuration(to - from, el.dataset.elapsedTo === undefined);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of root.querySelectorAll<HTMLElement>('[data-ago]')) {
    const text = formatAgo(Number(el.dataset.ago), now);
    if (el.textContent !== text) el.textContent = text;
  }
}
