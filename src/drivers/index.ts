/** The drivers jobvisor knows, by name, and which driver serves each run mode. */
import path from 'node:path';
import { runsDir, type Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { RunMode } from '../shared/types.js';
import { createDockerDriver } from './docker.js';
import type { Driver } from './driver.js';
import { createLocalDriver } from './local.js';
import { createSbatchDriver } from './sbatch.js';

export type { Driver } from './driver.js';

export type DriverFactory = (config: Config, log: Logger) => Driver;

export const DRIVER_FACTORIES: Record<string, DriverFactory> = {
  local: (config) =>
    createLocalDriver({
      slots: { sequential: config.slotsSequential, parallel: config.slotsParallel },
      runsDir: runsDir(config),
      agentsDir: path.join(config.dataDir, 'agents'),
      templatesDir: config.templatesDir,
      logLevel: config.logLevel,
    }),
  docker: (config, log) =>
    createDockerDriver({
      settings: config.docker,
      runsDir: runsDir(config),
      templatesDir: config.templatesDir,
      dataDir: config.dataDir,
      logLevel: config.logLevel,
      log: log.child({ driver: 'docker' }),
    }),
  sbatch: (config, log) => {
    if (!config.sbatch) throw new Error('the sbatch driver needs the sbatch setting');
    return createSbatchDriver({ settings: config.sbatch, templatesDir: config.templatesDir, logLevel: config.logLevel, log: log.child({ driver: 'sbatch' }) });
  },
};

/** Which driver runs a run mode. */
export function driverFor(config: Pick<Config, 'driverSequential' | 'driverParallel'>, runMode: RunMode): string {
  if (runMode === 'sbatch') return 'sbatch';
  return runMode === 'sequential' ? config.driverSequential : config.driverParallel;
}

/** The drivers the configuration uses (local is always there; sbatch when a cluster is configured). */
export function createDrivers(config: Config, log: Logger): Map<string, Driver> {
  const names = new Set(['local', config.driverSequential, config.driverParallel, ...(config.sbatch ? ['sbatch'] : [])]);
  return new Map([...names].map((name) => [name, (DRIVER_FACTORIES[name] as DriverFactory)(config, log)]));
}
