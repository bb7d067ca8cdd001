/** The local backend: agents as detached child processes on the supervisor's machine. */
import path from 'node:path';
import { z } from 'zod';
import { runsDir } from '../../shared/config.js';
import type { Backend } from '../driver.js';
import { resolveSizes, targetFields } from '../targetSettings.js';
import { createLocalDriver } from './driver.js';

export const LocalSettings = z.object({ ...targetFields('local') }).strict();
export type LocalSettings = z.infer<typeof LocalSettings>;

export const localBackend: Backend<LocalSettings> = {
  kind: 'local',
  settings: LocalSettings,
  create: (s, { config, log }) =>
    createLocalDriver({
      log: log.child({ target: s.name, driver: 'local' }),
      name: s.name,
      title: s.title ?? 'This machine',
      sizes: resolveSizes(s.sizes, config),
      runsDir: runsDir(config),
      agentsDir: path.join(config.dataDir, 'agents'),
      templatesDir: config.templatesDir,
      logLevel: config.logLevel,
    }),
};
