/**
 * A run's steps in a batch script (the `{{steps}}` line of a scheduler's template): a small bash
 * function that runs each step in the run directory, says in the log which step speaks
 * (`[jobvisor] <step>: <program>`), appends `<phase> <epoch seconds>` to PHASE_FILE as each
 * step starts and `failed <phase> <exit code>` when one fails, and then exits with that step's
 * code; later steps do not start. The batch engine reads PHASE_FILE when it polls. Without
 * steps the line has no value and is left out: the template's `exec {{command}}` runs as ever.
 * The backends' own templates have one `{{run}}` line instead (runBlock), which does the same
 * and also records the command's exit code; `{{steps}}` stays for sites' own templates.
 */
import { PHASE_FILE } from '../../shared/protocol.js';
import { EXIT_STATUS_FILE } from '../../shared/scheduler.js';
import { shellQuote } from './script.js';

export interface StepArgv {
  preprocess?: string[] | undefined;
  argv: string[];
  postprocess?: string[] | undefined;
}

const quoted = (argv: string[]) => argv.map(shellQuote).join(' ');

/**
 * The step function and its calls, in order: `run` runs one step's argv, `fail` ends the script
 * with a failed step's code, `after` comes after each step's check (runBlock's stop on a TERM).
 */
function stepLines(v: StepArgv, run: string, fail: string, after: string[] = []): string[] {
  return [
    `# The template's steps, in order; each one's start (and a failed one's exit code) in ${PHASE_FILE}.`,
    'jobvisor_step() {',
    '  local phase=$1 step=$2',
    '  shift 2',
    `  echo "$phase $(date +%s)" >> ${PHASE_FILE}`,
    '  echo "[jobvisor] $step: ${1##*/}"',
    `  ${run}`,
    '  local code=$?',
    `  if [ "$code" -ne 0 ]; then echo "failed $phase $code" >> ${PHASE_FILE}; ${fail} "$code"; fi`,
    ...after,
    '}',
    ...(v.preprocess ? [`jobvisor_step preparing preprocess ${quoted(v.preprocess)}`] : []),
    `jobvisor_step running command ${quoted(v.argv)}`,
    ...(v.postprocess ? [`jobvisor_step finishing postprocess ${quoted(v.postprocess)}`] : []),
  ];
}

/** The script lines that run the steps and exit, or undefined when the run has no steps. */
export function stepsBlock(v: StepArgv): string | undefined {
  if (!v.preprocess && !v.postprocess) return undefined;
  return [...stepLines(v, '"$@"', 'exit'), 'exit 0'].join('\n');
}

/**
 * The `{{run}}` line of a scheduler's template: runs the command (or the steps, as stepsBlock
 * does) and exits with its code. Unlike `exec {{command}}`, the command runs as a child of the
 * script, so that the script can say how it ended: when the command (the last step) ended by
 * itself (an exit code up to 128: not killed by a signal), its exit code goes to
 * EXIT_STATUS_FILE, and the agent reads it there the moment it
 * appears instead of waiting for the scheduler's accounting (Grid Engine's qacct knows a job
 * about a second after it left the queue). A TERM sent to the script (a cancel or a time limit
 * that signals it) is passed on to the command, no later step starts and no file is written:
 * the scheduler's records say how such a job ended, as do they for a job killed outright
 * (SIGKILL: qdel, h_rt), which writes nothing either. (A non-interactive shell starts a
 * background command with SIGINT and SIGQUIT ignored; batch jobs get neither from a terminal.)
 */
export function runBlock(v: StepArgv): string {
  const steps = Boolean(v.preprocess || v.postprocess);
  return [
    `# The command runs as this script's child: a TERM is passed on to it; its exit code, when it ended by itself, goes to ${EXIT_STATUS_FILE}.`,
    'jobvisor_term=',
    'jobvisor_child=',
    `trap 'jobvisor_term=1; [ -n "$jobvisor_child" ] && kill -TERM "$jobvisor_child" 2>/dev/null' TERM`,
    'jobvisor_run() {',
    '  "$@" &',
    '  jobvisor_child=$!',
    '  wait "$jobvisor_child"',
    '  local code=$?',
    '  # A trapped TERM ends the wait at once: wait again for the command itself (bash keeps the status of a child it reaped meanwhile).',
    '  if [ -n "$jobvisor_term" ]; then wait "$jobvisor_child"; code=$?; fi',
    '  jobvisor_child=',
    '  return "$code"',
    '}',
    'jobvisor_exit() {',
    '  # Killed by a signal (128 + its number), or told to stop: the scheduler says how it ended (a signal to the job may reach the command first).',
    `  if [ -z "$jobvisor_term" ] && [ "$1" -le 128 ]; then echo "$1" > ${EXIT_STATUS_FILE}.tmp && mv -f ${EXIT_STATUS_FILE}.tmp ${EXIT_STATUS_FILE}; fi`,
    '  exit "$1"',
    '}',
    ...(steps
      ? [...stepLines(v, 'jobvisor_run "$@"', 'jobvisor_exit', ['  if [ -n "$jobvisor_term" ]; then exit "$code"; fi']), 'jobvisor_exit 0']
      : [`jobvisor_run ${quoted(v.argv)}`, 'jobvisor_exit $?']),
  ].join('\n');
}

/** Whether a scheduler's script template can run steps (it has the `{{steps}}` or the `{{run}}` line). */
export const runsSteps = (scriptTemplate: string): boolean => scriptTemplate.includes('{{steps}}') || scriptTemplate.includes('{{run}}');
