/**
 * The Slurm backend: a cluster reached over SSH with each user's own login, whose agent submits
 * runs with `sbatch` and follows them (scheduler.ts, on the agent's side).
 */
import { z } from 'zod';
import type { Backend } from '../driver.js';
import { createClusterDriver, type ClusterScheduler } from '../cluster/driver.js';
import { clusterFields, defaultsWithinLimits } from '../cluster/settings.js';
import { buildSlurmScript, DEFAULT_SLURM_TEMPLATE, resolveSlurmOptions, SlurmDirective, SlurmLimits, SlurmOptions, type ResolvedSlurmOptions } from './script.js';

export const SlurmSettings = z
  .object({
    ...clusterFields('slurm'),
    defaults: SlurmOptions.default({}),
    /** Site-specific lines added to every batch script. */
    extraDirectives: z.array(SlurmDirective).default([]),
    limits: SlurmLimits,
  })
  .strict()
  .superRefine((s, ctx) => defaultsWithinLimits(() => resolveSlurmOptions(s, undefined, s.limits.maxMinutes * 60), ctx));
export type SlurmSettings = z.infer<typeof SlurmSettings>;

const slurm: ClusterScheduler<SlurmSettings, SlurmOptions> = {
  name: 'slurm',
  title: 'Slurm',
  defaultTemplate: DEFAULT_SLURM_TEMPLATE,
  options: SlurmOptions,
  optionFields: [
    { name: 'partition', label: 'Partition', type: 'string', hint: 'the Slurm partition (queue)' },
    { name: 'qos', label: 'QOS', type: 'string', hint: 'quality of service' },
    { name: 'account', label: 'Account', type: 'string', hint: 'the allocation charged' },
    { name: 'constraint', label: 'Constraint', type: 'string', hint: 'node features, e.g. cpu or gpu' },
    { name: 'nodes', label: 'Nodes', type: 'integer', hint: 'within the site limit' },
    { name: 'tasksPerNode', label: 'Tasks per node', type: 'integer', hint: '--ntasks-per-node' },
    { name: 'cpusPerTask', label: 'CPUs per task', type: 'integer', hint: '--cpus-per-task' },
    { name: 'minutes', label: 'Minutes', type: 'integer', hint: 'wall-clock limit; default: the template\'s time limit' },
  ],
  resolve: (s, requested, timeLimitSeconds) => resolveSlurmOptions(s, requested, timeLimitSeconds),
  buildScript: (template, values, resolved) => buildSlurmScript(template, values, resolved as ResolvedSlurmOptions),
};

export const slurmBackend: Backend<SlurmSettings> = {
  kind: 'slurm',
  settings: SlurmSettings,
  legacyRunMode: 'sbatch',
  legacyOptionsKey: 'slurm',
  create: (settings, { config, log }) => createClusterDriver({ settings, scheduler: slurm, config, log: log.child({ target: settings.name, driver: 'slurm' }) }),
};
