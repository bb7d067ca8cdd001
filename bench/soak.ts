/**
 * Soak: many runs across every target (local, docker, slurm, sge) of a real jobvisor while
 * faults are injected at random moments; then one line: runs, faults by kind, runs lost,
 * updates lost or doubled, runs left active. The exit code is 0 only when those are all zero.
 *
 *   npm run soak -- --minutes 10            (build, then 10 minutes of runs and faults)
 *   node dist/bench/soak.js --minutes 2 --seed 1234
 *
 * Options:
 *   --minutes N   how long runs are submitted and faults injected (default 10); then a drain
 *   --seed S      the seed of the random choices (default: random, printed); the same seed
 *                 gives the same runs and faults in the same order (their timing still varies)
 *   --drain S     seconds to wait at the end for the last runs to end (default 300)
 *   --targets L   targets to run on, comma separated (default local,docker,slurm,sge)
 *   --keep        keep the soak's folder (data, logs, report) even when all went well
 *
 * README.md (Tests and benchmarks) says what each fault is and how runs are judged.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { JobView } from '../src/shared/api.js';
import { instanceId, LABEL } from '../src/drivers/docker/driver.js';
import type { ClusterInfo } from '../test/helpers/cluster.js';
import { processesUnder } from '../test/helpers/jobvisor.js';
import { TcpProxy } from '../test/helpers/tcpProxy.js';
import { EventClient } from './soak/events.js';
import { agentKill, cmdKill, FAULT_WEIGHTS, linkCut, Random, schedulerDaemon, schedulerOutage, serverRestart, supervisorKill, testsRunning, type ClusterKind, type FaultContext, type FaultResult } from './soak/faults.js';
import { Api, CLI, ROOT, sleep, SoakJobvisor } from './soak/jobvisor.js';
import { checkLines, FAULT_KINDS, judge, type FaultKind, type Run } from './soak/ledger.js';
import { isTerminal, lane, Logins, readLog } from './soak/runs.js';

const ALL_TARGETS = ['local', 'docker', 'slurm', 'sge'] as const;
type TargetName = (typeof ALL_TARGETS)[number];
const LANES: Record<TargetName, number> = { local: 4, docker: 3, slurm: 3, sge: 3 };
const REMOTE_DIR = 'jobvisor-soak';

interface Options {
  minutes: number;
  seed: number;
  drainSeconds: number;
  targets: TargetName[];
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { minutes: 10, seed: randomBytes(4).readUInt32BE(0), drainSeconds: 300, targets: [...ALL_TARGETS], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--minutes') o.minutes = Number(value());
    else if (a === '--seed') o.seed = Number(value());
    else if (a === '--drain') o.drainSeconds = Number(value());
    else if (a === '--targets') o.targets = value().split(',') as TargetName[];
    else if (a === '--keep') o.keep = true;
    else usage(`unknown argument ${a}`);
  }
  if (!(o.minutes > 0)) usage('--minutes must be a positive number');
  if (!Number.isInteger(o.seed) || o.seed < 0) usage('--seed must be a non-negative integer');
  for (const t of o.targets) if (!ALL_TARGETS.includes(t)) usage(`unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
  return o;
}

function usage(problem: string): never {
  process.stderr.write(`soak: ${problem}\nusage: node dist/bench/soak.js [--minutes N] [--seed S] [--drain SECONDS] [--targets local,docker,slurm,sge] [--keep]\n`);
  process.exit(2);
}

const started = Date.now();
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s]`;
const note = (msg: string): void => {
  process.stderr.write(`${stamp()} ${msg}\n`);
};

function clusterInfo(kind: ClusterKind): ClusterInfo {
  const script = path.join(ROOT, 'src', 'drivers', kind, 'test-cluster.sh');
  try {
    return JSON.parse(execFileSync('bash', [script, 'info'], { encoding: 'utf8' })) as ClusterInfo;
  } catch {
    execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60_000 });
    return JSON.parse(execFileSync('bash', [script, 'info'], { encoding: 'utf8' })) as ClusterInfo;
  }
}

function targetsConfig(targets: TargetName[], clusters: Map<string, ClusterInfo>): unknown[] {
  return targets.map((t) => {
    if (t === 'local') return { name: 'local', driver: 'local' };
    if (t === 'docker') return { name: 'docker', driver: 'docker', stopTimeoutSeconds: 2 };
    const c = clusters.get(t) as ClusterInfo;
    return {
      name: t, driver: t, host: c.host, port: c.port, knownHosts: [c.knownHosts], remoteDir: REMOTE_DIR,
      pollIntervalMs: 1000, lostAfterMs: 20_000, sizes: { sequential: { maxTimeSeconds: 600 }, parallel: { maxTimeSeconds: 600 } },
    };
  });
}

/** A run's parameters: short on this machine and in Docker, a little longer on the clusters. */
function newRunOf(rng: Random, counter: { n: number }, all: Run[]) {
  return (target: string): Run => {
    const cluster = target === 'slurm' || target === 'sge';
    const run: Run = {
      key: `soak-${target}-${++counter.n}`, target, size: rng.next() < 0.5 ? 'sequential' : 'parallel',
      seconds: Math.round(rng.between(cluster ? 2 : 0.5, cluster ? 12 : 6) * 10) / 10, lines: rng.int(1, cluster ? 30 : 40),
      submittedAt: Date.now(), status: 'new', exposures: [], submits: 0, adopted: false, unknown: false,
    };
    all.push(run);
    return run;
  };
}

