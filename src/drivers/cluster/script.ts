/**
 * Batch scripts of cluster targets, the same way for every scheduler: the backend's template
 * (`job.sh.template` in its folder, or the site's own) filled from validated values only, in
 * one pass (a value put in is never read for placeholders again). A line whose placeholder has
 * no value is left out; `{{root}}` (the agent's own folder on the cluster, which only the agent
 * knows) becomes the AGENT_ROOT marker, which the agent fills. The command is the template's
 * argv, each element single-quoted for the shell.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { JobvisorError } from '../../shared/errors.js';
import { AGENT_ROOT } from '../../shared/protocol.js';
import { runBlock, stepsBlock } from './steps.js';

/** Where the agent keeps its files on the cluster, as ops name it: the agent fills it in. */
export const ROOT = AGENT_ROOT;

/** A value that goes into a scheduler directive: no spaces, quotes, newlines or shell characters. */
const DIRECTIVE_VALUE = /^[A-Za-z0-9_.,:@%+=/-]{1,128}$/;
export const DirectiveValue = z.string().regex(DIRECTIVE_VALUE, 'letters, digits and _.,:@%+=/- only (no spaces, quotes or newlines)');

/** Single-quotes one argument for a POSIX shell. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** What every batch script is made from, whatever the scheduler. */
export interface ScriptValues {
  jobId: string;
  serial: number;
  runDir: string;
  argv: string[];
  /** The template's steps around the command (filled like argv), if any. */
  preprocess?: string[] | undefined;
  postprocess?: string[] | undefined;
  /** The site's own directive lines, already checked by the backend's settings schema. */
  extraDirectives: string[];
}

/** The values every template may use; a backend adds its own (options) to these. */
export function commonValues(v: ScriptValues): Record<string, string | undefined> {
  return {
    jobId: v.jobId,
    serial: String(v.serial),
    jobName: `jobvisor-${v.jobId}`,
    runDir: v.runDir,
    extraDirectives: v.extraDirectives.join('\n') || undefined,
    command: v.argv.map(shellQuote).join(' '),
    steps: stepsBlock(v),
    run: runBlock(v),
  };
}

/** Fills `{{name}}` placeholders (`{{root}}` with ROOT) in one pass; drops every line naming a placeholder without a value. */
export function fillTemplate(template: string, values: Record<string, string | undefined>): string {
  const value = (key: string) => (key === 'root' ? ROOT : Object.hasOwn(values, key) ? values[key] : undefined);
  return template
    .split('\n')
    .filter((line) => [...line.matchAll(/\{\{(\w+)\}\}/g)].every((m) => value(m[1] as string) !== undefined))
    .map((line) => line.replace(/\{\{(\w+)\}\}/g, (_whole, key: string) => value(key) as string))
    .join('\n');
}

/** A run's option above the site's limit: the issue names the option, as a form shows it. */
export function overLimit(option: string, message: string): JobvisorError {
  return new JobvisorError('RESOURCES_EXCEED_LIMIT', message, { issues: [{ path: ['options', option], message }] });
}

export function readScriptTemplate(file: string): string {
  return readFileSync(file, 'utf8');
}

/** A run's option value that the site does not offer (when the site lists what it offers). */
export function checkOffered(option: string, value: string | undefined, offered: string[] | undefined): void {
  if (value === undefined || offered === undefined || offered.includes(value)) return;
  const message = `${option} ${value} is not one this site offers (${offered.join(', ')})`;
  throw new JobvisorError('INVALID_INPUT', message, { issues: [{ path: ['options', option], message }] });
}

/** A list of the values a site offers for an option (partitions, queues, ...): none means any. */
export const Offered = z.array(DirectiveValue).min(1).optional();
