/**
 * The backends jobvisor knows, one line each, and the drivers of the configured targets. A new
 * backend (PBS, Kubernetes, ...) is one folder beside these plus one line here (and, for a
 * batch scheduler, one line in src/agent/engines/schedulers.ts).
 */
import { ConfigError, type Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { formatIssues } from '../shared/template.js';
import { dockerBackend } from './docker/index.js';
import type { Backend, Driver } from './driver.js';
import { localBackend } from './local/index.js';
import { sgeBackend } from './sge/index.js';
import { slurmBackend } from './slurm/index.js';
import { workersBackend } from './workers/index.js';

export type { Backend, Driver } from './driver.js';

export const BACKENDS: ReadonlyMap<string, Backend> = new Map<string, Backend>(
  [localBackend, dockerBackend, slurmBackend, sgeBackend, workersBackend].map((b) => [b.kind, b as Backend]),
);

/**
 * Environment variables of jobvisor 0.1 that `targets` replaced (where runs go, a driver's
 * settings, a cluster's longest run) are refused at start, so that a site configured by its
 * environment does not quietly fall back to the embedded local target.
 */
export function refuseRetiredEnvironment(env: NodeJS.ProcessEnv, backends: ReadonlyMap<string, Backend> = BACKENDS): void {
  const retired = ['JOBVISOR_DRIVER_SEQUENTIAL', 'JOBVISOR_DRIVER_PARALLEL'];
  for (const b of backends.values()) {
    retired.push(`JOBVISOR_${b.kind.toUpperCase()}`);
    if (b.legacyRunMode) retired.push(`JOBVISOR_${b.legacyRunMode.toUpperCase()}`, `JOBVISOR_MAX_TIME_${b.legacyRunMode.toUpperCase()}`);
  }
  const set = retired.filter((name) => env[name] !== undefined && env[name] !== '');
  if (set.length > 0) {
    throw new ConfigError(`${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} no longer read: where runs go and each driver's settings are configured as "targets" (JOBVISOR_TARGETS; see README, "Targets" and "Upgrading from 0.1")`);
  }
}

/**
 * Builds the driver of every configured target, in the config's order. A target whose settings
 * its backend refuses stops start-up with a message naming the target and the setting.
 */
export function createDrivers(config: Config, log: Logger, backends: ReadonlyMap<string, Backend> = BACKENDS): Map<string, Driver> {
  const drivers = new Map<string, Driver>();
  for (const target of config.targets) {
    const backend = backends.get(target.driver);
    if (!backend) throw new ConfigError(`target ${target.name}: unknown driver "${target.driver}"; known drivers: ${[...backends.keys()].join(', ')}`);
    const r = backend.settings.safeParse(target);
    if (!r.success) throw new ConfigError(`target ${target.name} (driver ${target.driver}) is not valid: ${formatIssues(r.error, 'target')}`);
    drivers.set(target.name, backend.create(r.data, { config, log }));
  }
  return drivers;
}
