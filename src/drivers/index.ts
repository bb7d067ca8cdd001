/** The drivers jobvisor knows, by name, and which driver serves each run mode. */
import path from 'node:path';
import { runsDir, type Config } from '../shared/config.js';
import type { RunMode } from '../shared/types.js';
import type { Driver } from './driver.js';
import { createLocalDriver } from './local.js';

export type { Driver } from './driver.js';

export const DRIVER_FACTORIES: Record<string, (config: Config) => Driver> = {
  local: (config) =>
    createLocalDriver({
      slots: { sequential: config.slotsSequential, parallel: config.slotsParallel },
      runsDir: runsDir(config),
      agentsDir: path.join(config.dataDir, 'agents'),
      templatesDir: config.templatesDir,
      logLevel: config.logLevel,
    }),
};

export function createDrivers(config: Config): Map<string, Driver> {
  return new Map(Object.entries(DRIVER_FACTORIES).map(([name, make]) => [name, make(config)]));
}

/** Which driver runs a run mode. Every run mode is local until other drivers are configured. */
export function driverFor(_runMode: RunMode): string {
  return 'local';
}
