/**
 * Grid Engine (SGE 8.1.9, Debian's gridengine packages; Son of Grid Engine and its kin answer
 * alike) from the login node: `qsub -terse`, ONE `qstat -u USER -xml` for all of the user's jobs,
 * `qstat -j` for why jobs pend, `qacct -j` for a job that left the queue, `qdel`. Bundled into
 * the agent: imports from src/shared only. The facts below were checked on a real single-node
 * cluster (src/drivers/sge/test-cluster.sh) with jobs that ended, failed, ran past h_rt, were
 * deleted running and pending, and went to Eqw.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  classifySubmitError,
  schedulerCommand,
  SchedulerCommandError,
  type EndedJob,
  type QueueEntry,
  type Scheduler,
  type SchedulerPhase,
  type SubmitFailure,
} from '../../shared/scheduler.js';

/*
 * How the agent runs Grid Engine's commands. Debian's (and Ubuntu's) gridengine packages put
 * every one of them behind one shell wrapper: /usr/bin/qstat, qsub, qacct, qdel ... are links to
 * /usr/share/gridengine/gridengine-wrapper, which works out SGE_ROOT, SGE_CELL and SGE_ARCH (its
 * architecture script starts uname, cpp, ldd ..., twice: once in the wrapper, once in
 * /etc/default/gridengine), then `exec /usr/lib/gridengine/<command> "$@"`. On the test cluster
 * that costs 0.1-0.4 s per command, where `qstat -xml` itself takes 10-20 ms; the agent runs a
 * queue query, qsub, qacct for every run.
 *
 * So the agent works those three variables out ONCE, with the wrapper's own code (its text, the
 * final `exec` replaced by printing them, run by /bin/sh in the agent's environment), and then
 * runs /usr/lib/gridengine/<command> itself with them: the program the wrapper would run, with
 * the environment it would give it. A command that is not that wrapper (a site's own
 * $SGE_ROOT/bin/<arch> on PATH), a wrapper that does not read as expected, or a shell that
 * fails: the command runs as found on PATH, as before. Counts and errors name the command.
 */

/** The wrapper's last line: `exec <folder>/${PROG} "$@"`. */
const WRAPPER_EXEC = /^exec[ \t]+(\/[^\s$]+)\/\$\{?PROG\}?[ \t]+"\$@"[ \t]*$/m;
/** Larger than this, a file found on PATH is a program, not a shell wrapper. */
const WRAPPER_MAX_BYTES = 64 * 1024;
const WRAPPER_VARS = ['SGE_ROOT', 'SGE_CELL', 'SGE_ARCH'] as const;

/** A command run directly: the program and the environment the wrapper would give it. */
export interface DirectCommand {
  program: string;
  env: NodeJS.ProcessEnv;
}

/** The first executable `name` in the folders of `searchPath` (a PATH value), or null. */
export function findOnPath(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** The wrapper's text, if `file` is a shell script that ends by exec'ing `<folder>/${PROG}`; and that folder. */
function readWrapper(file: string): { text: string; dir: string } | null {
  const real = realpathSync(file);
  if (statSync(real).size > WRAPPER_MAX_BYTES) return null;
  const text = readFileSync(real, 'utf8');
  const dir = text.startsWith('#!') ? WRAPPER_EXEC.exec(text)?.[1] : undefined;
  return dir ? { text, dir } : null;
}

/** SGE_ROOT, SGE_CELL and SGE_ARCH as the wrapper's own code sets them in `env` (its exec replaced by a printf), or null. */
function wrapperVars(text: string, env: NodeJS.ProcessEnv): Promise<Record<string, string> | null> {
  const script = text.replace(WRAPPER_EXEC, `printf '%s\\n' ${WRAPPER_VARS.map((v) => `"$${v}"`).join(' ')}`);
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script], { env, timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout) => {
      const values = stdout.split('\n');
      if (err || WRAPPER_VARS.some((_, i) => !values[i])) return resolve(null);
      resolve(Object.fromEntries(WRAPPER_VARS.map((v, i) => [v, values[i] as string])));
    });
  });
}

/**
 * How to run `name` directly, when the `name` on `env.PATH` is Debian's wrapper and the program
 * it would exec is there; null: run it as found. `vars` caches the wrapper's variables (they
 * are the same for every command of one wrapper).
 */
