/**
 * Starting and canceling runs, as buttons anywhere on the page do it: a run or cancel that needs
 * a cluster login (428 LOGIN_REQUIRED) opens the cluster login dialog and, once logged in, is
 * tried again.
 */
import { api, ApiError } from './api.js';
import { openClusterLogin } from './cluster.js';
import { notify, notifyError } from './notify.js';
import type { JobView, RunRequest } from './types.js';

/** Starts a run; throws the API's error (other than a login the user gave) for the caller to show. */
export async function startRun(body: RunRequest): Promise<JobView> {
  for (;;) {
    try {
      return await api.run(body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'LOGIN_REQUIRED') {
        const status = await api.clusterStatus().catch(() => undefined);
        const ok = await openClusterLogin('This run goes to the Slurm cluster and needs your cluster login. After you log in, it starts.', status);
        if (ok) continue;
        throw new ApiError(428, 'LOGIN_REQUIRED', 'The run was not started: it needs a cluster login.');
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
          const status = await api.clusterStatus().catch(() => undefined);
          if (await openClusterLogin('Canceling a run on the Slurm cluster needs your cluster login.', status)) continue;
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