interface FaultRecord {
  kind: FaultKind;
  at: number;
  what: string;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run npm run build first`);
  const rng = new Random(opts.seed);
  const root = mkdtempSync(path.join(os.tmpdir(), `jobvisor-soak-${opts.seed}-`));
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir);
  const password = randomBytes(12).toString('hex');
  note(`soak: seed ${opts.seed} (replay with --seed ${opts.seed}), ${opts.minutes} min, targets ${opts.targets.join(', ')}; folder ${root}`);

  const clusters = new Map<string, ClusterInfo>();
  for (const t of opts.targets) if (t === 'slurm' || t === 'sge') clusters.set(t, clusterInfo(t));
  const clusterTargets = [...clusters.keys()];

  // The proxy asks for the supervisor's port at each connection: the supervisor restarts on it.
  const proxy: TcpProxy = new TcpProxy((): number => jv.supervisorPort);
  const proxyPort = await proxy.listen();
  const jv: SoakJobvisor = new SoakJobvisor({ dataDir, outDir: root, password, env: { JOBVISOR_AGENT_URL: `ws://127.0.0.1:${proxyPort}`, JOBVISOR_TARGETS: JSON.stringify(targetsConfig(opts.targets, clusters)) } });
  const api = new Api(() => jv.serverUrl, password);
  const events = new EventClient(() => jv.serverUrl, api);
  const runs: Run[] = [];
  const faults: FaultRecord[] = [];
  const skipped: Record<string, number> = {};
  let outage: { kind: ClusterKind; done: Promise<void> } | undefined;
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    note('SIGINT: stopping after the current step');
  });

  try {
    await jv.startSupervisor();
    await jv.startServer();
    await api.login();
    events.start();
    const logins = new Logins(api, clusters, note);
    for (const t of clusterTargets) await logins.ensure(t);
    note(`jobvisor up: server ${jv.serverUrl}, supervisor port ${jv.supervisorPort}, agents through the proxy on ${proxyPort}; logged in to ${clusterTargets.join(', ') || 'no cluster'}`);

    const submitUntil = Date.now() + opts.minutes * 60_000;
    let hardDeadline = submitUntil + opts.drainSeconds * 1000;
    const lanes: Promise<void>[] = [];
    const deps = { api, logins, rng, submitUntil, hardDeadline: () => (interrupted ? 0 : hardDeadline), newRun: newRunOf(rng, { n: 0 }, runs) };
    for (const t of opts.targets) for (let i = 0; i < LANES[t]; i++) lanes.push(lane(deps, t));

    const active = () => runs.filter((r) => r.jobId && !isTerminal(r.status));
    const ctx: FaultContext = { jv, proxy, dataDir, clusterHome: `/home/${clusters.values().next().value?.user ?? 'jvuser'}`, remoteDir: REMOTE_DIR, active, loginLost: (t) => logins.nudge(t), rng };
    const record = (kind: FaultKind, t0: number, what: FaultResult) => {
      if (what === null) return;
      faults.push({ kind, at: t0, what });
      note(`fault ${kind}: ${what}`);
    };
    const kinds = FAULT_KINDS.filter((k) => k !== 'scheduler-outage' || clusterTargets.length > 0);
    const total = kinds.reduce((s, k) => s + FAULT_WEIGHTS[k], 0);
    await sleep(15_000);
    let lastStatus = Date.now();
    while (Date.now() < submitUntil - 10_000 && !interrupted) {
      let x = rng.next() * total;
      const kind = kinds.find((k) => (x -= FAULT_WEIGHTS[k]) < 0) ?? 'link-cut';
      const t0 = Date.now();
      try {
        if (kind === 'supervisor-kill') record(kind, t0, await supervisorKill(ctx));
        else if (kind === 'server-restart') record(kind, t0, await serverRestart(ctx));
        else if (kind === 'link-cut') record(kind, t0, await linkCut(ctx));
        else if (kind === 'agent-kill') record(kind, t0, await agentKill(ctx, clusterTargets));
        else if (kind === 'cmd-kill') record(kind, t0, await cmdKill(ctx));
        else {
          const cluster = rng.pick(clusterTargets) as ClusterKind;
          if (outage) skipped['scheduler-outage (one already under way)'] = (skipped['scheduler-outage (one already under way)'] ?? 0) + 1;
          else if (testsRunning()) {
            skipped['scheduler-outage (tests running)'] = (skipped['scheduler-outage (tests running)'] ?? 0) + 1;
            note(`fault scheduler-outage of ${cluster} skipped: vitest runs (pgrep -f vitest), the schedulers are shared`);
          } else {
            const o = { kind: cluster, done: Promise.resolve() };
            o.done = schedulerOutage(ctx, cluster).then((what) => record('scheduler-outage', t0, what), (err: unknown) => note(`scheduler-outage of ${cluster} failed: ${(err as Error).message}`)).finally(() => {
              outage = undefined;
            });
            outage = o;
            note(`fault scheduler-outage: ${cluster} scheduler stopping`);
          }
        }
      } catch (err) {
        note(`fault ${kind} failed: ${(err as Error).stack ?? String(err)}`);
        if (jv.supervisor && !jv.supervisor.running) await jv.restart('supervisor');
        if (jv.server && !jv.server.running) await jv.restart('server');
      }
      if (Date.now() - lastStatus > 30_000) {
        lastStatus = Date.now();
        note(`status: ${runs.filter((r) => r.jobId).length} runs submitted, ${active().length} active, ${faults.length} faults`);
      }
      await sleep(rng.between(5000, 15_000));
    }
    await outage?.done;
    hardDeadline = Date.now() + opts.drainSeconds * 1000;
    note(`submissions stop; draining (up to ${opts.drainSeconds} s) with ${active().length} runs active`);
    await Promise.all(lanes);

    // Runs still active after the drain: their latest view, then their logs if they ended meanwhile.
    for (const r of active()) {
      const a = await api.call<{ job: JobView }>('GET', `/api/jobs/${r.jobId}`);
      if (a.status === 200) Object.assign(r, { view: a.body.job, status: a.body.job.status });
      if (isTerminal(r.status)) r.logText = await readLog(api, r);
    }
    // Views with their history (a duplicate run shows there).
    for (const r of runs.filter((x) => x.jobId && x.view)) {
      const a = await api.call<{ job: JobView }>('GET', `/api/jobs/${r.jobId}`);
      if (a.status === 200) r.view = a.body.job;
      else if (a.status === 404) r.unknown = true;
    }
    await sleep(3000);
    return report(opts, root, runs, faults, skipped, events, logins);
  } finally {
    if (outage) await schedulerDaemon(outage.kind, 'start').catch(() => undefined);
    await cleanup(api, jv, events, proxy, dataDir, clusterTargets, clusters);
    if (!opts.keep && process.exitCode === 0) rmSync(root, { recursive: true, force: true });
  }
}

