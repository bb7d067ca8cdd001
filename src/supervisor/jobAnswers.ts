/**
 * The answer of `GET /jobs/:jobId`, `{"job": <its view, with its history>}`, as JSON bytes kept
 * per job and sent again while nothing it is made of changed. Building it reads the job's
 * history from the database and writes the whole view as JSON: with many clients polling one
 * job, that was most of what the supervisor did per request.
 *
 * A kept answer is the same as a new one as long as its inputs are:
 * - the job's row, by identity: a ComputeJob never changes its row in place, every change
 *   (commit, a batch's hold) puts a new row object in its place;
 * - what the job holds outside its row and shows in its view: waitingFor, queuePosition,
 *   awaitingLogin;
 * - the job's pipeline (pipelineId);
 * - its history: the store's `runsVersion`, which every write to any job's history changes.
 * The target's titles come from the settings, fixed while the supervisor runs. A store that
 * does not count its history writes keeps nothing (every answer is built).
 */
import type { JobView } from '../shared/api.js';
import type { ComputeJob } from './computeJob.js';
import type { JobRow } from './store.js';

interface Kept {
  row: JobRow;
  waitingFor: string | null;
  queuePosition: number | null;
  awaitingLogin: boolean;
  pipelineId: string | undefined;
  runsVersion: number;
  bytes: Buffer;
}

export class JobAnswers {
  /** Per job held in memory: one that is pruned (JobService.pruneEnded) takes its answer with it. */
  private readonly kept = new WeakMap<ComputeJob, Kept>();

  constructor(private readonly runsVersion: () => number | undefined) {}

  /** `{"job": view}` as JSON bytes; `view` builds the view when no kept answer is still true. */
  answer(job: ComputeJob, pipelineId: string | undefined, view: () => JobView): Buffer {
    const runsVersion = this.runsVersion();
    const k = this.kept.get(job);
    if (
      k !== undefined &&
      runsVersion !== undefined &&
      k.row === job.row &&
      k.waitingFor === job.waitingFor &&
      k.queuePosition === job.queuePosition &&
      k.awaitingLogin === job.awaitingLogin &&
      k.pipelineId === pipelineId &&
      k.runsVersion === runsVersion
    ) {
      return k.bytes;
    }
    const { row, waitingFor, queuePosition, awaitingLogin } = job;
    const bytes = Buffer.from(JSON.stringify({ job: view() }));
    if (runsVersion !== undefined) this.kept.set(job, { row, waitingFor, queuePosition, awaitingLogin, pipelineId, runsVersion, bytes });
    return bytes;
  }
}
