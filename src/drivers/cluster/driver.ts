/**
 * The driver of every cluster target, whatever its scheduler: a user's agent runs on the
 * cluster's login node under the user's own account. Starting it needs the user's login:
 * jobvisor opens an SSH session with it, uploads the bundled agent and the templates (only
 * when their checksums changed), stops the user's previous agent of this target, starts the
 * new one detached, and closes the session. The agent then submits each run to the scheduler
 * and follows it. Without a login there is nothing to start with: LOGIN_REQUIRED.
 *
 * A scheduler backend (a folder beside this one) gives this driver its options schema, limits
 * and script.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { OptionField, RunOptions } from '../../shared/api.js';
import type { Config } from '../../shared/config.js';
import { JobvisorError } from '../../shared/errors.js';
import { AGENT_NODE } from '../../shared/protocol.js';
import { formatIssues } from '../../shared/template.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentExit, AgentHandle, AgentSpec, Driver, DriverRun, RunOp, TargetInfo } from '../driver.js';
import { AGENT_BUNDLE } from '../common.js';
import { SshSession } from '../ssh/session.js';
import { resolveSizes } from '../targetSettings.js';
import { ROOT, readScriptTemplate, type ScriptValues } from './script.js';
import { runsSteps } from './steps.js';
import type { ClusterSettings } from './settings.js';

/** What a scheduler backend adds to the cluster driver. */
export interface ClusterScheduler<S extends ClusterSettings, O> {
  /** The agent's scheduler module of the same name (src/agent/engines/schedulers.ts). */
  name: string;
  title: string;
  defaultTemplate: string;
  /** The schema of a run's options, and how forms show them. */
  options: z.ZodType<O>;
  optionFields: OptionField[];
  /** Checks a run's options against the site's defaults and limits; returns them resolved. Throws RESOURCES_EXCEED_LIMIT. */
  resolve(settings: S, requested: O | undefined, timeLimitSeconds: number): unknown;
  buildScript(template: string, values: ScriptValues, resolved: unknown): string;
}

export interface ClusterDriverOptions<S extends ClusterSettings, O> {
  settings: S;
  scheduler: ClusterScheduler<S, O>;
  config: Config;
  log: Logger;
}

