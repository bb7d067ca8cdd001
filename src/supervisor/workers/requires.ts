/**
 * A run's `requires` against the places of its target. The rule:
 *   - a requirement no configured part of the target could ever meet is a mistake: refused at
 *     request time (REQUIREMENTS_UNMET, nothing stored) with the reason — the fixed labels of a
 *     local, ssh or cluster target (`labels` in its config), or no engine of a docker target;
 *   - one that could be met later waits, saying why in `waitingFor`: a workers target (its
 *     workers come and go: src/supervisor/workers/pool.ts), a docker target's fitting engine
 *     with no free slot, and a run already queued whose target's configuration changed under it
 *     (a restart with other labels): it waits for the configuration to fit again.
 */
import type { Config } from '../../shared/config.js';
import { JobvisorError } from '../../shared/errors.js';
import { Labels, mergeRequires, unmet, type Requires } from '../../shared/labels.js';
import type { Template } from '../../shared/template.js';
import type { Driver } from '../../drivers/driver.js';
import type { SqliteWorkerStore } from '../store/workers.js';
import type { WorkerPool } from './pool.js';

/** A target's fixed labels, from its config (`labels: {k: v}`); none when it has none. */
export function targetLabels(config: Pick<Config, 'targets'>, target: string): Labels {
  const t = config.targets.find((x) => x.name === target) as { labels?: unknown } | undefined;
  const r = Labels.safeParse(t?.labels ?? {});
  return r.success ? r.data : {};
}

const shown = (labels: Labels) => Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';

/** Where on its target a run may go: anywhere (`pools` undefined), in some pools only, or nowhere now (`why`). */
export type Fit = { pools?: string[]; noun?: string } | { why: string };

/** Whether the target's configuration fits a run's requirements (not for workers targets, which place each run themselves). */
export function fitOf(config: Pick<Config, 'targets'>, target: string, driver: Driver | undefined, all: Requires): Fit {
  if (Object.keys(all).length === 0) return {};
  const byPool = driver?.poolLabels?.();
  if (byPool) {
    const misses = [...byPool.pools].map(([name, labels]) => ({ name, labels, miss: unmet(all, labels) }));
    const fitting = misses.filter((m) => m.miss.length === 0).map((m) => m.name);
    if (fitting.length > 0) return { pools: fitting, noun: byPool.noun };
    const closest = misses.reduce((a, b) => (b.miss.length < a.miss.length ? b : a));
    return { why: `no ${byPool.noun} of target ${target} has ${closest.miss.join(', ')} (${misses.map((m) => `${m.name}: ${shown(m.labels)}`).join('; ')})` };
  }
  const labels = targetLabels(config, target);
  const missing = unmet(all, labels);
  return missing.length > 0 ? { why: `target ${target} does not have ${missing.join(', ')} (its labels: ${shown(labels)})` } : {};
}

export function requiresCheck(config: Pick<Config, 'targets'>, pool: WorkerPool, store: SqliteWorkerStore, drivers: ReadonlyMap<string, Driver>) {
  return {
    check(target: string, template: Template, requires: Requires | undefined): void {
      if (pool.handles({ target })) return;
      const fit = fitOf(config, target, drivers.get(target), mergeRequires(template.requires, requires));
      if ('why' in fit) throw new JobvisorError('REQUIREMENTS_UNMET', fit.why);
    },
    save(jobId: string, serial: number, requires: Requires | undefined): void {
      if (requires && Object.keys(requires).length > 0) store.saveRequires(jobId, serial, requires);
    },
    /** Where a queued run may go now (its requirements against the target's configuration of today). */
    fit(target: string, template: Template, jobId: string, serial: number): Fit {
      if (pool.handles({ target })) return {};
      return fitOf(config, target, drivers.get(target), mergeRequires(template.requires, store.requires(jobId, serial)));
    },
  };
}
