/** The local backend: agents as detached child processes on the supervisor's machine. */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, runsDir, type Config } from '../../shared/config.js';
import { AGENT_BUNDLE } from '../common.js';
import type { Backend } from '../driver.js';
import { resolveSizes, targetFields } from '../targetSettings.js';
import { createLocalDriver } from './driver.js';
import { RunAs, RunAsSetting } from './runAs.js';
import type { Logger } from '../../shared/logger.js';

export const LocalSettings = z
  .object({
    ...targetFields('local'),
    /** The OS user(s) agents and their commands run as (see runAs.ts); unset: the supervisor's own. */
    runAs: RunAsSetting.optional(),
    /** With runAs: where run directories and agent folders go (default `<dataDir>-work/<target>`). */
    workDir: z.string().refine((p) => path.isAbsolute(p), 'an absolute path').optional(),
  })
  .strict();
export type LocalSettings = z.infer<typeof LocalSettings>;

/** The OS users of a runAs target, with its work folder apart from the data folder; undefined without runAs. */
function runAsOf(s: LocalSettings, config: Config, log: Logger): RunAs | undefined {
  const where = `target ${s.name} (driver local)`;
  if (s.runAs === undefined) {
    if (s.workDir !== undefined) throw new ConfigError(`${where}: workDir is only read with runAs (without it, runs go to ${runsDir(config)})`);
    return undefined;
  }
  const data = path.resolve(config.dataDir);
  const workDir = path.resolve(s.workDir ?? path.join(`${data}-work`, s.name));
  const inside = (a: string, b: string) => a === b || a.startsWith(b + path.sep);
  if (inside(workDir, data)) throw new ConfigError(`${where}: workDir ${workDir} is inside the data folder ${data}, which is the supervisor's alone`);
  if (inside(data, workDir)) throw new ConfigError(`${where}: workDir ${workDir} holds the data folder ${data}, which is the supervisor's alone`);
  const needs: [string, string, boolean][] = [
    ['the agent bundle', AGENT_BUNDLE, true],
    ['the templates folder', path.resolve(config.templatesDir), true],
  ];
  return new RunAs({ target: s.name, setting: s.runAs, workDir, needs, log });
}

export const localBackend: Backend<LocalSettings> = {
  kind: 'local',
  settings: LocalSettings,
  create: (s, { config, log }) => {
    const driverLog = log.child({ target: s.name, driver: 'local' });
    const runAs = runAsOf(s, config, driverLog);
    return createLocalDriver({
      log: driverLog,
      name: s.name,
      title: s.title ?? 'This machine',
      sizes: resolveSizes(s.sizes, config),
      runsDir: runAs?.runsDir ?? runsDir(config),
      agentsDir: runAs?.agentsDir ?? path.join(config.dataDir, 'agents'),
      templatesDir: config.templatesDir,
      logLevel: config.logLevel,
      ...(runAs ? { runAs } : {}),
    });
  },
};