const AGENT_FILE = 'jobvisor-agent.mjs';
const CLUSTER_SLOTS = 100;
const SAFE_PATH = /^[A-Za-z0-9_./-]+$/;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function filesUnder(dir: string, base = ''): string[] {
  return readdirSync(path.join(dir, base), { withFileTypes: true }).flatMap((e) => {
    const rel = base ? `${base}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(dir, rel) : e.isFile() ? [rel] : [];
  });
}

/** Uploads what changed: the agent bundle, then the templates, each checked by a checksum file. */
async function upload(ssh: SshSession, dir: string, templatesDir: string): Promise<void> {
  const bundleSum = sha256(readFileSync(AGENT_BUNDLE));
  const sums = await ssh.exec(`cd ${dir} && cat agent.sha256 templates.sha256 2>/dev/null; true`);
  if (!sums.stdout.includes(`agent ${bundleSum}`)) {
    await ssh.upload(AGENT_BUNDLE, `${dir}/${AGENT_FILE}`);
    await ssh.exec(`cd ${dir} && echo 'agent ${bundleSum}' > agent.sha256`);
  }
  const files = filesUnder(templatesDir).filter((f) => SAFE_PATH.test(f)).sort();
  const templatesSum = sha256(files.map((f) => `${f} ${sha256(readFileSync(path.join(templatesDir, f)))}`).join('\n'));
  if (sums.stdout.includes(`templates ${templatesSum}`)) return;
  const dirs = [...new Set(files.map((f) => path.posix.dirname(f)))].map((d) => `templates.new/${d}`);
  await ssh.exec(`cd ${dir} && rm -rf templates.new && mkdir -p ${dirs.join(' ')}`);
  for (const f of files) await ssh.upload(path.join(templatesDir, f), `${dir}/templates.new/${f}`);
  await ssh.exec(`cd ${dir} && rm -rf templates && mv templates.new templates && echo 'templates ${templatesSum}' > templates.sha256`);
}

/** Stops the user's previous agent of this target (its scheduler jobs go on) and starts a new one, detached; its token goes in on stdin. */
async function startRemote(ssh: SshSession, dir: string, s: ClusterSettings, logLevel: string, spec: AgentSpec): Promise<number> {
  const pidFile = `agent-${s.name}.pid`;
  const env = {
    JOBVISOR_AGENT_ID: spec.agentId,
    JOBVISOR_AGENT_URL: s.agentUrl ?? spec.supervisorUrl,
    JOBVISOR_SCHEDULER_POLL_MS: String(s.pollIntervalMs),
    JOBVISOR_SCHEDULER_POLL_SOON_MS: String(s.pollSoonMs),
    JOBVISOR_SCHEDULER_POLL_BACKOFF: String(s.pollBackoff),
    JOBVISOR_SCHEDULER_GRACE_MS: String(s.unconfirmedGraceMs),
    JOBVISOR_LOG_LEVEL: logLevel,
    JOBVISOR_AGENT_LOG: `${dir}/agent-${s.name}.log`,
  };
  const searchPath = s.schedulerPath.length > 0 ? `PATH='${s.schedulerPath.join(':')}':"$PATH" ` : '';
  const assignments = searchPath + Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", '')}'`).join(' ');
  const stopPrevious = `if [ -s ${pidFile} ]; then kill $(cat ${pidFile}) 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $(cat ${pidFile}) 2>/dev/null || break; sleep 0.3; done; fi`;
  const start = `${assignments} setsid ${s.nodePath} ${AGENT_FILE} <&0 >>agent-${s.name}.log 2>&1 & echo $! > ${pidFile}; echo $!`;
  const r = await ssh.exec(`cd ${dir} && ${stopPrevious}; ${start}`, spec.token + '\n');
  const pid = Number(r.stdout.trim().split('\n').pop());
  if (!Number.isInteger(pid) || pid <= 0) throw new JobvisorError('AGENT_START_FAILED', `the agent could not be started on the login node: ${r.stderr.trim() || r.stdout.trim()}`);
  const check = await ssh.exec(`cd ${dir} && sleep 1 && if kill -0 ${pid} 2>/dev/null; then echo alive; else tail -20 agent-${s.name}.log; fi`);
  if (check.stdout.trim() !== 'alive') throw new JobvisorError('AGENT_START_FAILED', `the agent ended at once on the login node:\n${check.stdout.trim()}`);
  return pid;
}

function handle(s: ClusterSettings, pid: number): AgentHandle {
  let settle: (exit: AgentExit) => void = () => undefined;
  const exited = new Promise<AgentExit>((resolve) => (settle = resolve));
  return {
    host: s.host,
    pool: 'cluster',
    pid,
    exited,
    lostAfterMs: s.lostAfterMs,
    expiresAt: Date.now() + s.loginHours * 3600_000,
    // Without the user's login there is no way to signal the process: the supervisor asks the agent to end over its websocket.
    stop: async (why?: string) => settle({ reason: why ?? 'the agent was released' }),
    // The agent's own log is read over its websocket (GET /api/targets/:target/agent-log); the driver keeps none.
    logTail: async () => '',
  };
}

const capTime = (l: { slots: number; maxTimeSeconds: number }, max: number) => ({ ...l, maxTimeSeconds: Math.min(l.maxTimeSeconds, max) });

function parseOptions<O>(info: TargetInfo, schema: z.ZodType<O>, options: RunOptions | null): O | undefined {
  if (options === null) return undefined;
  const r = schema.safeParse(options);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ ...i, path: ['options', ...i.path] }));
    throw new JobvisorError('INVALID_INPUT', `options of a run on ${info.name}: ${formatIssues(r.error, 'options')}`, { issues });
  }
  return r.data;
}

