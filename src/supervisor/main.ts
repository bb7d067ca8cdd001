/**
 * Starts the supervisor process: database, templates, drivers, agent websockets, the job
 * service and its internal HTTP API, then takes back whatever a previous supervisor left.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import { agentWsUrl, type Config } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { AGENT_PATH } from '../shared/protocol.js';
import { trackConnections } from '../shared/httpClose.js';
import { loadOrCreateSecret } from '../shared/secret.js';
import { loadTemplates } from '../shared/template.js';
import type { RunMode } from '../shared/types.js';
import { createDrivers, driverFor } from '../drivers/index.js';
import { errorHandler, routeNotFound } from '../shared/httpErrors.js';
import { AgentHub } from './agentHub.js';
import { AgentManager } from './agents.js';
import { JobStore } from './db.js';
import { EventBus } from './events.js';
import { JobService } from './jobs.js';
import { createSupervisorRouter } from './routes.js';
import { Slots } from './slots.js';
import { ClusterService } from './cluster.js';
import { completeSbatchOp, loadScriptTemplate, slurmOptions } from './sbatchScript.js';
import { JobvisorError } from '../shared/errors.js';
import type { ReadDeps } from './reads.js';

/** Every (driver, pool, run mode) the configuration offers: the local machine, each Docker engine, the cluster. */
function pools(drivers: Map<string, unknown>, config: Config): [string, string, RunMode][] {
  const out: [string, string, RunMode][] = [];
  for (const runMode of ['sequential', 'parallel'] as const) {
    const driver = driverFor(config, runMode);
    const names = driver === 'docker' ? config.docker.engines.map((e) => e.name) : ['local'];
    for (const pool of names) out.push([driver, pool, runMode]);
  }
  if (drivers.has('sbatch')) out.push(['sbatch', 'cluster', 'sbatch']);
  return out;
}

export interface RunningSupervisor {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startSupervisor(config: Config, log: Logger = createLogger('supervisor', config.logLevel)): Promise<RunningSupervisor> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = loadOrCreateSecret(config);
  const templates = loadTemplates(config.templatesDir);
  const store = new JobStore(path.join(config.dataDir, 'jobs.sqlite'));
  const drivers = createDrivers(config, log);
  const scriptTemplate = config.sbatch ? loadScriptTemplate(config.sbatch) : '';
  const events = new EventBus();
  let port = config.supervisorPort;

  const cpuPools = new Map<string, Slots>();
  const cpuSlots = (driver: string, runMode: RunMode, pool: string) => {
    const key = `${driver}/${pool}/${runMode}`;
    let s = cpuPools.get(key);
    if (!s) {
      s = new Slots(`cpu ${key}`, drivers.get(driver)?.slots(runMode, pool) ?? 1);
      cpuPools.set(key, s);
    }
    return s;
  };
  const driverOf = (name: string) => {
    const d = drivers.get(name);
    if (!d) throw new Error(`no driver ${name}`);
    return d;
  };

  const agents = new AgentManager({
    store,
    drivers,
    supervisorUrl: () => agentWsUrl(config, port),
    freeSlots: (driver, runMode, pool) => {
      const s = cpuSlots(driver, runMode, pool);
      return s.total - s.used;
    },
    startTimeoutMs: config.agentStartTimeoutMs,
    idleMs: config.agentIdleMs,
    log,
    sendShutdown: async (id, reason) => {
      await hub.send(id, { kind: 'shutdown', reason }, AbortSignal.timeout(2000));
    },
    onAgentGone: (id, reason) => jobs.onAgentGone(id, reason),
    onChange: () => undefined,
  });
  const hub = new AgentHub(
    {
      authenticate: (id, token) => agents.authenticate(id, token),
      onConnect: (id) => agents.onConnect(id),
      onHello: (id, hello) => jobs.onHello(id, hello),
      onUpdate: (id, update) => jobs.onUpdate(id, update),
      onDisconnect: (id) => agents.onDisconnect(id),
      onHeartbeat: (id) => agents.onHeartbeat(id),
    },
    log,
    config.heartbeatMs,
  );
  const maxTime: Record<RunMode, number> = { sequential: config.maxTimeSequential, parallel: config.maxTimeParallel, sbatch: config.maxTimeSbatch };
  const jobs: JobService = new JobService({
    store,
    templates,
    agents,
    hub,
    log,
    emit: (e) => events.emit(e),
    driverFor: (runMode) => driverFor(config, runMode),
    checkRun: (template, runMode, slurm) => {
      if (runMode === 'sbatch' && !config.sbatch) throw new JobvisorError('RUN_MODE_NOT_ALLOWED', 'no cluster is configured for sbatch runs');
      driverOf(driverFor(config, runMode)).checkRun?.(template, runMode);
      if (config.sbatch && runMode === 'sbatch') slurmOptions(config.sbatch, slurm, Math.min(template.timeLimitSeconds, config.maxTimeSbatch));
    },
    restartGraceMs: config.restartGraceMs,
    context: {
      cpuSlots: (driver, row, pool) => cpuSlots(driver, row.runMode, pool),
      runDir: (row) => driverOf(row.driver).runDir(row.user, row.id),
      templatesDir: (row) => driverOf(row.driver).templatesDir(),
      maxTimeSeconds: (row) => maxTime[row.runMode],
      agentWaitMs: config.agentStartTimeoutMs,
      completeRunOp: (row, op) => (row.driver === 'sbatch' && config.sbatch ? completeSbatchOp(config.sbatch, scriptTemplate, { jobId: row.id, serial: row.serial, slurm: row.slurm }, op) : op),
    },
  });
  const reads: ReadDeps = {
    agents,
    hub,
    jobs,
    runDir: (job) => driverOf(job.row.driver).runDir(job.row.user, job.row.id),
    templatesDir: (job) => driverOf(job.row.driver).templatesDir(),
    opTimeoutMs: config.agentStartTimeoutMs + 10_000,
  };

  const cluster = new ClusterService({
    configured: config.sbatch !== undefined,
    host: config.sbatch?.host ?? '',
    agents,
    hub,
    jobs,
    loginTimeoutMs: (config.sbatch?.connectTimeoutMs ?? 20_000) + config.agentStartTimeoutMs,
    runDir: (job) => driverOf(job.row.driver).runDir(job.row.user, job.row.id),
  });
  jobs.onAgentHello = (agent, all) => cluster.reattach(agent, all);

  const app = new Koa();
  const slotUsage = () => pools(drivers, config).map(([driver, pool, runMode]) => {
    const s = cpuSlots(driver, runMode, pool);
    return { driver, pool, runMode, total: s.total, used: s.used, waiting: s.waiting };
  });
  const router = createSupervisorRouter({ secret, jobs, agents, events, reads, cluster, slotUsage, maxBodyBytes: config.maxBodyBytes });
  app.use(errorHandler(log));
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(routeNotFound);
  app.on('error', (err: Error) => log.debug({ err: err.message }, 'request stream error'));

  const server = http.createServer(app.callback());
  const closeHttpServer = trackConnections(server);
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== AGENT_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    hub.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.supervisorPort, config.supervisorHost, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  await jobs.recover();
  const prune = setInterval(() => jobs.pruneEnded(), 60_000);
  prune.unref();
  const url = `http://${config.supervisorHost}:${port}`;
  log.info({ url, templates: [...templates.keys()], drivers: [...drivers.keys()] }, 'supervisor listening');

  return {
    url,
    port,
    async close() {
      clearInterval(prune);
      await agents.close();
      hub.close();
      events.close();
      await closeHttpServer(5000);
      store.close();
    },
  };
}
