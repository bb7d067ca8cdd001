/**
 * The Grid Engine backend: a cluster reached over SSH with each user's own login, whose agent
 * submits runs with `qsub` and follows them (scheduler.ts, on the agent's side).
 */
import { z } from 'zod';
import type { Backend } from '../driver.js';
import { createClusterDriver, type ClusterScheduler } from '../cluster/driver.js';
import { clusterFields, defaultsWithinLimits } from '../cluster/settings.js';
import { buildSgeScript, DEFAULT_SGE_TEMPLATE, resolveSgeOptions, SgeDirective, SgeLimits, SgeOptions } from './script.js';

export const SgeSettings = z
  .object({
    ...clusterFields('sge'),
    defaults: SgeOptions.default({}),
    /** Site-specific lines added to every batch script. */
    extraDirectives: z.array(SgeDirective).default([]),
    limits: SgeLimits,
  })
  .strict()
  .superRefine((s, ctx) => defaultsWithinLimits(() => resolveSgeOptions(s, undefined, s.limits.maxMinutes * 60), ctx));
export type SgeSettings = z.infer<typeof SgeSettings>;

const sge: ClusterScheduler<SgeSettings, SgeOptions> = {
  name: 'sge',
  title: 'Grid Engine',
  defaultTemplate: DEFAULT_SGE_TEMPLATE,
  options: SgeOptions,
  optionFields: [
    { name: 'queue', label: 'Queue', type: 'string', hint: 'the cluster queue, e.g. all.q' },
    { name: 'project', label: 'Project', type: 'string', hint: 'the project charged' },
    { name: 'pe', label: 'Parallel environment', type: 'string', hint: 'for slots; default smp' },
    { name: 'slots', label: 'Slots', type: 'integer', hint: 'cores, within the site limit' },
    { name: 'minutes', label: 'Minutes', type: 'integer', hint: 'wall-clock limit (h_rt); default: the template\'s time limit' },
  ],
  resolve: (s, requested, timeLimitSeconds) => resolveSgeOptions(s, requested, timeLimitSeconds),
  buildScript: (template, values, resolved) => buildSgeScript(template, values, resolved as ReturnType<typeof resolveSgeOptions>),
};

export const sgeBackend: Backend<SgeSettings> = {
  kind: 'sge',
  settings: SgeSettings,
  create: (settings, { config, log }) => createClusterDriver({ settings, scheduler: sge, config, log: log.child({ target: settings.name, driver: 'sge' }) }),
};
