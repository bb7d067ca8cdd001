/** What the job view says of a run's end cause and of a stale run. */
import { h } from './dom.js';
import { formatDuration } from './format.js';
import type { JobView } from './types.js';

const STATE_WORDS = { pending: 'pending', running: 'running', finishing: 'finishing' } as const;

/** A line under a failed run's reason: whose fault it was. */
export function causeNote(job: JobView): HTMLElement | null {
  if (job.status !== 'error' || !job.cause) return null;
  const text =
    job.cause === 'system'
      ? 'This is a system failure, not caused by your parameters or input (the site’s administrators are told of these). Running it again may work.'
      : 'The job’s own command failed: check its parameters, input and log.';
  return h('p', { class: 'hint', 'data-testid': 'job-cause', 'data-cause': job.cause }, text);
}

/** A callout for a run over the time its template expects in its state. */
export function staleCallout(job: JobView, now = Date.now()): HTMLElement | null {
  const s = job.stale;
  if (!s) return null;
  return h(
    'div',
    { class: 'callout callout-warn', role: 'status', 'data-testid': 'job-stale' },
    h('p', null, h('strong', null, 'Taking longer than expected: '), `${STATE_WORDS[s.state]} for ${formatDuration(now - s.sinceMs)}, where this template expects at most ${formatDuration(s.expectedSeconds * 1000)}.`),
  );
}
