/** The drivers jobvisor knows, by name, and which driver serves each run mode. */
import path from 'node:path';
import { runsDir, type Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { RunMode } from '../shared/types.js';
import { createDockerDriver } from './docker.js';
import type { Driver } from './driver.js';
import { createLocalDriver } from './local.js';

export type { Driver } from './driver.js';

export const DRIVER_FACTORIES: Record<string, (config: Config, log: Logger) => Driver> = {
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
};

/** Which driver runs a run mode. */
export function driverFor(config: Pick<Config, 'driverSequential' | 'driverParallel'>, runMode: RunMode): string {
  return runMode === 'sequential' ? config.driverSequential : config.driverParallel;
}

/** The drivers the configuration uses (local is always there). */
export function createDrivers(config: Config, log: Logger): Map<string, Driver> {
  const names = new Set(['local', config.driverSequential, config.driverParallel]);
  return new Map([...names].map((name) => [name, (DRIVER_FACTORIES[name] as (c: Config, l: Logger) => Driver)(config, log)]));
}
