/**
 * The docker driver: each agent runs in its own container, one per (user, size), on one of
 * the configured Docker engines (chosen by free slots, among those whose labels fit the run:
 * `poolLabels`, AgentSpec.pools). Containers carry jobvisor's labels so
 * this supervisor finds its own again (and only its own). The agent's token goes in over the
 * container's stdin, never into its environment or `docker inspect`.
 */
import { createHash } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { JobvisorError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Size } from '../../shared/types.js';
import type { AgentExit, AgentHandle, AgentSpec, Driver, TargetInfo } from '../driver.js';
import { refuseOptions } from '../common.js';
import type { SizeLimitsResolved } from '../targetSettings.js';
import { chooseEngine, connectEngine, engineError, whyNotAnswering, type Engine } from './engines.js';
import type { DockerSettings } from './settings.js';

export interface DockerDriverOptions {
  settings: DockerSettings;
  /** Each size's default engine slots and longest run. */
  sizes: Record<Size, SizeLimitsResolved>;
  runsDir: string;
  templatesDir: string;
  dataDir: string;
  logLevel: string;
  log: Logger;
}

export const LABEL = {
  managed: 'org.jobvisor.managed',
  instance: 'org.jobvisor.instance',
  agentId: 'org.jobvisor.agent-id',
  user: 'org.jobvisor.user',
  target: 'org.jobvisor.target',
  size: 'org.jobvisor.size',
} as const;

/** Where things are inside an agent container. */
export const IN_CONTAINER = { runs: '/jobvisor/runs', templates: '/opt/jobvisor/templates', node: '/usr/local/bin/node', agent: '/opt/jobvisor/jobvisor-agent.mjs' };

const containerName = (agentId: string) => `jobvisor-${agentId}`;

/** Tells this jobvisor's containers from another's on a shared engine. */
export function instanceId(dataDir: string): string {
  return createHash('sha256').update(`${os.hostname()}:${path.resolve(dataDir)}`).digest('hex').slice(0, 16);
}

