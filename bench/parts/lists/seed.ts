/**
 * Seeds a jobvisor data folder with many jobs for the lists bench: the supervisor made the
 * schema (it was started once and stopped), then rows go in with better-sqlite3 in one
 * transaction, in the real schema: `jobs` jobs, each with `runsPerJob - 1` earlier runs in
 * job_runs, spread over users, templates, targets and ended statuses (no active one: a
 * restarted supervisor would take those back and run them).
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';

export const SEED_USERS = Array.from({ length: 10 }, (_, i) => `user${i}`);
export const SEED_TEMPLATES = ['heat1d', 'pywave', 'wordfreq', 'linecount', 'sleep', 'quick'];
/** Targets of the seeded jobs: the bench configures them all (driver local), as a site configures the targets its jobs ran on. */
export const SEED_TARGETS = ['local', 'big', 'gpu'];
export const SEED_TARGETS_SETTING = JSON.stringify(SEED_TARGETS.map((name) => ({ name, driver: 'local' })));
/** Ended statuses with their weights (out of 100). */
const STATUS_WEIGHTS: [string, number][] = [
  ['completed', 70],
  ['error', 15],
  ['canceled', 10],
  ['missing', 3],
  ['purged', 2],
];

function statusOf(n: number): string {
  let acc = 0;
  for (const [status, w] of STATUS_WEIGHTS) if (n % 100 < (acc += w)) return status;
  return 'completed';
}

/** Inserts the jobs and runs; returns the time span of queued_at [first, last] in ms. */
export function seedJobs(file: string, jobs: number, runsPerJob: number): { first: number; last: number } {
  const db = new Database(file);
  const now = Date.now();
  const first = now - 365 * 24 * 3600_000;
  const step = Math.floor((now - first) / jobs);
  const insertJob = db.prepare(`INSERT INTO jobs (id, user, job_key, template, target, driver, size, serial, status, parameters, reason, queued_at, started_at, ended_at, updated_at, log_lines, sent)
    VALUES (?, ?, ?, ?, ?, 'local', 'sequential', ?, ?, ?, ?, ?, ?, ?, ?, 20, 1)`);
  const insertRun = db.prepare(`INSERT INTO job_runs (job_id, serial, status, template, target, size, parameters, reason, queued_at, started_at, ended_at)
    VALUES (?, ?, ?, ?, ?, 'sequential', ?, NULL, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < jobs; i++) {
      const id = randomBytes(8).toString('hex');
      const user = SEED_USERS[i % SEED_USERS.length]!;
      const template = SEED_TEMPLATES[(i >> 2) % SEED_TEMPLATES.length]!;
      const target = SEED_TARGETS[(i >> 3) % SEED_TARGETS.length]!;
      const status = statusOf(i * 7 + (i >> 5));
      const parameters = JSON.stringify({ n: i % 1000, steps: 50, label: `run ${i}` });
      const queued = first + i * step;
      insertJob.run(id, user, `${template}-${i}`, template, target, runsPerJob, status, parameters, status === 'error' ? 'exit code 1' : null, queued, queued + 100, queued + 5_000, queued + 5_000);
      for (let s = 1; s < runsPerJob; s++) {
        const q = queued - (runsPerJob - s) * 60_000;
        insertRun.run(id, s, 'completed', template, target, parameters, q, q + 100, q + 5_000);
      }
    }
  })();
  db.close();
  return { first, last: first + (jobs - 1) * step };
}