export function createClusterDriver<S extends ClusterSettings, O>(o: ClusterDriverOptions<S, O>): Driver {
  const { settings: s, scheduler } = o;
  // The scheduler queues runs: by default the target takes 100 submitted runs at once per size
  // (per-user limits are the scheduler's). No run is longer than the site's limit for scripts.
  const resolved = resolveSizes(s.sizes, { ...o.config, slotsSequential: CLUSTER_SLOTS, slotsParallel: CLUSTER_SLOTS });
  const longest = s.limits.maxMinutes * 60;
  const sizes = { sequential: capTime(resolved.sequential, longest), parallel: capTime(resolved.parallel, longest) };
  const template = readScriptTemplate(s.scriptTemplate ?? scheduler.defaultTemplate);
  const info: TargetInfo = { name: s.name, kind: scheduler.name, title: s.title ?? `${scheduler.title} cluster ${s.host}`, needsLogin: true, host: s.host, schedulerTitle: scheduler.title, options: scheduler.optionFields };
  const timeLimit = (run: Omit<DriverRun, 'jobId' | 'serial'>) => Math.min(run.template.timeLimitSeconds, sizes[run.size].maxTimeSeconds);
  return {
    info,
    pools: (size) => new Map([['cluster', sizes[size].slots]]),
    maxTimeSeconds: (size) => sizes[size].maxTimeSeconds,
    runDir: (_user, jobId) => `${ROOT}/runs/${jobId}`,
    archiveDir: (_user, jobId) => `${ROOT}/archive/${jobId}`,
    templatesDir: () => `${ROOT}/templates`,

    checkRun(run) {
      if ((run.template.preprocess || run.template.postprocess) && !runsSteps(template)) {
        throw new JobvisorError('TARGET_NOT_ALLOWED', `template ${run.template.name} has steps (preprocess, postprocess); the batch script template of target ${s.name} has no {{steps}} line to run them`);
      }
      scheduler.resolve(s, parseOptions(info, scheduler.options, run.options), timeLimit(run));
    },

    /** The batch script of a run: its argv (with the cluster's Node for `{node}`) in the scheduler's template. */
    prepareRunOp(op: RunOp, run: DriverRun): RunOp {
      const node = (argv: string[] | undefined) => argv?.map((a) => a.replaceAll(AGENT_NODE, s.nodePath));
      const argv = node(op.argv) as string[];
      const steps = { preprocess: node(op.preprocess), postprocess: node(op.postprocess) };
      const resolved = scheduler.resolve(s, parseOptions(info, scheduler.options, run.options), op.timeLimitSeconds);
      const script = scheduler.buildScript(template, { jobId: run.jobId, serial: run.serial, runDir: op.runDir, argv, ...steps, extraDirectives: s.extraDirectives }, resolved);
      return { ...op, argv, ...(steps.preprocess ? { preprocess: steps.preprocess } : {}), ...(steps.postprocess ? { postprocess: steps.postprocess } : {}), batch: { scheduler: scheduler.name, script } };
    },

    async startAgent(spec: AgentSpec): Promise<AgentHandle> {
      const creds = spec.credentials;
      if (!creds) throw new JobvisorError('LOGIN_REQUIRED', `log in to ${info.title} (target ${s.name}) to run there`, { target: s.name });
      const ssh = await SshSession.open({ host: s.host, port: s.port, knownHosts: s.knownHosts, timeoutMs: s.connectTimeoutMs }, creds);
      try {
        const made = await ssh.exec(`mkdir -p ${s.remoteDir}/runs && cd ${s.remoteDir} && pwd`);
        const dir = made.stdout.trim();
        if (made.code !== 0 || !SAFE_PATH.test(dir)) throw new JobvisorError('AGENT_START_FAILED', `jobvisor's folder on the cluster cannot be used: ${made.stderr.trim() || dir}`);
        await upload(ssh, dir, o.config.templatesDir);
        const pid = await startRemote(ssh, dir, s, o.config.logLevel, spec);
        o.log.info({ agentId: spec.agentId, target: s.name, host: s.host, clusterUser: creds.username, pid }, 'agent started on the login node');
        return handle(s, pid);
      } finally {
        ssh.end();
      }
    },

    /** After a supervisor restart the agent on the cluster goes on and reconnects by itself. */
    async adoptAgent(saved) {
      return handle(s, saved.pid ?? 0);
    },

    async close() {
      /* agents on the cluster outlive the supervisor on purpose: their scheduler jobs go on */
    },
  };
}
