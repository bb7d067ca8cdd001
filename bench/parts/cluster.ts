/**
 * Target 7, clusters: a Slurm (and a Grid Engine) run, submit -> completed as the user sees it
 * (POST /api/jobs, then GET /api/jobs/:id every 20 ms), through jobvisor with the target's
 * DEFAULT poll settings, against the raw scheduler: the same batch script (the one jobvisor
 * wrote for its run, in a fresh folder) submitted over the same SSH login with `sbatch`
 * (`qsub`) and watched by `squeue` (`qstat -j`) every 20 ms until it leaves the queue, all in
 * one SSH command. Interleaved, medians of `repeats` (at least 5) of each. Where Grid Engine's
 * commands are Debian's wrapper scripts, the raw peer runs the programs behind them, as jobvisor
 * does: the same commands at the same cost.
 * Second row per scheduler: 100 active runs of one user on one target (2 running, 98 queued),
 * and the status queries the agent made over 4 poll intervals once they settled (the agent's
 * own counts, GET /api/targets/:t/agent-log): one per interval whatever the number of runs.
 *
 * Uses the test clusters of src/drivers/{slurm,sge}/test-cluster.sh (their login user, with
 * its key) when they are up; their rows are skipped, saying why, when not. Everything it makes
 * on the cluster is in ~/jobvisor-bench of that user, removed at the end with its agents and jobs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SshSession } from '../../src/drivers/ssh/session.js';
import { median, type BenchContext, type BenchPart, type BenchRow } from '../table.js';
import { BenchJobvisor, ROOT, sleep, type Client } from './targets/jobvisor.js';

type Kind = 'slurm' | 'sge';

interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  knownHosts: string;
  privateKeyFile: string;
}

interface Scheduler {
  kind: Kind;
  title: string;
  scriptName: string;
  /** The status query the agent makes once per interval, as its counts name it. */
  statusCommand: string;
  /** Answers when the scheduler is up (from the login node). */
  check: string;
  /** Submits ./<script> and waits, asking every 20 ms, until the job left the queue. */
  raw: (scriptName: string) => string;
  /** Prints shell lines that `raw` runs after (an environment worked out once, outside the clock). */
  rawSetup?: string;
  cancel: (ids: string[]) => string;
}

const SCHEDULERS: Scheduler[] = [
  {
    kind: 'slurm',
    title: 'Slurm',
    scriptName: 'job.sbatch',
    statusCommand: 'squeue',
    check: 'sinfo --noheader --format=%a',
    raw: (s) => `id=$(sbatch --parsable ${s}) && while [ -n "$(squeue --noheader --jobs $id --format=%i 2>/dev/null)" ]; do sleep 0.02; done`,
    cancel: (ids) => `scancel ${ids.join(' ')}`,
  },
  {
    kind: 'sge',
    title: 'Grid Engine',
    scriptName: 'job.qsub',
    statusCommand: 'qstat',
    check: 'qstat -u "$USER" >/dev/null',
    // The programs themselves when qsub is Debian's wrapper (as jobvisor runs them, src/drivers/sge/scheduler.ts
    // resolveDirect: the wrapper costs ~0.3 s a call); SGE_ROOT/CELL/ARCH are worked out before the clock starts.
    rawSetup: 'if readlink -f "$(command -v qsub)" | grep -q gridengine-wrapper && [ -x /usr/lib/gridengine/qsub ]; then ' +
      'echo "export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default} SGE_ARCH=$(/usr/share/gridengine/util/arch); Q=/usr/lib/gridengine/"; ' +
      'else echo "Q="; fi',
    raw: (s) => `id=$(\${Q}qsub -terse ${s}) && while \${Q}qstat -j $id >/dev/null 2>&1; do sleep 0.02; done`,
    cancel: (ids) => `qdel ${ids.join(',')}`,
  },
];

