/**
 * What the soak keeps of every run it submitted (by job id), the faults each run went through,
 * and the checks of its end: is its final status right for what happened to it, and does its
 * log (and the events it sent) hold each numbered line of the `sleep` template exactly once.
 */
import type { JobView } from '../../src/shared/api.js';

export const FAULT_KINDS = ['supervisor-kill', 'server-restart', 'link-cut', 'agent-kill', 'cmd-kill', 'scheduler-outage'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault that may end a run as error with a reason: the run's agent or its command was killed. */
export interface Exposure {
  kind: FaultKind;
  at: number;
  detail: string;
}

export interface Run {
  key: string;
  target: string;
  size: 'sequential' | 'parallel';
  seconds: number;
  lines: number;
  submittedAt: number;
  jobId?: string;
  serial?: number;
  /** Last status seen by polling. */
  status: string;
  view?: JobView;
  exposures: Exposure[];
  /** Submissions sent; `adopted`: a submit got no answer (or 502/503) and the run was found by its job key. */
  submits: number;
  adopted: boolean;
  /** The API answered 404 for this job. */
  unknown: boolean;
  logText?: string;
  verdict?: Verdict;
}

export interface LineCheck {
  missing: number;
  doubled: number;
  unexpected: number;
  outOfOrder: boolean;
  /** What is wrong, for the report (empty when nothing is). */
  detail: string;
}

export interface Verdict {
  lost: boolean;
  leftActive: boolean;
  why: string;
  log: LineCheck;
  events?: LineCheck;
}

export function expectedLines(n: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(`line ${i}`, `PROGRESS ${(i / n).toFixed(6)}`);
  return out;
}

/**
 * Compares the lines a run wrote (log or events) with what the template prints. `complete`: the
 * run completed, so every line is due; otherwise (killed) a prefix is due, up to the last line seen.
 */
export function checkLines(seen: string[], n: number, complete: boolean): LineCheck {
  const expected = expectedLines(n);
  const index = new Map(expected.map((l, i) => [l, i]));
  const counts = new Map<string, number>();
  let unexpected = 0;
  let last = -1;
  let outOfOrder = false;
  const firstUnexpected: string[] = [];
  for (const l of seen) {
    const i = index.get(l);
    if (i === undefined) {
      unexpected++;
      if (firstUnexpected.length < 3) firstUnexpected.push(JSON.stringify(l.slice(0, 120)));
      continue;
    }
    counts.set(l, (counts.get(l) ?? 0) + 1);
    if (i < last) outOfOrder = true;
    last = Math.max(last, i);
  }
  const due = complete ? expected.length : last + 1;
  const missingLines = expected.slice(0, due).filter((l) => !counts.has(l));
  const doubledLines = [...counts.entries()].filter(([, c]) => c > 1);
  const doubled = doubledLines.reduce((s, [, c]) => s + c - 1, 0);
  const parts: string[] = [];
  if (missingLines.length > 0) parts.push(`missing ${missingLines.length} (${missingLines.slice(0, 6).join(', ')}${missingLines.length > 6 ? ', ...' : ''})`);
  if (doubled > 0) parts.push(`doubled ${doubled} (${doubledLines.slice(0, 6).map(([l, c]) => `${l} x${c}`).join(', ')})`);
  if (outOfOrder) parts.push('out of order');
  if (unexpected > 0) parts.push(`${unexpected} unexpected (${firstUnexpected.join(', ')})`);
  return { missing: missingLines.length, doubled, unexpected, outOfOrder, detail: parts.join('; ') };
}

export function logLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const SIGNAL = /SIGKILL|signal 9\b/i;

/** Whether the run's end is right for the faults it went through. */
export function judge(run: Run): Verdict {
  const v = run.view;
  const status = v?.status ?? run.status;
  const log = checkLines(logLines(run.logText ?? ''), run.lines, status === 'completed');
  const lost = (why: string): Verdict => ({ lost: true, leftActive: false, why, log });
  if (!run.jobId) return lost('never submitted: ' + run.status);
  if (run.unknown) return lost('the API no longer knows the job (404)');
  if (!v) return lost(`no view of the job (last status ${run.status})`);
  if (v.serial !== run.serial || v.history.length > 0) return lost(`the job has run ${v.serial} (history ${v.history.map((h) => `${h.serial}:${h.status}`).join(',')}): a duplicate run`);
  if (status === 'pending' || status === 'running') return { lost: false, leftActive: true, why: `still ${status} after the drain (${v.waitingFor ?? v.progressMessage ?? ''})`, log };
  const kinds = new Set(run.exposures.map((e) => e.kind));
  switch (status) {
    case 'completed':
      return { lost: false, leftActive: false, why: 'completed', log };
    case 'error':
      if (!v.reason) return lost('error without a reason');
      if (kinds.has('cmd-kill') && SIGNAL.test(v.reason)) return { lost: false, leftActive: false, why: `error after cmd-kill: ${v.reason}`, log };
      if (kinds.has('agent-kill')) return { lost: false, leftActive: false, why: `error after agent-kill: ${v.reason}`, log };
      if (kinds.has('cmd-kill')) return lost(`error after cmd-kill, but the reason does not name the signal: ${v.reason}`);
      return lost(`error without a fault that explains it: ${v.reason}`);
    case 'canceled':
      // Grid Engine records a SIGKILL and a qdel alike; the soak never cancels, so after a cmd-kill this is the kill.
      if (kinds.has('cmd-kill') && SIGNAL.test(v.reason ?? '')) return { lost: false, leftActive: false, why: `canceled after cmd-kill: ${v.reason}`, log };
      return lost(`canceled: ${v.reason ?? 'no reason'}`);
    default:
      return lost(`${status}: ${v.reason ?? 'no reason'}`);
  }
}