function report(opts: Options, root: string, runs: Run[], faults: FaultRecord[], skipped: Record<string, number>, events: EventClient, logins: Logins): number {
  const submitted = runs.filter((r) => r.jobId);
  const eventIds = events.withIds > 0;
  let updatesLost = 0;
  let doubled = 0;
  let lost = 0;
  let leftActive = 0;
  const problems: string[] = [];
  for (const r of runs) {
    if (!r.jobId && r.status === 'new') continue;
    const v = (r.verdict = judge(r));
    if (eventIds && r.view?.status === 'completed') v.events = checkLines(events.lines.get(`${r.jobId}/${r.serial}`) ?? [], r.lines, true);
    updatesLost += v.log.missing + (v.events?.missing ?? 0);
    doubled += v.log.doubled + (v.events?.doubled ?? 0);
    if (v.lost) lost++;
    if (v.leftActive) leftActive++;
    const bad = [v.lost || v.leftActive ? JSON.stringify(v.why) : '', v.log.detail ? `log: ${v.log.detail}` : '', v.events?.detail ? `events: ${v.events.detail}` : ''].filter(Boolean);
    if (bad.length > 0) {
      const before = faults.filter((f) => f.at <= (r.view?.endedAt ?? Date.now()) && f.at >= r.submittedAt - 15_000).map((f) => `${f.kind} at +${((f.at - r.submittedAt) / 1000).toFixed(1)} s (${f.what})`);
      problems.push(`${r.target} ${r.key} job ${r.jobId ?? '-'} (${r.seconds} s, ${r.lines} lines, ${r.size}): ${bad.join(' | ')}; faults during the run: ${before.join('; ') || 'none'}; exposures: ${r.exposures.map((e) => `${e.kind} ${e.detail}`).join(', ') || 'none'}`);
    }
  }
  const byTarget = ALL_TARGETS.filter((t) => opts.targets.includes(t)).map((t) => `${t} ${submitted.filter((r) => r.target === t).length}`);
  const byKind = FAULT_KINDS.map((k) => `${k} ${faults.filter((f) => f.kind === k).length}`);
  const skippedText = Object.entries(skipped).map(([k, n]) => `${k} skipped ${n}`);
  const expected = submitted.filter((r) => r.verdict && !r.verdict.lost && /^(error|canceled) after/.test(r.verdict.why));
  const details = [
    `seed ${opts.seed}; folder ${root}`,
    `ends: ${['completed', 'error', 'canceled', 'missing', 'purged', 'pending', 'running'].map((s) => `${s} ${submitted.filter((r) => (r.view?.status ?? r.status) === s).length}`).join(', ')}; errors a fault explains: ${expected.length}`,
    `submits: ${submitted.filter((r) => r.submits > 1 || r.adopted).length} runs needed more than one try, ${submitted.filter((r) => r.adopted).length} found by their job key after a submit without answer (adopted, not sent again)`,
    `logins to cluster targets: ${logins.count}${logins.failures.length ? ` (${logins.failures.length} refused or failed: ${logins.failures.slice(-3).join('; ')})` : ''}`,
    `events: ${events.connects} connections, ${events.withIds} messages with ids, ${events.resyncs} resyncs, ${events.idsNotIncreasing} ids not increasing; ` +
      (eventIds ? 'log lines of every completed run checked in the events too' : 'the server sends no event ids yet: events not checked (only the logs)'),
    ...(skippedText.length ? [`skipped: ${skippedText.join(', ')}`] : []),
  ];
  process.stderr.write('\n' + details.join('\n') + '\n');
  if (problems.length > 0) process.stderr.write(`problems (${problems.length}):\n${problems.slice(0, 40).map((p) => `  ${p}`).join('\n')}\n`);
  writeFileSync(path.join(root, 'report.json'), JSON.stringify({ seed: opts.seed, options: opts, faults, skipped, problems, runs }, null, 1));
  const minutes = Number.isInteger(opts.minutes) ? String(opts.minutes) : opts.minutes.toFixed(1);
  const faultsText = `faults ${faults.length} (${byKind.join(', ')}${skippedText.length ? `; ${skippedText.join(', ')}` : ''})`;
  process.stdout.write(`soak ${minutes} min: runs ${submitted.length} (${byTarget.join(', ')}) · ${faultsText} · runs lost ${lost} · updates lost ${updatesLost} · doubled ${doubled} · left active ${leftActive}\n`);
  const ok = submitted.length > 0 && lost + updatesLost + doubled + leftActive === 0;
  process.exitCode = ok ? 0 : 1;
  return process.exitCode;
}

async function cleanup(api: Api, jv: SoakJobvisor | undefined, events: EventClient, proxy: TcpProxy, dataDir: string, clusterTargets: string[], clusters: Map<string, ClusterInfo>): Promise<void> {
  const list = await api.call<{ jobs: JobView[] }>('GET', '/api/jobs?status=pending,running&limit=500').catch(() => undefined);
  if (list?.status === 200) for (const j of list.body.jobs.filter((x) => !isTerminal(x.status))) await api.call('POST', `/api/jobs/${j.jobId}/cancel`, {});
  await events.stop();
  await jv?.stop();
  await proxy.close();
  for (const pid of processesUnder(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const t of clusterTargets) {
    const user = clusters.get(t)?.user ?? 'jvuser';
    execFileSync('bash', ['-c', `pid=$(cat /home/${user}/${REMOTE_DIR}/agent-${t}.pid 2>/dev/null) && kill -TERM "$pid" 2>/dev/null; true`]);
  }
  try {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${LABEL.instance}=${instanceId(dataDir)}`], { encoding: 'utf8' }).trim();
    if (ids) execFileSync('docker', ['rm', '-f', ...ids.split('\n')], { stdio: 'ignore' });
  } catch {
    /* no docker */
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
