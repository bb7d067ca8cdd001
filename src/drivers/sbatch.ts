/**
 * The sbatch driver: a user's agent runs on the cluster's login node under the user's own
 * account. Starting it needs the user's login: jobvisor opens an SSH session with it, uploads
 * the bundled agent and the templates (only when their checksums changed), stops the user's
 * previous agent, starts the new one detached, and closes the session. The agent then submits
 * each run with `sbatch` and follows it. Without a login, there is nothing to start with:
 * LOGIN_REQUIRED.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { SbatchConfig } from '../shared/sbatchConfig.js';
import type { Template } from '../shared/template.js';
import type { RunMode } from '../shared/types.js';
import type { AgentExit, AgentHandle, AgentSpec, Driver } from './driver.js';
import { AGENT_BUNDLE } from './local.js';
import { SshSession, type Credentials } from './sshSession.js';

export interface SbatchDriverOptions {
  settings: SbatchConfig;
  templatesDir: string;
  logLevel: string;
  log: Logger;
}

/** Where the agent keeps its files on the cluster; the agent fills `{{root}}` with it. */
export const ROOT = '{{root}}';
const AGENT_FILE = 'jobvisor-agent.mjs';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function filesUnder(dir: string, base = ''): string[] {
  return readdirSync(path.join(dir, base), { withFileTypes: true }).flatMap((e) => {
    const rel = base ? `${base}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(dir, rel) : e.isFile() ? [rel] : [];
  });
}

const SAFE_PATH = /^[A-Za-z0-9_./-]+$/;

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

/** Stops the user's previous agent (its Slurm jobs go on) and starts a new one, detached; its token goes in on stdin. */
async function startRemote(ssh: SshSession, dir: string, o: SbatchDriverOptions, spec: AgentSpec): Promise<number> {
  const s = o.settings;
  const env = {
    JOBVISOR_AGENT_ID: spec.agentId,
    JOBVISOR_AGENT_URL: s.agentUrl ?? spec.supervisorUrl,
    JOBVISOR_SLURM_POLL_MS: String(s.pollIntervalMs),
    JOBVISOR_SLURM_GRACE_MS: String(s.unconfirmedGraceMs),
    JOBVISOR_LOG_LEVEL: o.logLevel,
    JOBVISOR_AGENT_LOG: `${dir}/agent.log`,
  };
  const assignments = Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", '')}'`).join(' ');
  const stopPrevious = `if [ -s agent.pid ]; then kill $(cat agent.pid) 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $(cat agent.pid) 2>/dev/null || break; sleep 0.3; done; fi`;
  const start = `${assignments} setsid ${s.nodePath} ${AGENT_FILE} <&0 >>agent.log 2>&1 & echo $! > agent.pid; echo $!`;
  const r = await ssh.exec(`cd ${dir} && ${stopPrevious}; ${start}`, spec.token + '\n');
  const pid = Number(r.stdout.trim().split('\n').pop());
  if (!Number.isInteger(pid) || pid <= 0) throw new JobvisorError('AGENT_START_FAILED', `the agent could not be started on the login node: ${r.stderr.trim() || r.stdout.trim()}`);
  const check = await ssh.exec(`cd ${dir} && sleep 1 && if kill -0 ${pid} 2>/dev/null; then echo alive; else tail -20 agent.log; fi`);
  if (check.stdout.trim() !== 'alive') throw new JobvisorError('AGENT_START_FAILED', `the agent ended at once on the login node:\n${check.stdout.trim()}`);
  return pid;
}

function handle(o: SbatchDriverOptions, pid: number): AgentHandle {
  let settle: (exit: AgentExit) => void = () => undefined;
  const exited = new Promise<AgentExit>((resolve) => (settle = resolve));
  return {
    host: o.settings.host,
    pool: 'cluster',
    pid,
    exited,
    lostAfterMs: o.settings.lostAfterMs,
    expiresAt: Date.now() + o.settings.loginHours * 3600_000,
    // Without the user's login there is no way to signal the process: the supervisor asks the agent to end over its websocket.
    stop: async (why?: string) => settle({ reason: why ?? 'the agent was released' }),
    // The agent's own log is read over its websocket (GET /api/cluster/agent-log); the driver keeps none.
    logTail: async () => '',
  };
}

export function createSbatchDriver(o: SbatchDriverOptions): Driver {
  const s = o.settings;
  return {
    name: 'sbatch',
    slots: () => s.slots,
    runDir: (_user, jobId) => `${ROOT}/runs/${jobId}`,
    templatesDir: () => `${ROOT}/templates`,

    checkRun(template: Template, runMode: RunMode) {
      if (runMode !== 'sbatch') throw new JobvisorError('RUN_MODE_NOT_ALLOWED', `the sbatch driver runs sbatch runs, not ${runMode}`);
      void template;
    },

    async startAgent(spec: AgentSpec): Promise<AgentHandle> {
      const creds = spec.credentials as Credentials | undefined;
      if (!creds) throw new JobvisorError('LOGIN_REQUIRED', `log in to the cluster ${s.host} to run there`);
      const ssh = await SshSession.open({ host: s.host, port: s.port, knownHosts: s.knownHosts, timeoutMs: s.connectTimeoutMs }, creds);
      try {
        const made = await ssh.exec(`mkdir -p ${s.remoteDir}/runs && cd ${s.remoteDir} && pwd`);
        const dir = made.stdout.trim();
        if (made.code !== 0 || !SAFE_PATH.test(dir)) throw new JobvisorError('AGENT_START_FAILED', `jobvisor's folder on the cluster cannot be used: ${made.stderr.trim() || dir}`);
        await upload(ssh, dir, o.templatesDir);
        const pid = await startRemote(ssh, dir, o, spec);
        o.log.info({ agentId: spec.agentId, host: s.host, clusterUser: creds.username, pid }, 'agent started on the login node');
        return handle(o, pid);
      } finally {
        ssh.end();
      }
    },

    /** After a supervisor restart the agent on the cluster goes on and reconnects by itself. */
    async adoptAgent(saved) {
      return handle(o, saved.pid ?? 0);
    },

    async close() {
      /* agents on the cluster outlive the supervisor on purpose: their Slurm jobs go on */
    },
  };
}
