/**
 * Batch scripts for sbatch runs: the site's template (sbatch/job.sh.template by default)
 * filled from validated values only. Slurm options come from the site's defaults and the
 * run's request, checked against the site's limits; the command is the template's argv,
 * each element single-quoted. `{{root}}` stays for the agent to fill with its own folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import type { SbatchConfig, SlurmOptions } from '../shared/sbatchConfig.js';

export const DEFAULT_SCRIPT_TEMPLATE = path.join(PACKAGE_ROOT, 'sbatch', 'job.sh.template');

/** Single-quotes one argument for bash. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The Slurm options of a run: site defaults, then the run's own, within the site's limits. */
export function slurmOptions(config: SbatchConfig, requested: SlurmOptions | undefined, timeLimitSeconds: number): Required<Pick<SlurmOptions, 'nodes' | 'minutes'>> & SlurmOptions {
  const o = { ...config.defaults, ...requested };
  const nodes = o.nodes ?? 1;
  if (nodes > config.limits.maxNodes) throw new JobvisorError('RESOURCES_EXCEED_LIMIT', `${nodes} nodes asked for; this cluster allows ${config.limits.maxNodes} at most`);
  const maxMinutes = Math.min(config.limits.maxMinutes, Math.max(1, Math.ceil(timeLimitSeconds / 60)));
  if (o.minutes !== undefined && o.minutes > maxMinutes) throw new JobvisorError('RESOURCES_EXCEED_LIMIT', `${o.minutes} minutes asked for; this run may take ${maxMinutes} at most`);
  return { ...o, nodes, minutes: o.minutes ?? maxMinutes };
}

export interface ScriptValues {
  jobId: string;
  serial: number;
  runDir: string;
  argv: string[];
  options: SlurmOptions & { nodes: number; minutes: number };
  extraDirectives: string[];
}

export function loadScriptTemplate(config: SbatchConfig): string {
  return readFileSync(config.scriptTemplate ?? DEFAULT_SCRIPT_TEMPLATE, 'utf8');
}

export function buildScript(template: string, v: ScriptValues): string {
  const values: Record<string, string | undefined> = {
    jobId: v.jobId,
    serial: String(v.serial),
    jobName: `jobvisor-${v.jobId}`,
    runDir: v.runDir,
    minutes: String(v.options.minutes),
    nodes: String(v.options.nodes),
    tasksPerNode: v.options.tasksPerNode?.toString(),
    cpusPerTask: v.options.cpusPerTask?.toString(),
    partition: v.options.partition,
    qos: v.options.qos,
    account: v.options.account,
    constraint: v.options.constraint,
    extraDirectives: v.extraDirectives.join('\n') || undefined,
    command: v.argv.map(shellQuote).join(' '),
  };
  return template
    .split('\n')
    .filter((line) => [...line.matchAll(/\{\{(\w+)\}\}/g)].every((m) => m[1] === 'root' || values[m[1] as string] !== undefined))
    .map((line) => line.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key === 'root' ? whole : (values[key] as string))))
    .join('\n');
}

/** Completes a run op for the sbatch driver: the Node path of the cluster, and the batch script. */
export function completeSbatchOp<Op extends { argv: string[]; runDir: string; timeLimitSeconds: number; sbatch?: { script: string } }>(
  config: SbatchConfig,
  template: string,
  run: { jobId: string; serial: number; slurm: SlurmOptions | null },
  op: Op,
): Op {
  const argv = op.argv.map((a) => a.replaceAll('{node}', config.nodePath));
  const options = slurmOptions(config, run.slurm ?? undefined, op.timeLimitSeconds);
  const script = buildScript(template, { jobId: run.jobId, serial: run.serial, runDir: op.runDir, argv, options, extraDirectives: config.extraDirectives });
  return { ...op, argv, sbatch: { script } };
}