const REMOTE_DIR = 'jobvisor-bench';
const TRIVIAL = { template: 'sleep', parameters: { seconds: 0, lines: 1 } };
const DEFAULT_POLL_MS = 5000;
const ACTIVE_RUNS = 100;

const targetName = (k: Kind) => `bench-${k}`;

function clusterInfo(kind: Kind): ClusterInfo {
  return JSON.parse(execFileSync('bash', [path.join(ROOT, 'src', 'drivers', kind, 'test-cluster.sh'), 'info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as ClusterInfo;
}

/** An SSH login to the cluster as its test user, with the scheduler answering; else why not. */
async function reach(s: Scheduler): Promise<{ info: ClusterInfo; ssh: SshSession } | string> {
  let info: ClusterInfo;
  try {
    info = clusterInfo(s.kind);
  } catch (err) {
    return `the ${s.title} test cluster is not set up (src/drivers/${s.kind}/test-cluster.sh info: ${(err as Error).message.split('\n')[0]})`;
  }
  let ssh: SshSession;
  try {
    ssh = await SshSession.open({ host: info.host, port: info.port, knownHosts: [info.knownHosts], timeoutMs: 10_000 }, { username: info.user, privateKey: readFileSync(info.privateKeyFile, 'utf8') });
  } catch (err) {
    return `the ${s.title} test cluster's sshd does not take its key: ${(err as Error).message}`;
  }
  const r = await ssh.exec(s.check);
  if (r.code !== 0) {
    ssh.end();
    return `${s.title} does not answer (${s.check}: ${r.stderr.trim() || r.stdout.trim()})`;
  }
  return { info, ssh };
}

function target(s: Scheduler, info: ClusterInfo) {
  // Poll settings are the defaults: that is what the row measures.
  return { name: targetName(s.kind), driver: s.kind, host: info.host, port: info.port, knownHosts: [info.knownHosts], remoteDir: REMOTE_DIR, sizes: { sequential: { maxTimeSeconds: 600 }, parallel: { maxTimeSeconds: 600 } } };
}

async function exec(ssh: SshSession, command: string): Promise<string> {
  const r = await ssh.exec(command);
  if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function jobvisorRun(user: Client, s: Scheduler, key: string): Promise<{ ms: number; jobId: string; steps: string }> {
  const t0 = performance.now();
  const at0 = Date.now();
  const job = await user.run({ ...TRIVIAL, target: targetName(s.kind), jobKey: key });
  const done = await user.waitJob(job.jobId, (j) => !['pending', 'running'].includes(j.status), 120_000);
  if (done.status !== 'completed') throw new Error(`the ${s.title} run ended ${done.status}: ${done.reason ?? ''}`);
  const ms = performance.now() - t0;
  const rel = (t: number | null) => (t === null ? '-' : `${((t - at0) / 1000).toFixed(2)}`);
  return { ms, jobId: job.jobId, steps: `started ${rel(done.startedAt)} s, ended ${rel(done.endedAt)} s, seen ${(ms / 1000).toFixed(2)} s` };
}

/** jobvisor's batch script of a run, copied into a fresh folder with its paths changed to that folder. */
async function rawCopy(ssh: SshSession, s: Scheduler, jobId: string, i: number): Promise<string> {
  const runDir = (await exec(ssh, `cd ${REMOTE_DIR} && pwd && ls -d runs/${jobId}/*/ | head -1`)).trim().split('\n');
  const from = `${runDir[0]}/${runDir[1]!.replace(/\/$/, '')}`;
  const to = `${runDir[0]}/raw/${i}`;
  await exec(ssh, `mkdir -p ${to} && sed 's#${from}#${to}#g' ${from}/${s.scriptName} > ${to}/${s.scriptName}`);
  return to;
}

async function rawRun(ssh: SshSession, s: Scheduler, dir: string, setup: string): Promise<number> {
  const t0 = performance.now();
  await exec(ssh, `${setup}\ncd ${dir} && ${s.raw(s.scriptName)}`);
  return performance.now() - t0;
}

async function statusQueries(user: Client, s: Scheduler): Promise<number> {
  const r = await user.request<{ schedulerCommands: Record<string, number> }>('GET', `/api/targets/${targetName(s.kind)}/agent-log`);
  if (r.status !== 200) throw new Error(`agent-log: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.schedulerCommands[s.statusCommand] ?? 0;
}

async function pool<T>(items: T[], concurrency: number, task: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** 100 runs of one user, queued and running; the status queries over 4 intervals once they settled. */
async function manyRuns(ctx: BenchContext, user: Client, ssh: SshSession, s: Scheduler, ids: string[]): Promise<BenchRow> {
  const count = ctx.quick ? 20 : ACTIVE_RUNS;
  const jobIds: string[] = [];
  await pool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const job = await user.run({ template: 'sleep', parameters: { seconds: 300, lines: 0 }, target: targetName(s.kind), jobKey: `${s.kind}-many-${i}` });
    jobIds.push(job.jobId);
  });
  for (const jobId of jobIds) {
    const j = await user.waitJob(jobId, (v) => v.externalId !== null || !['pending', 'running'].includes(v.status), 60_000, 100);
    if (j.externalId) ids.push(j.externalId);
  }
  // Once nothing changes, the delay grows to the interval: 0.25 s ... 5 s takes about 13 s.
  const settleMs = 15_000;
  ctx.log(`${s.kind}: ${ids.length} runs submitted; ${settleMs / 1000} s to settle, then ${4 * DEFAULT_POLL_MS / 1000} s counted`);
  await sleep(settleMs);
  const windowMs = 4 * DEFAULT_POLL_MS - 100;
  const before = await statusQueries(user, s);
  await sleep(windowMs);
  const after = await statusQueries(user, s);
  const perInterval = (after - before) / 4;
  const active = (await Promise.all(jobIds.map((id) => user.job(id)))).filter((j) => ['pending', 'running'].includes(j.status)).length;
  return {
    measure: `7. ${s.title}: ${count} active runs of one user, status queries`,
    peer: `one per interval (${DEFAULT_POLL_MS / 1000} s) at most`,
    jobvisor: `${after - before} ${s.statusCommand} in ${(windowMs / 1000).toFixed(1)} s`,
    ratio: `${perInterval.toFixed(2)} per interval`,
    target: '<= 1 per interval per (target, user)',
    pass: perInterval <= 1 && active === count,
    note: `${active} of ${count} runs active while counted (the agent's own count of ${s.statusCommand}, GET /api/targets/${targetName(s.kind)}/agent-log)`,
  };
}

async function measure(ctx: BenchContext, user: Client, ssh: SshSession, s: Scheduler, ids: string[]): Promise<BenchRow[]> {
  // The scheduler starts jobs in rounds (about 3 s apart on the test cluster): a job waits 0-3 s; more samples than elsewhere.
  const repeats = ctx.quick ? 1 : Math.max(5, ctx.repeats);
  // A first run (not counted): the agent's first run on a new login, and the script to copy.
  const first = await jobvisorRun(user, s, `${s.kind}-warm-up`);
  const jv: number[] = [];
  const raw: number[] = [];
  const setup = s.rawSetup ? (await exec(ssh, s.rawSetup)).trim() : '';
  for (let i = 0; i < repeats; i++) {
    const dir = await rawCopy(ssh, s, first.jobId, i);
    const run = await jobvisorRun(user, s, `${s.kind}-run-${i}`);
    jv.push(run.ms);
    raw.push(await rawRun(ssh, s, dir, setup));
    ctx.log(`${s.kind} ${i + 1}/${repeats}: jobvisor ${run.ms.toFixed(0)} ms (${run.steps}), raw ${raw.at(-1)!.toFixed(0)} ms`);
  }
  const ratio = median(jv) / median(raw);
  const row: BenchRow = {
    measure: `7. ${s.title} run, submit -> completed (default settings)`,
    peer: `raw ${s.kind === 'slurm' ? 'sbatch + squeue' : 'qsub + qstat'} every 20 ms: ${(median(raw) / 1000).toFixed(2)} s`,
    jobvisor: `${(median(jv) / 1000).toFixed(2)} s`,
    ratio: `${ratio.toFixed(2)} x`,
    target: '<= 1.20 x',
    pass: ratio <= 1.2,
    note: `medians of ${repeats}, interleaved; jobvisor ${jv.map((v) => (v / 1000).toFixed(2)).join(', ')} s; raw ${raw.map((v) => (v / 1000).toFixed(2)).join(', ')} s; the same script, the same SSH login; jobvisor seen by GET every 20 ms`,
  };
  return [row, await manyRuns(ctx, user, ssh, s, ids)];
}

const skipped = (s: Scheduler, why: string): BenchRow[] => [
  { measure: `7. ${s.title} run, submit -> completed (default settings)`, peer: '-', jobvisor: '-', ratio: '-', target: '<= 1.20 x', pass: 'skipped', note: why },
  { measure: `7. ${s.title}: ${ACTIVE_RUNS} active runs of one user, status queries`, peer: '-', jobvisor: '-', ratio: '-', target: '<= 1 per interval per (target, user)', pass: 'skipped', note: why },
];

async function cleanUp(ssh: SshSession, s: Scheduler, ids: string[]): Promise<void> {
  if (ids.length > 0) await ssh.exec(`${s.cancel(ids)} 2>/dev/null`);
  const pidFile = `${REMOTE_DIR}/agent-${targetName(s.kind)}.pid`;
  // BENCH_KEEP_REMOTE=1 keeps the folder (the agent's log) for a look after.
  await ssh.exec(`[ -s ${pidFile} ] && kill $(cat ${pidFile}) 2>/dev/null; sleep 0.5; ${process.env.BENCH_KEEP_REMOTE === '1' ? 'true' : `rm -rf ${REMOTE_DIR}`}`);
}

export const clusterPart: BenchPart = {
  name: 'cluster',
  async run(ctx) {
    const rows: BenchRow[] = [];
    const up: { s: Scheduler; info: ClusterInfo; ssh: SshSession }[] = [];
    // BENCH_CLUSTERS=slurm (or sge) measures one of them.
    for (const s of SCHEDULERS.filter((x) => (process.env.BENCH_CLUSTERS ?? 'slurm,sge').split(',').includes(x.kind))) {
      const r = await reach(s);
      if (typeof r === 'string') rows.push(...skipped(s, r));
      else up.push({ s, ...r });
    }
    if (up.length === 0) return rows;
    const jv = new BenchJobvisor({ JOBVISOR_TARGETS: JSON.stringify([{ name: 'here', driver: 'local' }, ...up.map((u) => target(u.s, u.info))]) });
    const submitted = new Map<Kind, string[]>(up.map((u) => [u.s.kind, []]));
    try {
      await jv.start();
      for (const { s, info, ssh } of up) {
        // A user per scheduler: each one's 100 runs are within the user's quota of active runs.
        const user = await jv.user(`bench-${s.kind}`);
        const login = await user.request('POST', `/api/targets/${targetName(s.kind)}/login`, { username: info.user, privateKey: readFileSync(info.privateKeyFile, 'utf8') });
        if (login.status !== 200) throw new Error(`login to ${s.title}: ${login.status} ${JSON.stringify(login.body)}`);
        rows.push(...(await measure(ctx, user, ssh, s, submitted.get(s.kind)!)));
        await cleanUp(ssh, s, submitted.get(s.kind)!.splice(0));
      }
    } catch (err) {
      for (const line of jv.logs().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5)) ctx.log(line.slice(0, 2000));
      throw err;
    } finally {
      await jv.stop();
      for (const { s, ssh } of up) {
        await cleanUp(ssh, s, submitted.get(s.kind) ?? []).catch(() => undefined);
        ssh.end();
      }
    }
    return rows;
  },
};
