/**
 * Grid Engine (SGE 8.1.9, Debian's gridengine packages; Son of Grid Engine and its kin answer
 * alike) from the login node: `qsub -terse`, ONE `qstat -u USER -xml` for all of the user's jobs,
 * `qstat -j` for why jobs pend, `qacct -j` for a job that left the queue, `qdel`. Bundled into
 * the agent: imports from src/shared only. The facts below were checked on a real single-node
 * cluster (src/drivers/sge/test-cluster.sh) with jobs that ended, failed, ran past h_rt, were
 * deleted running and pending, and went to Eqw.
 */
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
  const out = await schedulerCommand('qsub', ['-terse', scriptPath], { cwd: runDir });
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
    out = await schedulerCommand('qstat', ['-j', ids.join(',')], { countAs: 'qstat -j' });
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
  const xml = await schedulerCommand('qstat', ['-u', os.userInfo().username, '-xml']);
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
    out = await schedulerCommand('qstat', ['-j', ids.join(',')], { countAs: 'qstat -j' });
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
    out = await schedulerCommand('qacct', ['-j', id]);
  } catch (err) {
    if (!(err instanceof SchedulerCommandError && /not found|no such file/i.test(err.stderr))) throw err;
    out = '';
  }
  const record = out.split(/^=+\s*$/m).filter((r) => /^jobnumber\s/m.test(r)).at(-1);
  if (!record) return deletedPending.has(id) ? { state: 'DELETED', reason: 'deleted while pending (qdel)', exitCode: null } : undefined;
  const field = (name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(record)?.[1]?.trim() ?? '';
  return endedJob(field('failed'), field('exit_status'));
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
    const out = await schedulerCommand('qdel', [id]);
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
  cancel,
  phaseOf,
};
