/**
 * Starting and canceling runs, as buttons anywhere on the page do it: a run or cancel that needs
 * a login to its target (428 LOGIN_REQUIRED) opens that target's login dialog and, once logged
 * in, is tried again.
 */
import { api, ApiError } from './api.js';
import { notify, notifyError } from './notify.js';
import { openTargetLogin } from './targetLogin.js';
import { knownTargets, loadTargets, targetTitle } from './targets.js';
import type { JobView, RunRequest, Template } from './types.js';

/** The target a run request goes to: the one it names, else the template's default. */
async function targetOfRun(body: RunRequest): Promise<string | undefined> {
  if (body.target !== undefined) return body.target;
  const templates = await api.templates().catch((): Template[] => []);
  return templates.find((t) => t.name === body.template)?.targets[0];
}

/** Starts a run; throws the API's error (other than a login the user gave) for the caller to show. */
export async function startRun(body: RunRequest): Promise<JobView> {
  for (;;) {
    try {
      return await api.run(body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'LOGIN_REQUIRED') {
        const target = await targetOfRun(body);
        if (target === undefined) throw err;
        if (!knownTargets()) await loadTargets();
        const title = targetTitle(target);
        const ok = await openTargetLogin(target, `This run goes to ${title} and needs your login there. After you log in, it starts.`);
        if (ok) continue;
        throw new ApiError(428, 'LOGIN_REQUIRED', `The run was not started: it needs your login to ${title}.`);
      }
      throw err;
    }
  }
}

/** Cancels the job's current run (named by its serial, so a newer run is never canceled by mistake). */
export async function cancelRun(job: JobView, button?: HTMLButtonElement): Promise<JobView | undefined> {
  const label = button?.textContent;
  if (button) {
    button.disabled = true;
    button.textContent = 'Canceling…';
  }
  try {
    for (;;) {
      try {
        return await api.cancel(job.jobId, job.serial);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'LOGIN_REQUIRED') {
          if (!knownTargets()) await loadTargets();
          if (await openTargetLogin(job.target, `Canceling a run on ${targetTitle(job.target)} needs your login there.`)) continue;
          return undefined;
        }
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof ApiError && err.code === 'JOB_NOT_ACTIVE') notify(`${job.jobKey}: the run had already ended; nothing to cancel.`, { timeoutMs: 6000 });
    else if (err instanceof ApiError && err.code === 'STALE_SERIAL') notify(`${job.jobKey}: a newer run has started meanwhile; it was not canceled.`, { kind: 'error' });
    else notifyError(err, `Canceling ${job.jobKey}`);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
      if (label !== undefined && label !== null) button.textContent = label;
    }
  }
}
