/**
 * A run's steps in a batch script (the `{{steps}}` line of a scheduler's template): a small bash
 * function that runs each step in the run directory, says in the log which step speaks
 * (`[jobvisor] <step>: <program>`), appends `<phase> <epoch seconds>` to PHASE_FILE as each
 * step starts and `failed <phase> <exit code>` when one fails, and then exits with that step's
 * code; later steps do not start. The batch engine reads PHASE_FILE when it polls. Without
 * steps the line has no value and is left out: the template's `exec {{command}}` runs as ever.
 */
import { PHASE_FILE } from '../../shared/protocol.js';
import { shellQuote } from './script.js';

export interface StepArgv {
  preprocess?: string[] | undefined;
  argv: string[];
  postprocess?: string[] | undefined;
}

const quoted = (argv: string[]) => argv.map(shellQuote).join(' ');

/** The script lines that run the steps and exit, or undefined when the run has no steps. */
export function stepsBlock(v: StepArgv): string | undefined {
  if (!v.preprocess && !v.postprocess) return undefined;
  return [
    `# The template's steps, in order; each one's start (and a failed one's exit code) in ${PHASE_FILE}.`,
    'jobvisor_step() {',
    '  local phase=$1 step=$2',
    '  shift 2',
    `  echo "$phase $(date +%s)" >> ${PHASE_FILE}`,
    '  echo "[jobvisor] $step: ${1##*/}"',
    '  "$@"',
    '  local code=$?',
    `  if [ "$code" -ne 0 ]; then echo "failed $phase $code" >> ${PHASE_FILE}; exit "$code"; fi`,
    '}',
    ...(v.preprocess ? [`jobvisor_step preparing preprocess ${quoted(v.preprocess)}`] : []),
    `jobvisor_step running command ${quoted(v.argv)}`,
    ...(v.postprocess ? [`jobvisor_step finishing postprocess ${quoted(v.postprocess)}`] : []),
    'exit 0',
  ].join('\n');
}

/** Whether a scheduler's script template can run steps (it has the `{{steps}}` line). */
export const runsSteps = (scriptTemplate: string): boolean => scriptTemplate.includes('{{steps}}');
