/** The docker backend: each agent in its own container on one of the target's Docker engines. */
import { runsDir } from '../../shared/config.js';
import type { Backend } from '../driver.js';
import { resolveSizes } from '../targetSettings.js';
import { createDockerDriver } from './driver.js';
import { DockerSettings } from './settings.js';

export const dockerBackend: Backend<DockerSettings> = {
  kind: 'docker',
  settings: DockerSettings,
  create: (settings, { config, log }) =>
    createDockerDriver({
      settings,
      sizes: resolveSizes(settings.sizes, config),
      runsDir: runsDir(config),
      templatesDir: config.templatesDir,
      dataDir: config.dataDir,
      logLevel: config.logLevel,
      log: log.child({ target: settings.name, driver: 'docker' }),
    }),
};
