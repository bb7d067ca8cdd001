/**
 * Following one run until it ends, for `run --wait` and `watch`: from the event stream (opened
 * before the state is read, so no change falls between them), with a status read after every
 * reconnect or `resync`, and a slow poll as a safety net. Where no event stream can be had (a
 * quota of streams, an old server) it polls the job as `nextRequestMs` advises.
 */
import type { JobView, RunSummary } from '../shared/api.js';
import type { Status } from '../shared/types.js';
import { sleep } from '../shared/retry.js';
import { CliError, EXIT } from './exitCodes.js';
import { EventStream, type StreamEvent } from './events.js';
import type { ApiClient } from './http.js';

/** How a followed run ended: its status and reason, and the job as last seen. */
export interface RunEnd {
  serial: number;
  status: Status;
  reason: string | null;
  job: JobView;
}

export interface RunWatcher {
  /** Every change of the followed run, while it is active and once when it ended. */
  onUpdate(job: JobView): void;
}

/**
 * Whether a run is still going (`pending`, `running`): shared/types.ts's isActive, written out
 * here because that module loads zod, which would add a third of a second to every command.
 */
export function isActive(status: Status): boolean {
  return status === 'pending' || status === 'running';
}

/** The exit code of a run's end. */
export function exitCodeOf(status: Status): number {
  switch (status) {
    case 'completed':
      return EXIT.ok;
    case 'error':
      return EXIT.runError;
    case 'canceled':
      return EXIT.runCanceled;
    case 'missing':
    case 'purged':
      return EXIT.runOther;
    case 'pending':
    case 'running':
      return EXIT.internal;
    default: {
      const _: never = status;
      return EXIT.internal;
    }
  }
}

/** The run `serial` of a job view: the current one, or one of its history (undefined: not there). */
function runOf(job: JobView, serial: number): RunEnd | undefined {
  if (job.serial === serial) return { serial, status: job.status, reason: job.reason, job };
  const h: RunSummary | undefined = job.history.find((r) => r.serial === serial);
  return h ? { serial, status: h.status, reason: h.reason, job } : undefined;
}

const SAFETY_POLL_MS = 30_000;

/** Opens the event stream, or undefined when the server will not give one (then the caller polls). */
export async function openEvents(client: ApiClient, onEvent: (e: StreamEvent) => void): Promise<EventStream | undefined> {
  const stream = new EventStream(client, onEvent);
  try {
    await stream.open();
    return stream;
  } catch (err) {
    if (err instanceof CliError && err.exitCode === EXIT.refused) return undefined;
    throw err;
  }
}

/**
 * An event stream opened before the run it is for exists (run --wait): it keeps the events
 * that come until the run's id is known, then hands them, and the ones after, to a listener.
 */
export class EarlyEvents {
  private buffered: StreamEvent[] = [];
  private listener: ((e: StreamEvent) => void) | undefined;
  private stream: EventStream | undefined;

  static async open(client: ApiClient): Promise<EarlyEvents> {
    const early = new EarlyEvents();
    early.stream = await openEvents(client, (e) => (early.listener ? early.listener(e) : early.buffered.push(e)));
    return early;
  }

  /** The stream (undefined: the server gives none), now delivering to `listener`. */
  handTo(listener: (e: StreamEvent) => void): EventStream | undefined {
    this.listener = listener;
    for (const e of this.buffered.splice(0)) listener(e);
    return this.stream;
  }

  close(): void {
    this.stream?.close();
  }
}

/**
 * Follows run `serial` of `jobId` until it ends, with the events of `early` (opened before the
 * run was asked for) or of a stream it opens.
 */
export async function followRun(client: ApiClient, jobId: string, serial: number, watcher: RunWatcher, early?: EarlyEvents): Promise<RunEnd> {
  let wake: () => void = () => undefined;
  let refetch = true;
  let deleted = false;
  let latest: JobView | undefined;
  /** The view last shown to the watcher. */
  let shown: JobView | undefined;
  const onEvent = (e: StreamEvent) => {
    if (e.type === 'job' && e.job.jobId === jobId) {
      if (e.job.serial === serial) latest = e.job;
      else if (e.job.serial > serial) refetch = true;
    } else if (e.type === 'progress' && e.jobId === jobId && e.serial === serial) {
      // Only the progress changed: the view shown (or about to be), with it.
      const base = latest ?? shown;
      if (base) latest = { ...base, progress: e.progress, progressMessage: e.progressMessage, updatedAt: e.updatedAt };
      else refetch = true;
    } else if (e.type === 'deleted' && e.jobId === jobId) deleted = true;
    else if (e.type === 'resync' || e.type === 'reconnected') refetch = true;
    wake();
  };
  let stream: EventStream | undefined;
  if (early) stream = early.handTo(onEvent);
  else stream = await openEvents(client, onEvent);
  let failed: unknown;
  stream?.ended.catch((err: unknown) => {
    failed = err;
    wake();
  });
  let lastPoll = 0;
  let pollMs = 1000;
  try {
    for (;;) {
      if (failed !== undefined) throw failed;
      if (deleted) throw new CliError('JOB_DELETED', `job ${jobId} was deleted`, EXIT.runOther);
      if (refetch || !stream || Date.now() - lastPoll > SAFETY_POLL_MS) {
        refetch = false;
        lastPoll = Date.now();
        const job = await readJob(client, jobId, stream !== undefined);
        if (!job) continue; // the server is away; the event stream reconnects (or gives up) on its own
        const run = runOf(job, serial);
        if (!run) throw new CliError('RUN_NOT_FOUND', `job ${jobId} has no run ${serial}`, EXIT.refused);
        pollMs = job.nextRequestMs ?? 1000;
        if (job.serial === serial) {
          if (!latest || latest.updatedAt <= job.updatedAt) latest = job;
        } else if (!isActive(run.status)) return endOf(run, watcher);
      }
      if (latest) {
        const job = latest;
        latest = undefined;
        shown = job;
        watcher.onUpdate(job);
        if (!isActive(job.status)) return { serial, status: job.status, reason: job.reason, job };
      }
      const pause = new AbortController();
      wake = () => pause.abort();
      await sleep(stream ? SAFETY_POLL_MS : pollMs, pause.signal);
      if (!stream) refetch = true;
    }
  } finally {
    stream?.close();
  }
}

/** The job; undefined when the server cannot be reached and `tolerate` (an event stream is there to reconnect). */
async function readJob(client: ApiClient, jobId: string, tolerate: boolean): Promise<JobView | undefined> {
  try {
    return (await client.json<{ job: JobView }>('GET', `/api/jobs/${encodeURIComponent(jobId)}`)).job;
  } catch (err) {
    if (tolerate && err instanceof CliError && err.exitCode === EXIT.connection) return undefined;
    throw err;
  }
}

function endOf(run: RunEnd, watcher: RunWatcher): RunEnd {
  // The run was replaced by a newer one: report its end as the job's history has it.
  watcher.onUpdate({ ...run.job, serial: run.serial, status: run.status, reason: run.reason, progress: null, nextRequestMs: null });
  return run;
}
