/**
 * The kept answers of `GET /jobs/:jobId` (src/supervisor/jobAnswers.ts): the same bytes while
 * nothing the view is made of changed, a new answer after each kind of change; and the job
 * store's `runsVersion`, which every write to a job's history changes (a real SQLite database
 * in memory).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JobView } from '../src/shared/api.js';
import type { ComputeJob } from '../src/supervisor/computeJob.js';
import { JobAnswers } from '../src/supervisor/jobAnswers.js';
import type { JobRow } from '../src/supervisor/store.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';

function row(over: Partial<JobRow> = {}): JobRow {
  return {
    id: 'job1', user: 'alice', jobKey: 'k', template: 'quick', target: 'local', driver: 'local', size: 'sequential', serial: 1, status: 'completed',
    parameters: {}, options: null, progress: null, progressMessage: null, reason: null, queuedAt: 1000, startedAt: null, endedAt: null, updatedAt: 0,
    logLines: 0, agentId: null, pid: null, sent: false, externalId: null, logOffset: 0, scheduler: null, phase: null, phaseTimes: {}, inputs: [],
    cause: null, notify: null, callbackUrl: null, stale: null, runDir: null, files: null, bytes: null, ownerRole: null, scheduleId: null, scheduleName: null,
    ...over,
  } as JobRow;
}

/** What JobAnswers reads of a ComputeJob. */
type FakeJob = Pick<ComputeJob, 'row' | 'waitingFor' | 'queuePosition' | 'awaitingLogin'>;

describe('kept job answers', () => {
  let builds = 0;
  let runsVersion: number | undefined = 0;
  const view = (job: FakeJob) => () => {
    builds++;
    return { jobId: job.row.id, status: job.row.status, waitingFor: job.waitingFor, queuePosition: job.queuePosition, build: builds } as unknown as JobView;
  };
  const setup = () => {
    builds = 0;
    runsVersion = 0;
    const answers = new JobAnswers(() => runsVersion);
    const job: FakeJob = { row: row(), waitingFor: null, queuePosition: null, awaitingLogin: false };
    const answer = (pipelineId?: string) => answers.answer(job as ComputeJob, pipelineId, view(job));
    return { job, answer };
  };

  it('answers the same bytes, built once, while nothing changed', () => {
    const { answer } = setup();
    const first = answer();
    expect(JSON.parse(first.toString('utf8'))).toEqual({ job: { jobId: 'job1', status: 'completed', waitingFor: null, queuePosition: null, build: 1 } });
    expect(answer()).toBe(first);
    expect(answer()).toBe(first);
    expect(builds).toBe(1);
  });

  it('builds a new answer after each kind of change: row, waitingFor, queue place, login, pipeline, history', () => {
    const { job, answer } = setup();
    answer();
    const changes: [string, () => void][] = [
      ['a new row', () => (job.row = { ...job.row, status: 'canceled' })],
      ['waitingFor', () => (job.waitingFor = 'waiting for a CPU slot')],
      ['queue place', () => (job.queuePosition = 3)],
      ['login', () => (job.awaitingLogin = true)],
      ['history', () => (runsVersion = (runsVersion ?? 0) + 1)],
    ];
    for (const [what, change] of changes) {
      const before = builds;
      change();
      const after = JSON.parse(answer().toString('utf8')) as { job: { build: number; status: string; waitingFor: string | null; queuePosition: number | null } };
      expect([what, builds]).toEqual([what, before + 1]);
      expect(after.job.build).toBe(builds);
      answer();
      expect([what, builds]).toEqual([what, before + 1]);
    }
    expect(JSON.parse(answer().toString('utf8')).job).toMatchObject({ status: 'canceled', waitingFor: 'waiting for a CPU slot', queuePosition: 3 });
    const before = builds;
    answer('pipe1');
    expect(builds).toBe(before + 1);
    answer('pipe1');
    expect(builds).toBe(before + 1);
    answer();
    expect(builds).toBe(before + 2);
  });

  it('keeps nothing for a store that does not count its history writes', () => {
    const { answer } = setup();
    runsVersion = undefined;
    answer();
    answer();
    expect(builds).toBe(2);
  });
});

describe('the job store counts the writes to job histories', () => {
  let store: SqliteJobStore | undefined;
  afterEach(() => store?.close());

  it('changes runsVersion when a run is archived, a batch saved, an earlier run’s files marked, a job deleted; not on a save of the current run', () => {
    store = new SqliteJobStore(':memory:', () => ({ target: 'local', driver: 'local', size: 'sequential' }));
    const s = store;
    const seen = [s.runsVersion];
    const step = (fn: () => void) => {
      fn();
      seen.push(s.runsVersion);
    };
    const first = row();
    step(() => s.saveJob(first));
    const second = row({ serial: 2, status: 'pending' });
    step(() => s.archiveAndSave(first, second));
    expect(s.history('job1').map((r) => r.serial)).toEqual([1]);
    step(() => s.saveJob({ ...second, status: 'running' }));
    step(() => s.saveBatch([{ previous: { ...second, status: 'completed' }, next: row({ serial: 3, status: 'pending' }) }]));
    step(() => s.saveRunFiles('job1', 1, { files: 'archived' }));
    step(() => s.deleteJob('job1'));
    const changed = seen.slice(1).map((v, i) => v !== seen[i]);
    expect(changed).toEqual([false, true, false, true, true, true]);
  });
});