export async function resolveDirect(name: string, env: NodeJS.ProcessEnv, vars = new Map<string, Promise<Record<string, string> | null>>()): Promise<DirectCommand | null> {
  const found = findOnPath(name, env.PATH ?? '');
  const wrapper = found ? readWrapper(found) : null;
  if (!wrapper) return null;
  const program = path.join(wrapper.dir, name);
  try {
    accessSync(program, constants.X_OK);
  } catch {
    return null;
  }
  const key = realpathSync(found as string);
  if (!vars.has(key)) vars.set(key, wrapperVars(wrapper.text, env));
  const values = await vars.get(key);
  return values ? { program, env: { ...env, ...values } } : null;
}

const resolved = new Map<string, Promise<DirectCommand | null>>();
const wrapperValues = new Map<string, Promise<Record<string, string> | null>>();

/** schedulerCommand for a Grid Engine command: run directly when it is Debian's wrapper (resolved once per command), else as found on PATH. */
export async function sgeCommand(name: string, args: string[], opts: Parameters<typeof schedulerCommand>[2] = {}): Promise<string> {
  if (!resolved.has(name)) resolved.set(name, resolveDirect(name, process.env, wrapperValues).catch(() => null));
  const direct = await resolved.get(name);
  return schedulerCommand(name, args, direct ? { ...opts, program: direct.program, env: direct.env } : opts);
}

const MAX_REASON = 500;

/** One line, trimmed, at most 500 characters. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, MAX_REASON);
}

/**
 * `qsub -terse` prints only the job id: `123`, or `123.1-5:1` for an array job. Errors (an
 * unknown queue, project or parallel environment) come on stderr with a non-zero exit; the
 * SchedulerCommandError keeps qsub's own words, e.g. `Unable to run job: Job was rejected
 * because job requests unknown queue "nope.q".`
 */
async function submit(scriptPath: string, runDir: string): Promise<string> {
  const out = await sgeCommand('qsub', ['-terse', scriptPath], { cwd: runDir });
  const id = /^([0-9]+)(\.[0-9:-]+)?$/.exec(out.trim())?.[1];
  if (!id) throw new SchedulerCommandError('qsub', out.trim(), 0, `qsub answered something unexpected: ${oneLine(out)}`);
  return id;
}

/**
 * qsub's errors with sge_qmaster down (8.1.9, checked against a port nothing listens on), at
 * once: `error: commlib error: got select error (Connection refused)`, then `Unable to run
 * job: unable to send message to qmaster using port 6444 on host "vm": got send error`,
 * `Exiting.`: the job never reached the qmaster. qstat's error of the same outage says
 * `unable to contact qmaster`. A qmaster that takes the connection and never answers makes
 * qsub hang: the command's timeout, an unknown outcome, as is `failed receiving gdi request
 * response` (the request went out, no answer came). A refusal says why: `Unable to run job:
 * Job was rejected because job requests unknown queue "nope.q".`
 */
const SUBMIT_ERRORS = {
  unreachable: /unable to send message to qmaster|unable to contact qmaster|commlib error: (?:got select error|can't connect)/i,
  unknown: /failed receiving gdi request/i,
};

function submitFailure(err: unknown): SubmitFailure {
  return classifySubmitError(err, SUBMIT_ERRORS);
}

/** A job of the user's queue whose working directory (`cwd:` of `qstat -j`) is `runDir`. */
async function findSubmitted(runDir: string): Promise<string | undefined> {
  const ids = [...(await queue()).keys()];
  if (ids.length === 0) return undefined;
  let out: string;
  try {
    out = await sgeCommand('qstat', ['-j', ids.join(',')], { countAs: 'qstat -j' });
  } catch (err) {
    if (err instanceof SchedulerCommandError && /do not exist/i.test(err.stderr)) return undefined;
    throw err;
  }
  const dir = path.resolve(runDir);
  for (const block of out.split(/^=+\s*$/m)) {
    const id = /^job_number:\s*([0-9]+)/m.exec(block)?.[1];
    const cwd = /^cwd:\s*(.+)$/m.exec(block)?.[1]?.trim();
    if (id && cwd && path.resolve(cwd) === dir) return id;
  }
  return undefined;
}

/** The text of the XML elements named `tag` (`<tag ...>text</tag>`), as a list. */
function elements(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] ?? '');
}

