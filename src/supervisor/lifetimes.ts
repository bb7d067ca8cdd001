/**
 * The lifetimes view: per template, target and state, how long runs that ended in a period
 * spent there (count, median, 90th percentile, longest). pending = queued → started; running =
 * started → finishing (when the run had a finishing phase) or its end; finishing = → its end.
 */
import type { LifetimeRow } from '../shared/api.js';
import type { EndedRunTimes } from './store.js';

/** The value at quantile q (0..1) of sorted values, by the nearest-rank method. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** The median: the middle value, or the mean of the two middle ones. */
export function median(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

export function lifetimes(runs: EndedRunTimes[]): LifetimeRow[] {
  const groups = new Map<string, { template: string; target: string; state: LifetimeRow['state']; values: number[] }>();
  const add = (r: EndedRunTimes, state: LifetimeRow['state'], ms: number) => {
    const key = `${r.template}\0${r.target}\0${state}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { template: r.template, target: r.target, state, values: [] }));
    g.values.push(Math.max(0, ms));
  };
  for (const r of runs) {
    if (r.startedAt === null) continue; // never started (canceled while queued, failed to start): no state it left
    add(r, 'pending', r.startedAt - r.queuedAt);
    const finishingAt = r.finishingAt ?? null;
    add(r, 'running', (finishingAt ?? r.endedAt) - r.startedAt);
    if (finishingAt !== null) add(r, 'finishing', r.endedAt - finishingAt);
  }
  const order = { pending: 0, running: 1, finishing: 2 };
  return [...groups.values()]
    .map((g) => {
      const v = g.values.sort((a, b) => a - b);
      return { template: g.template, target: g.target, state: g.state, count: v.length, medianMs: median(v), p90Ms: quantile(v, 0.9), maxMs: v[v.length - 1]! };
    })
    .sort((a, b) => a.template.localeCompare(b.template) || a.target.localeCompare(b.target) || order[a.state] - order[b.state]);
}