function createOptions(o: DockerDriverOptions, spec: AgentSpec, instance: string, hostRuns: string): Docker.ContainerCreateOptions {
  const s = o.settings;
  const mode = spec.size;
  const limits = s.limits[mode];
  const binds = [`${hostRuns}:${IN_CONTAINER.runs}:rw`, `${o.templatesDir}:${IN_CONTAINER.templates}:ro`, ...s.mounts.map((m) => `${m.host}:${m.container}:${m.readOnly ? 'ro' : 'rw'}`)];
  return {
    name: containerName(spec.agentId),
    Image: s.images[mode],
    Entrypoint: [IN_CONTAINER.node, IN_CONTAINER.agent],
    Env: [`JOBVISOR_AGENT_ID=${spec.agentId}`, `JOBVISOR_AGENT_URL=${spec.supervisorUrl}`, `JOBVISOR_LOG_LEVEL=${o.logLevel}`, 'HOME=/tmp'],
    User: `${s.uid}:${s.gid}`,
    WorkingDir: '/tmp',
    Labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance, [LABEL.agentId]: spec.agentId, [LABEL.user]: spec.user, [LABEL.target]: s.name, [LABEL.size]: spec.size },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    HostConfig: {
      Init: true,
      NetworkMode: s.network,
      Binds: binds,
      NanoCpus: Math.round(limits.cpus * 1e9),
      Memory: limits.memoryMb * 1024 * 1024,
      MemorySwap: limits.memoryMb * 1024 * 1024,
      ...(limits.shmMb ? { ShmSize: limits.shmMb * 1024 * 1024 } : {}),
      ...(limits.gpus > 0 ? { DeviceRequests: [{ Driver: '', Count: limits.gpus, Capabilities: [['gpu']] }] } : {}),
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=256m' },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  };
}

/** The last lines of a container's log (stdout and stderr, without Docker's stream headers). */
async function containerLogTail(container: Docker.Container): Promise<string> {
  try {
    const buf = (await container.logs({ stdout: true, stderr: true, tail: 20, follow: false })) as unknown as Buffer;
    const out: Buffer[] = [];
    for (let i = 0; i + 8 <= buf.length; ) {
      const size = buf.readUInt32BE(i + 4);
      out.push(buf.subarray(i + 8, i + 8 + size));
      i += 8 + size;
    }
    return Buffer.concat(out).toString('utf8').trim();
  } catch {
    return '';
  }
}

/** Stops (with a timeout) and removes a container; gone already is fine. */
async function stopAndRemove(container: Docker.Container, timeoutSeconds: number): Promise<void> {
  await container.stop({ t: timeoutSeconds }).catch(() => undefined);
  await container.remove({ force: true }).catch(() => undefined);
}

function handleFor(engine: Engine, container: Docker.Container, timeoutSeconds: number): AgentHandle {
  let tail = '';
  const exited: Promise<AgentExit> = container
    .wait()
    .then(async (r: { StatusCode?: number }) => {
      tail = await containerLogTail(container);
      const code = r.StatusCode ?? -1;
      return { reason: code === 137 ? 'container was killed (exit code 137)' : `container exited with code ${code}` };
    })
    .catch((err: unknown) => ({ reason: `container is gone: ${engineError(err)}` }))
    .then(async (exit) => {
      await container.remove({ force: true }).catch(() => undefined);
      return exit;
    });
  return {
    host: engine.name,
    pool: engine.name,
    pid: null,
    exited,
    stop: () => stopAndRemove(container, timeoutSeconds).then(() => exited.then(() => undefined)),
    logTail: async () => tail || containerLogTail(container),
  };
}

async function startContainer(engine: Engine, options: Docker.ContainerCreateOptions, token: string): Promise<Docker.Container> {
  let container: Docker.Container;
  try {
    container = await engine.client.createContainer(options);
  } catch (err) {
    const e = err as { statusCode?: number };
    if (e.statusCode === 404) {
      throw new JobvisorError('AGENT_START_FAILED', `image ${options.Image} is not on engine ${engine.name}; build it with docker/build-agent-image.sh`);
    }
    throw new JobvisorError('AGENT_START_FAILED', `engine ${engine.name} could not create the agent container: ${engineError(err)}`);
  }
  try {
    const stdin = (await container.attach({ stream: true, stdin: true, stdout: false, stderr: false, hijack: true })) as NodeJS.ReadWriteStream;
    await container.start();
    stdin.end(token + '\n');
  } catch (err) {
    await container.remove({ force: true }).catch(() => undefined);
    throw new JobvisorError('AGENT_START_FAILED', `engine ${engine.name} could not start the agent container: ${engineError(err)}`);
  }
  return container;
}

export function createDockerDriver(o: DockerDriverOptions): Driver {
  const engines = o.settings.engines.map((e) => connectEngine({ ...e, slots: e.slots ?? { sequential: o.sizes.sequential.slots, parallel: o.sizes.parallel.slots } }));
  const instance = instanceId(o.dataDir);
  const handles = new Map<string, { user: string; engine: string; handle: AgentHandle }>();

  /** The engines (of those a run's labels allow, or all) that answer a ping. */
  async function answering(allowed?: readonly string[]): Promise<Engine[]> {
    const asked = allowed === undefined ? engines : engines.filter((e) => allowed.includes(e.name));
    const checks = await Promise.all(asked.map(async (e) => [e, await whyNotAnswering(e)] as const));
    for (const [e, why] of checks) if (why) o.log.warn({ engine: e.name, why }, 'docker engine skipped');
    const ok = checks.filter(([, why]) => !why).map(([e]) => e);
    if (ok.length === 0) {
      const which = allowed === undefined ? 'no Docker engine answers' : `no Docker engine that fits the run answers (${asked.map((e) => e.name).join(', ') || 'none fits'})`;
      throw new JobvisorError('AGENT_START_FAILED', `${which}: ${checks.map(([e, why]) => `${e.name}: ${why}`).join('; ')}`);
    }
    return ok;
  }

  function hostRunsFor(user: string): string {
    const dir = path.join(o.runsDir, user);
    mkdirSync(dir, { recursive: true });
    if (process.getuid?.() === 0) chownSync(dir, o.settings.uid, o.settings.gid);
    return dir;
  }

  function track(agentId: string, user: string, engine: Engine, handle: AgentHandle): AgentHandle {
    handles.set(agentId, { user, engine: engine.name, handle });
    void handle.exited.then(() => handles.delete(agentId));
    return handle;
  }

  const info: TargetInfo = { name: o.settings.name, kind: 'docker', title: o.settings.title ?? `Docker (${engines.map((e) => e.name).join(', ')})`, needsLogin: false, host: null, schedulerTitle: null, options: [] };
  return {
    info,
    pools: (size) => new Map(engines.map((e) => [e.name, e.config.slots?.[size] ?? 0])),
    maxTimeSeconds: (size) => o.sizes[size].maxTimeSeconds,
    runDir: (_user, jobId) => `${IN_CONTAINER.runs}/${jobId}`,
    // Inside the user's runs folder (the only one the container mounts); no job id starts with a dot.
    archiveDir: (_user, jobId) => `${IN_CONTAINER.runs}/.archive/${jobId}`,
    templatesDir: () => IN_CONTAINER.templates,
    poolLabels: () => ({ noun: 'engine', pools: new Map(engines.map((e) => [e.name, { ...o.settings.labels, ...e.config.labels }])) }),

    checkRun({ template, size, options }) {
      refuseOptions(info, options);
      const cpus = o.settings.limits[size].cpus;
      if (template.resources.cores > Math.max(1, Math.ceil(cpus))) {
        throw new JobvisorError('RESOURCES_EXCEED_LIMIT', `template ${template.name} asks for ${template.resources.cores} cores; ${size} containers of target ${info.name} have ${cpus} CPUs at most`);
      }
    },

    async startAgent(spec: AgentSpec): Promise<AgentHandle> {
      const userEngines = new Set([...handles.values()].filter((h) => h.user === spec.user).map((h) => h.engine));
      const engine = chooseEngine(await answering(spec.pools), spec.freeSlots, userEngines) as Engine;
      o.log.info({ agentId: spec.agentId, engine: engine.name, image: o.settings.images[spec.size] }, 'starting agent container');
      const container = await startContainer(engine, createOptions(o, spec, instance, hostRunsFor(spec.user)), spec.token);
      return track(spec.agentId, spec.user, engine, handleFor(engine, container, o.settings.stopTimeoutSeconds));
    },

    async adoptAgent(saved) {
      const engine = engines.find((e) => e.name === saved.host);
      if (!engine) return undefined;
      const container = engine.client.getContainer(containerName(saved.agentId));
      const info = await container.inspect().catch(() => undefined);
      if (!info || info.Config.Labels?.[LABEL.instance] !== instance) return undefined;
      if (!info.State.Running) {
        await container.remove({ force: true }).catch(() => undefined);
        return undefined;
      }
      return track(saved.agentId, info.Config.Labels?.[LABEL.user] ?? '', engine, handleFor(engine, container, o.settings.stopTimeoutSeconds));
    },

    async removeLeftovers(keep) {
      for (const engine of engines) {
        if (await whyNotAnswering(engine)) continue;
        const list = await engine.client.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`] } });
        for (const c of list) {
          const id = c.Labels[LABEL.agentId] ?? '';
          // Another target's container on a shared engine is that target's to remove (0.1 containers had no target).
          const owner = c.Labels[LABEL.target];
          if (keep.has(id) || (owner !== undefined && owner !== info.name)) continue;
          o.log.info({ engine: engine.name, container: c.Names[0], agentId: id }, 'removing leftover agent container');
          await engine.client.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        }
      }
    },

    async close() {
      await Promise.all([...handles.values()].map((h) => h.handle.stop()));
    },
  };
}