/**
 * `qstat -u USER -xml` lists running jobs under `<queue_info>` and pending ones under
 * `<job_info>`, each as a flat `<job_list state="running|pending">` with `<JB_job_number>`,
 * `<state>` (`r`, `qw`, `Eqw`, `dr`, ...) and `<JAT_start_time>` (running) or
 * `<JB_submission_time>` (pending). No jobs: both sections empty. With sge_qmaster down qstat
 * exits 1 ("unable to contact qmaster ..."), which rejects here. Tasks of an array job come as
 * several job_list elements with one number; jobvisor submits no arrays, so the first is kept.
 */
async function queue(): Promise<Map<string, QueueEntry>> {
  const xml = await sgeCommand('qstat', ['-u', os.userInfo().username, '-xml']);
  const jobs = new Map<string, QueueEntry>();
  for (const job of elements(xml, 'job_list')) {
    const id = elements(job, 'JB_job_number')[0]?.trim();
    const state = elements(job, 'state')[0]?.trim();
    if (id && state && !jobs.has(id)) jobs.set(id, { id, state, reason: '', estimatedStart: '' });
  }
  return jobs;
}

/**
 * `qstat -j ID,ID,...` prints one block per job, each starting with a line of `=` and
 * `job_number: N`; `scheduling info:` is followed by continuation lines indented to the value
 * column (e.g. `queue instance "all.q@vm" dropped because it is full`); a job in Eqw has an
 * `error reason    1:      12/01/2026 08:41:20 [1001:11048]: error: can't chdir to
 * /nonexistent: No such file or directory` line. Unknown ids are left out silently when at
 * least one id is known; when none is, qstat exits 1 with "Following jobs do not exist".
 */
async function pendingReasons(ids: string[]): Promise<Map<string, string>> {
  const reasons = new Map<string, string>();
  if (ids.length === 0) return reasons;
  let out: string;
  try {
    out = await sgeCommand('qstat', ['-j', ids.join(',')], { countAs: 'qstat -j' });
  } catch (err) {
    if (err instanceof SchedulerCommandError && /do not exist/i.test(err.stderr)) return reasons;
    throw err;
  }
  for (const block of out.split(/^=+\s*$/m)) {
    const id = /^job_number:\s*([0-9]+)/m.exec(block)?.[1];
    if (!id) continue;
    const error = /^error reason\s+[0-9]*:?\s*(.*)$/m.exec(block)?.[1];
    const info = /^scheduling info:\s*(.*(?:\n[ \t]+\S.*)*)/m.exec(block)?.[1];
    // In Eqw the error says it all; the scheduling info then only adds "Job is in error state".
    const lines = error ? [errorReason(error)] : (info ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines.length > 0 && lines[0]) reasons.set(id, oneLine(lines.join('; ')));
  }
  return reasons;
}

/** `12/01/2026 08:41:20 [1001:11048]: error: can't chdir to ...` without the date, ids and `error:`. */
function errorReason(line: string): string {
  return line.replace(/^.*?\[[0-9]+:[0-9]+\]:\s*/, '').replace(/^error:\s*/, '');
}

/**
 * `qacct -j ID` prints `name value` lines per record (a rescheduled job has several; the last
 * counts). Checked records: done `failed 0`, `exit_status 0`; a script's `exit 3`: `failed 0`,
 * `exit_status 3`; past h_rt: `failed 37  : qmaster enforced h_rt, h_cpu, or h_vmem limit`,
 * `exit_status 137                  (Killed)`; qdel of a running job — and equally a job killed
 * by SIGKILL any other way, Grid Engine records no difference — `failed 100 : assumedly after
 * job`, `exit_status 137`; a job that went to Eqw gets its record at once (still queued):
 * `failed 28  : changing into working directory`. A job deleted while pending never gets one.
 * Unknown (or not yet flushed; about a second here): exit 1, "error: job id N not found";
 * before any job ended there is no accounting file: "...accounting: No such file or directory".
 */
