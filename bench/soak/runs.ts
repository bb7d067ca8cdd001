/**
 * The soak's clients: lanes that each submit a run, follow it to its end and read its log, one
 * after another; logins to the cluster targets (password + one-time code) when a target needs
 * one. A submit that gets no answer, or 502/503 while the supervisor restarts, is not simply
 * sent again: a run with that job key would replace the first one if it was queued after all,
 * so the soak first looks for the job by its key and adopts it when it is there.
 */
import type { JobView } from '../../src/shared/api.js';
import { nextCode, type ClusterInfo } from '../../test/helpers/cluster.js';
import { errorCode, sleep, type Api } from './jobvisor.js';
import type { Run } from './ledger.js';
import type { Random } from './faults.js';

const TERMINAL = new Set(['completed', 'error', 'canceled', 'missing', 'purged']);
const NO_ANSWER = new Set([0, 502, 503, 504]);

export class Logins {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly lastAt = new Map<string, number>();
  count = 0;
  failures: string[] = [];

  constructor(
    private readonly api: Api,
    private readonly clusters: Map<string, ClusterInfo>,
    private readonly note: (msg: string) => void,
  ) {}

  /** Logs in to a cluster target (once at a time per target). */
  ensure(target: string): Promise<void> {
    const info = this.clusters.get(target);
    if (!info) return Promise.resolve();
    let p = this.pending.get(target);
    if (!p) {
      p = this.login(target, info).finally(() => this.pending.delete(target));
      this.pending.set(target, p);
    }
    return p;
  }

  /** A run waits for a login: log in, unless a login happened in the last 20 s. */
  nudge(target: string): void {
    if (this.pending.has(target) || Date.now() - (this.lastAt.get(target) ?? 0) < 20_000) return;
    this.note(`${target}: a run waits for a login; logging in`);
    void this.ensure(target);
  }

  private async login(target: string, info: ClusterInfo): Promise<void> {
    for (let attempt = 1; attempt <= 20; attempt++) {
      this.lastAt.set(target, Date.now());
      const r = await this.api.call(`POST`, `/api/targets/${target}/login`, { username: info.user, password: info.password, otp: nextCode(info) });
      if (r.status === 200) {
        this.count++;
        this.lastAt.set(target, Date.now());
        return;
      }
      this.failures.push(`${target}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      await sleep(3000);
    }
    this.note(`${target}: login failed 20 times; last: ${this.failures[this.failures.length - 1]}`);
  }
}

export interface LaneDeps {
  api: Api;
  logins: Logins;
  rng: Random;
  /** Submissions stop at this time; following runs stops at `hardDeadline()`. */
  submitUntil: number;
  hardDeadline: () => number;
  newRun: (target: string) => Run;
}

/** Submits, follows and reads runs on one target one after another until `submitUntil`. */
export async function lane(d: LaneDeps, target: string): Promise<void> {
  while (Date.now() < d.submitUntil) {
    const run = d.newRun(target);
    await submit(d, run);
    if (!run.jobId) {
      await sleep(2000);
      continue;
    }
    await follow(d, run);
  }
}

async function submit(d: LaneDeps, run: Run): Promise<void> {
  const body = { template: 'sleep', target: run.target, size: run.size, jobKey: run.key, parameters: { seconds: run.seconds, lines: run.lines } };
  let uncertain = false;
  for (let attempt = 1; attempt <= 300 && Date.now() < d.hardDeadline(); attempt++) {
    if (uncertain) {
      // The run just submitted is among the newest: one page of the most a page holds.
      const l = await d.api.call<{ jobs: JobView[] }>('GET', '/api/jobs?limit=500');
      if (l.status !== 200) {
        await sleep(1000);
        continue;
      }
      const found = l.body.jobs.find((j) => j.jobKey === run.key);
      if (found) {
        Object.assign(run, { jobId: found.jobId, serial: found.serial, status: found.status, adopted: true });
        return;
      }
      uncertain = false;
    }
    run.submits++;
    const r = await d.api.call<{ job: JobView }>('POST', '/api/jobs', body);
    if (r.status === 200) {
      Object.assign(run, { jobId: r.body.job.jobId, serial: r.body.job.serial, status: r.body.job.status });
      return;
    }
    const code = errorCode(r);
    if (code === 'LOGIN_REQUIRED') await d.logins.ensure(run.target);
    else if (NO_ANSWER.has(r.status) || code === 'SUPERVISOR_UNAVAILABLE') {
      uncertain = true;
      await sleep(1000);
    } else if (r.status === 429) await sleep(2000);
    else {
      run.status = `submit refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
      return;
    }
  }
  run.status = `submit gave up after ${run.submits} tries`;
}

/** Polls the run until it ends (or the hard deadline), then reads its whole log. */
async function follow(d: LaneDeps, run: Run): Promise<void> {
  let notFound = 0;
  while (Date.now() < d.hardDeadline()) {
    const r = await d.api.call<{ job: JobView }>('GET', `/api/jobs/${run.jobId}`);
    if (r.status === 200) {
      notFound = 0;
      run.view = r.body.job;
      run.status = r.body.job.status;
      if (TERMINAL.has(run.status)) break;
      if (r.body.job.loginRequired) d.logins.nudge(run.target);
    } else if (r.status === 404 && ++notFound >= 5) {
      run.unknown = true;
      return;
    }
    await sleep(1000);
  }
  if (TERMINAL.has(run.status)) run.logText = await readLog(d.api, run);
}

export async function readLog(api: Api, run: Run): Promise<string | undefined> {
  let text = '';
  let offset = 0;
  for (let attempt = 0; attempt < 120; ) {
    const r = await api.call<{ nextOffset: number; size: number; text: string }>('GET', `/api/jobs/${run.jobId}/log?offset=${offset}&limit=1048576&serial=${run.serial}`);
    if (r.status !== 200) {
      attempt++;
      await sleep(1000);
      continue;
    }
    text += r.body.text;
    if (r.body.nextOffset >= r.body.size || r.body.nextOffset === offset) return text;
    offset = r.body.nextOffset;
  }
  return undefined;
}

export const isTerminal = (status: string) => TERMINAL.has(status);
