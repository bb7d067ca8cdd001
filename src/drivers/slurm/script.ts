/**
 * Slurm batch scripts: the options a run may ask for (validated so that no value can inject a
 * directive or a command), resolved from the site's defaults and the run's request within the
 * site's limits, and filled into the `#SBATCH` template of this folder (or the site's own).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { checkOffered, commonValues, DirectiveValue, fillTemplate, Offered, overLimit, type ScriptValues } from '../cluster/script.js';

/** Beside this module, in src/ and in dist/ (the build copies it). */
export const DEFAULT_SLURM_TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'job.sh.template');

export const SlurmOptions = z
  .object({
    partition: DirectiveValue.optional(),
    qos: DirectiveValue.optional(),
    account: DirectiveValue.optional(),
    constraint: DirectiveValue.optional(),
    nodes: z.number().int().positive().optional(),
    tasksPerNode: z.number().int().positive().optional(),
    cpusPerTask: z.number().int().positive().optional(),
    minutes: z.number().int().positive().optional(),
  })
  .strict();
export type SlurmOptions = z.infer<typeof SlurmOptions>;
export type ResolvedSlurmOptions = SlurmOptions & { nodes: number; minutes: number };

/** One site directive line: `#SBATCH --name[=value]`. */
export const SlurmDirective = z.string().regex(/^#SBATCH --[A-Za-z-]+(=[A-Za-z0-9_.,:@%+=/-]+)?$/, 'one "#SBATCH --name[=value]" line');

const count = (n: number) => z.number().int().positive().default(n);
/** What a run may ask for: at most so many nodes, tasks, CPUs and minutes; only the partitions, QOS, accounts and constraints listed (when listed). */
export const SlurmLimits = z
  .object({
    maxNodes: count(1),
    maxTasksPerNode: count(1),
    maxCpusPerTask: count(1),
    maxMinutes: count(24 * 60),
    partitions: Offered,
    qos: Offered,
    accounts: Offered,
    constraints: Offered,
  })
  .strict()
  .default({ maxNodes: 1, maxTasksPerNode: 1, maxCpusPerTask: 1, maxMinutes: 24 * 60 });
export type SlurmLimits = z.infer<typeof SlurmLimits>;

export interface SlurmSite {
  defaults: SlurmOptions;
  limits: SlurmLimits;
}

/** The Slurm options of a run: site defaults, then the run's own, within the site's limits. */
export function resolveSlurmOptions(site: SlurmSite, requested: SlurmOptions | undefined, timeLimitSeconds: number): ResolvedSlurmOptions {
  const o = { ...site.defaults, ...requested };
  const l = site.limits;
  const nodes = o.nodes ?? 1;
  if (nodes > l.maxNodes) throw overLimit('nodes', `${nodes} nodes asked for; this cluster allows ${l.maxNodes} at most`);
  if ((o.tasksPerNode ?? 1) > l.maxTasksPerNode) throw overLimit('tasksPerNode', `${o.tasksPerNode} tasks per node asked for; this cluster allows ${l.maxTasksPerNode} at most`);
  if ((o.cpusPerTask ?? 1) > l.maxCpusPerTask) throw overLimit('cpusPerTask', `${o.cpusPerTask} CPUs per task asked for; this cluster allows ${l.maxCpusPerTask} at most`);
  checkOffered('partition', o.partition, l.partitions);
  checkOffered('qos', o.qos, l.qos);
  checkOffered('account', o.account, l.accounts);
  checkOffered('constraint', o.constraint, l.constraints);
  const maxMinutes = Math.min(site.limits.maxMinutes, Math.max(1, Math.ceil(timeLimitSeconds / 60)));
  if (o.minutes !== undefined && o.minutes > maxMinutes) throw overLimit('minutes', `${o.minutes} minutes asked for; this run may take ${maxMinutes} at most`);
  return { ...o, nodes, minutes: o.minutes ?? maxMinutes };
}

export function buildSlurmScript(template: string, v: ScriptValues, o: ResolvedSlurmOptions): string {
  return fillTemplate(template, {
    ...commonValues(v),
    minutes: String(o.minutes),
    nodes: String(o.nodes),
    tasksPerNode: o.tasksPerNode?.toString(),
    cpusPerTask: o.cpusPerTask?.toString(),
    partition: o.partition,
    qos: o.qos,
    account: o.account,
    constraint: o.constraint,
  });
}
