/**
 * A run's phases as the job page shows them: the phase next to the status ("running · finishing")
 * while a step other than the command runs, and how long each phase took, for runs with steps.
 */
import { formatDuration } from './format.js';
import type { JobView } from './types.js';

const ORDER = ['preparing', 'running', 'finishing'] as const;

/** The phase to show next to the status badge: empty while there is none, or the run's command runs (the badge says so). */
export function phaseLabel(job: Pick<JobView, 'phase'>): string {
  return job.phase && job.phase !== 'running' ? job.phase : '';
}

/** "preparing 2 s · running 1 min 05 s · finishing 1 s"; empty for a run that had no steps. */
export function phaseDurations(job: Pick<JobView, 'phaseTimes' | 'endedAt'>, now = Date.now()): string {
  const started = ORDER.filter((p) => job.phaseTimes?.[p] !== undefined);
  if (started.length < 2 && !started.some((p) => p !== 'running')) return '';
  return started
    .map((p, i) => {
      const from = job.phaseTimes[p] as number;
      const next = started[i + 1];
      const to = next ? (job.phaseTimes[next] as number) : (job.endedAt ?? now);
      return `${p} ${formatDuration(to - from)}`;
    })
    .join(' · ');
}
