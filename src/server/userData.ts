/**
 * What a user owns on the supervisor, removed before their account is deleted, through the
 * supervisor's own routes acting as that user (the server is trusted to name the caller):
 * schedules first (nothing new fires), then pipelines (a running one is canceled first, its
 * stages' jobs deleted), then every job (an active run is canceled first; its run directory
 * is removed where it lives), then their unused input files.
 */
import { JobvisorError } from '../shared/errors.js';
import type { Caller } from '../shared/types.js';
import type { SupervisorClient } from './supervisorClient.js';

export interface RemovedData {
  jobsDeleted: number;
  schedulesDeleted: number;
  pipelinesDeleted: number;
  uploadsDeleted: number;
}

interface Listed {
  jobs: { jobId: string; status: string }[];
}

/** The user's jobs whose run is active (pending or running). */
export async function activeJobs(supervisor: SupervisorClient, user: Caller): Promise<string[]> {
  const answer = await supervisor.request({ method: 'GET', path: '/jobs?all=0', caller: user });
  return (answer.body as Listed).jobs.filter((j) => j.status === 'pending' || j.status === 'running').map((j) => j.jobId);
}

/** Removes everything the user owns; throws (with what was removed so far in the details) when one removal fails. */
export async function removeUserData(supervisor: SupervisorClient, user: Caller): Promise<RemovedData> {
  const done: RemovedData = { jobsDeleted: 0, schedulesDeleted: 0, pipelinesDeleted: 0, uploadsDeleted: 0 };
  const list = async <T>(path: string, key: string): Promise<T[]> => ((await supervisor.request({ method: 'GET', path, caller: user })).body as Record<string, T[]>)[key] ?? [];
  const remove = async (path: string, ignore: string[] = []): Promise<boolean> => {
    try {
      await supervisor.request({ method: 'DELETE', path, caller: user });
      return true;
    } catch (err) {
      if (err instanceof JobvisorError && ignore.includes(err.code)) return false;
      if (err instanceof JobvisorError) throw new JobvisorError(err.code, `deleting ${user.username}'s data stopped at ${path}: ${err.message}`, { removed: done });
      throw err;
    }
  };
  for (const s of await list<{ scheduleId: string }>('/schedules?all=0', 'schedules')) {
    if (await remove(`/schedules/${encodeURIComponent(s.scheduleId)}`, ['SCHEDULE_NOT_FOUND'])) done.schedulesDeleted++;
  }
  for (const p of await list<{ pipelineId: string }>('/pipelines?all=0', 'pipelines')) {
    if (await remove(`/pipelines/${encodeURIComponent(p.pipelineId)}`, ['PIPELINE_NOT_FOUND'])) done.pipelinesDeleted++;
  }
  for (const j of await list<{ jobId: string }>('/jobs?all=0', 'jobs')) {
    if (await remove(`/jobs/${encodeURIComponent(j.jobId)}`, ['JOB_NOT_FOUND'])) done.jobsDeleted++;
  }
  // An upload still named by a run request goes by itself when its time is up (uploadTtlSeconds).
  for (const u of await list<{ uploadId: string }>('/uploads', 'uploads')) {
    if (await remove(`/uploads/${encodeURIComponent(u.uploadId)}`, ['UPLOAD_NOT_FOUND', 'UPLOAD_IN_USE'])) done.uploadsDeleted++;
  }
  return done;
}

/** Pauses the user's active schedules (they are being disabled); the ids it paused. */
export async function pauseSchedules(supervisor: SupervisorClient, user: Caller): Promise<string[]> {
  const answer = await supervisor.request({ method: 'GET', path: '/schedules?all=0', caller: user });
  const active = ((answer.body as { schedules?: { scheduleId: string; state: string }[] }).schedules ?? []).filter((s) => s.state === 'active');
  const paused: string[] = [];
  for (const s of active) {
    await supervisor.request({ method: 'POST', path: `/schedules/${encodeURIComponent(s.scheduleId)}/pause`, caller: user, body: {} });
    paused.push(s.scheduleId);
  }
  return paused;
}