async function lookUp(id: string): Promise<EndedJob | undefined> {
  let out: string;
  try {
    out = await sgeCommand('qacct', ['-j', id]);
  } catch (err) {
    if (!(err instanceof SchedulerCommandError && /not found|no such file/i.test(err.stderr))) throw err;
    out = '';
  }
  const record = out.split(/^=+\s*$/m).filter((r) => /^jobnumber\s/m.test(r)).at(-1);
  if (!record) return deletedPending.has(id) ? { state: 'DELETED', reason: 'deleted while pending (qdel)', exitCode: null } : undefined;
  const field = (name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(record)?.[1]?.trim() ?? '';
  return endedJob(field('failed'), field('exit_status'));
}

/** The script recorded that its command exited by itself with `code`: what qacct then says (`failed 0`, `exit_status` the code). */
function exited(code: number): EndedJob {
  return endedJob('0', String(code));
}

function endedJob(failedText: string, exitText: string): EndedJob {
  const failed = Number.parseInt(failedText, 10) || 0;
  const exit = Number.parseInt(exitText, 10);
  const exitCode = Number.isFinite(exit) ? exit : null;
  const why = oneLine(`failed ${failedText}, exit_status ${exitText}`);
  if (failed === 0) return { state: exitCode === 0 ? 'DONE' : 'FAILED', reason: '', exitCode };
  if (failed === 37 || /h_rt/.test(failedText)) return { state: 'KILLED_TIME_LIMIT', reason: why, exitCode };
  if (failed === 100 && exitCode === 137) return { state: 'DELETED', reason: why, exitCode };
  if (failed === 100) return { state: 'FAILED', reason: why, exitCode };
  return { state: 'FAILED_START', reason: oneLine(failedText), exitCode: null }; // it never ran
}

/**
 * Jobs this agent deleted while they pended: qdel answers `USER has deleted job N` and Grid
 * Engine writes no accounting record for them, so lookUp answers for them from here. (A
 * running job is only `registered ... for deletion`: it shows `dr`, then gets its record.)
 */
const deletedPending = new Set<string>();

/** `qdel ID`; an id Grid Engine no longer knows (`denied: job "N" does not exist`) is fine. */
async function cancel(id: string): Promise<void> {
  try {
    const out = await sgeCommand('qdel', [id]);
    if (/has deleted job/.test(out)) deletedPending.add(id);
  } catch (err) {
    if (err instanceof SchedulerCommandError && /does not exist/i.test(err.stderr)) return;
    throw err;
  }
}

/**
 * Queue states are letters: `q` queued, `w` waiting, `h` hold, `R` restarted, `r` running,
 * `t` transferring, `s`/`S`/`T` suspended (by the user, the queue, a threshold: read as
 * pending, a run that waits to go on), `d` being deleted, `E` error (Eqw: it stays queued until qdel'd or
 * cleared with `qmod -cj`). Ended states are the words lookUp gives.
 */
function phaseOf(state: string, reason: string, exitCode: number | null): SchedulerPhase {
  const because = reason ? ` (${reason})` : '';
  switch (state) {
    case 'DONE':
      return { phase: 'ended', status: 'completed', reason: undefined };
    case 'FAILED':
      return { phase: 'ended', status: 'error', reason: `Grid Engine job failed with exit code ${exitCode ?? 'unknown'}${because}`, cause: 'user' };
    case 'KILLED_TIME_LIMIT':
      return { phase: 'ended', status: 'canceled', reason: 'Grid Engine ended the job at its time limit (h_rt)' };
    case 'DELETED':
      return { phase: 'ended', status: 'canceled', reason: 'canceled in Grid Engine (qdel) or killed by signal 9' };
    case 'FAILED_START':
      return { phase: 'ended', status: 'error', reason: `Grid Engine could not run the job${because}`, cause: 'system' };
  }
  if (!/^[a-zA-Z]+$/.test(state)) return { phase: 'ended', status: 'error', reason: `Grid Engine job ended in state ${state}${because}`, cause: 'system' };
  if (state.includes('E')) return { phase: 'ended', status: 'error', reason: `Grid Engine job in error state ${state}${reason ? `: ${reason}` : ''}`, cause: 'system' };
  if (state.includes('d')) return { phase: 'ending' };
  if (/[sST]/.test(state)) return { phase: 'pending' };
  if (/[rt]/.test(state)) return { phase: 'running' };
  if (/[qwhR]/.test(state)) return { phase: 'pending' };
  return { phase: 'ended', status: 'error', reason: `Grid Engine job ended in state ${state}${because}`, cause: 'system' };
}

export const sgeScheduler: Scheduler = {
  name: 'sge',
  title: 'Grid Engine',
  scriptName: 'job.qsub',
  submit,
  submitFailure,
  findSubmitted,
  queue,
  pendingReasons,
  lookUp,
  exited,
  cancel,
  phaseOf,
};
