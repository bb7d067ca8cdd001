/**
 * Grid Engine batch scripts: the options a run may ask for (validated so that no value can
 * inject a directive or a command), resolved from the site's defaults and the run's request
 * within the site's limits, and filled into the `#$` template of this folder (or the site's own).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { checkOffered, commonValues, DirectiveValue, fillTemplate, Offered, overLimit, type ScriptValues } from '../cluster/script.js';

/** Beside this module, in src/ and in dist/ (the build copies it). */
export const DEFAULT_SGE_TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'job.sh.template');

export const SgeOptions = z
  .object({
    /** `-q`: the cluster queue (e.g. `all.q`). */
    queue: DirectiveValue.optional(),
    /** `-P`: the project the job is accounted to. */
    project: DirectiveValue.optional(),
    /** `-pe`: the parallel environment for `slots` (default `smp`). */
    pe: DirectiveValue.optional(),
    /** Slots (cores) of the parallel environment; without it the job takes one slot and no `-pe` line. */
    slots: z.number().int().positive().optional(),
    /** `-l h_rt`: the wall-clock limit. */
    minutes: z.number().int().positive().optional(),
  })
  .strict();
export type SgeOptions = z.infer<typeof SgeOptions>;
export type ResolvedSgeOptions = SgeOptions & { minutes: number };

/**
 * Options the template sets itself (name, output, merge, working directory, shell) and options
 * that change how qsub or the script behave (`-b y` binary, `-sync y` waits, `-terse`, `-now`,
 * `-C` directive prefix, `-i` stdin): a site directive may not set them.
 */
const RESERVED_FLAGS = new Set(['N', 'o', 'e', 'j', 'i', 'wd', 'cwd', 'S', 'b', 'sync', 'terse', 'now', 'C', 'shell']);

/** One site directive line: `#$ -flag` with at most two values (`#$ -l mem_free=2G`, `#$ -R y`). */
export const SgeDirective = z
  .string()
  .regex(/^#\$ -[A-Za-z][A-Za-z_]*( [A-Za-z0-9_.,:@%+=/-]{1,128}){0,2}$/, 'one "#$ -flag [value]" line (letters, digits and _.,:@%+=/- in values)')
  .refine((line) => !RESERVED_FLAGS.has(line.split(' ')[1]?.slice(1) ?? ''), 'a flag jobvisor sets itself or one that changes how qsub runs (-N -o -e -j -i -wd -cwd -S -b -sync -terse -now -C -shell)');

/** What a run may ask for: at most so many slots and minutes; only the queues, projects and parallel environments listed (when listed). */
export const SgeLimits = z
  .object({
    maxSlots: z.number().int().positive().default(1),
    maxMinutes: z.number().int().positive().default(24 * 60),
    queues: Offered,
    projects: Offered,
    pes: Offered,
  })
  .strict()
  .default({ maxSlots: 1, maxMinutes: 24 * 60 });
export type SgeLimits = z.infer<typeof SgeLimits>;

export interface SgeSite {
  defaults: SgeOptions;
  limits: SgeLimits;
}

/** The Grid Engine options of a run: site defaults, then the run's own, within the site's limits. */
export function resolveSgeOptions(site: SgeSite, requested: SgeOptions | undefined, timeLimitSeconds: number): ResolvedSgeOptions {
  const o = { ...site.defaults, ...requested };
  if (o.slots !== undefined && o.slots > site.limits.maxSlots) {
    throw overLimit('slots', `${o.slots} slots asked for; this cluster allows ${site.limits.maxSlots} at most`);
  }
  checkOffered('queue', o.queue, site.limits.queues);
  checkOffered('project', o.project, site.limits.projects);
  checkOffered('pe', o.pe, site.limits.pes);
  const maxMinutes = Math.min(site.limits.maxMinutes, Math.max(1, Math.ceil(timeLimitSeconds / 60)));
  if (o.minutes !== undefined && o.minutes > maxMinutes) {
    throw overLimit('minutes', `${o.minutes} minutes asked for; this run may take ${maxMinutes} at most`);
  }
  return { ...o, minutes: o.minutes ?? maxMinutes };
}

/** Minutes as Grid Engine's `h_rt` time, `HH:MM:SS` (hours may pass 99). */
export function hRt(minutes: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(minutes / 60))}:${two(minutes % 60)}:00`;
}

export function buildSgeScript(template: string, v: ScriptValues, o: ResolvedSgeOptions): string {
  return fillTemplate(template, {
    ...commonValues(v),
    hRt: hRt(o.minutes),
    minutes: String(o.minutes),
    queue: o.queue,
    project: o.project,
    pe: o.slots !== undefined ? (o.pe ?? 'smp') : undefined,
    slots: o.slots?.toString(),
  });
}
