/**
 * A run request's `requires`, at request time: kept for the run's placement on enrolled
 * workers; refused at once on a target with fixed labels (`labels` in its config: this machine,
 * a Docker host, a cluster) that does not meet them, since it never will.
 */
import type { Config } from '../../shared/config.js';
import { JobvisorError } from '../../shared/errors.js';
import { Labels, mergeRequires, unmet, type Requires } from '../../shared/labels.js';
import type { Template } from '../../shared/template.js';
import type { SqliteWorkerStore } from '../store/workers.js';
import type { WorkerPool } from './pool.js';

/** A target's fixed labels, from its config (`labels: {k: v}`); none when it has none. */
export function targetLabels(config: Pick<Config, 'targets'>, target: string): Labels {
  const t = config.targets.find((x) => x.name === target) as { labels?: unknown } | undefined;
  const r = Labels.safeParse(t?.labels ?? {});
  return r.success ? r.data : {};
}

export function requiresCheck(config: Pick<Config, 'targets'>, pool: WorkerPool, store: SqliteWorkerStore) {
  return {
    check(target: string, template: Template, requires: Requires | undefined): void {
      const all = mergeRequires(template.requires, requires);
      if (Object.keys(all).length === 0 || pool.handles({ target })) return;
      const missing = unmet(all, targetLabels(config, target));
      if (missing.length > 0) throw new JobvisorError('REQUIREMENTS_UNMET', `target ${target} does not have ${missing.join(', ')} (its labels: ${Object.entries(targetLabels(config, target)).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'})`);
    },
    save(jobId: string, serial: number, requires: Requires | undefined): void {
      if (requires && Object.keys(requires).length > 0) store.saveRequires(jobId, serial, requires);
    },
  };
}
