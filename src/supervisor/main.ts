/**
 * The supervisor: `createSupervisor(deps)` wires the job service, agents, agent websockets,
 * logins and the internal HTTP API around injected drivers and a job store, without
 * listening (a test can run it with any driver); `startSupervisor(config)` builds those from
 * the configuration, listens, and takes back whatever a previous supervisor left.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import Koa from 'koa';
import { agentWsUrl, quotaOf, uploadsDir, type Config } from '../shared/config.js';
import type { JobEvent } from '../shared/api.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { AGENT_PATH } from '../shared/protocol.js';
import { trackConnections } from '../shared/httpClose.js';
import { loadOrCreateSecret, privateDir, privateFile } from '../shared/secret.js';
import type { Template } from '../shared/template.js';
import { isActive, SIZES, type Size } from '../shared/types.js';
import { BACKENDS, createDrivers, refuseRetiredEnvironment } from '../drivers/registry.js';
import type { Backend, Driver } from '../drivers/driver.js';
import { errorHandler, routeNotFound } from '../shared/httpErrors.js';
import { AgentHub } from './agentHub.js';
import { AgentManager } from './agents.js';
import { EventBus } from './events.js';
import { JobService } from './jobs.js';
import { Logins } from './logins.js';
import type { ReadDeps } from './reads.js';
import { caller, createSupervisorRouter } from './routes.js';
import { addPipelineRoutes } from './pipelines/routes.js';
import { addRunsRoutes } from './runsRoutes.js';
import { RUN_END_GRACE_MS, RunWatch } from './runWatch.js';
import { Slots } from './slots.js';
import type { JobRow, JobStore } from './store.js';
import { TemplateCatalog } from './templates.js';
import { addTemplateRoutes } from './templateRoutes.js';
import { SqliteJobStore } from './store/sqlite.js';
import { Targets } from './targets.js';
import { stageInputs } from './staging.js';
import { SqliteUploadStore, type UploadStore } from './store/uploads.js';
import { UploadService } from './uploads.js';
import { Notifications } from './notify/notifications.js';
import { addNotifyRoutes } from './notifyRoutes.js';
import { addBatchRoutes } from './batchRoutes.js';
import { StaleRuns } from './staleRuns.js';
import { jobDir, newRunDir } from './runFiles.js';
import { keepRunsOf, pruneEarlierRuns, type KeptRunsDeps } from './keptRuns.js';
import { Retention } from './retention.js';
import { SqliteScheduleStore } from './schedules/store.js';
import { ScheduleService } from './schedules/service.js';
import { Scheduler } from './schedules/scheduler.js';
import { addScheduleRoutes } from './schedules/routes.js';
import { createPipelines } from './pipelines/wiring.js';
import type { PipelineStore } from './pipelines/store.js';
import { SqlitePipelineStore } from './pipelines/store.js';
import { SqliteWorkerStore } from './store/workers.js';
import { WorkerPool } from './workers/pool.js';
import { addWorkerRoutes } from './workers/routes.js';
import { requiresCheck } from './workers/requires.js';
import { TemplateSync } from './workers/templateSync.js';
import { clearStaleSocket, listenOnSocket, removeSocket } from './socket.js';
import { createSupervisorMetrics, type SupervisorMetrics } from './metrics.js';
import { createSupervisorMetricsRouter } from './metricsRoutes.js';
import { coalesceJobEvents } from './eventCoalescer.js';

export interface SupervisorDeps {
  config: Config;
  /** The drivers of the targets, by target name, in the config's order. */
  drivers: ReadonlyMap<string, Driver>;
  backends?: ReadonlyMap<string, Backend>;
  /** Made once the targets are known (a 0.1 database is migrated onto them). */
  store: (targets: Targets) => JobStore;
  /** A fixed set of templates (tests), or the folder to load, watch and reload them from (templates.ts). */
  templates: Map<string, Template> | { dir: string; watch: boolean; reloadDelayMs: number };
  secret: string;
  log: Logger;
  /** The websocket URL agents connect back to (known once the supervisor listens). */
  agentUrl: () => string;
  /** The store of uploaded input files (default: in memory). */
  uploadStore?: () => UploadStore;
  /** The store of schedules (default: in memory). */
  scheduleStore?: () => SqliteScheduleStore;
  /** The store of pipelines (default: in memory). */
  pipelineStore?: () => PipelineStore;
  /** The store of enrollment tokens, workers and run requirements (default: in memory). */
  workerStore?: () => SqliteWorkerStore;
  /** How long past its time limit a run may still be ended by its agent before the supervisor ends it (default RUN_END_GRACE_MS). */
  runEndGraceMs?: number;
  /** Its Prometheus metrics (default: a registry of its own). */
  metrics?: SupervisorMetrics;
}

export interface Supervisor {
  app: Koa;
  /** For `server.on('upgrade')`: agent websockets on AGENT_PATH. */
  handleUpgrade: AgentHub['handleUpgrade'];
  targets: Targets;
  /** The templates offered, reloadable (SIGHUP, the admin call, the folder watch). */
  templates: TemplateCatalog;
  /** Takes back what a previous supervisor left: agents, active jobs. */
  recover(): Promise<void>;
  /** Stops idle agents (agents with runs going stay, for the next supervisor), then the store; `drain` runs before the store closes. */
  close(drain?: () => Promise<void>): Promise<void>;
}

export function createSupervisor(deps: SupervisorDeps): Supervisor {
  const { config, log, drivers } = deps;
  const targets = new Targets(drivers, deps.backends ?? BACKENDS);
  const warnUnknown = (t: Template) => {
    const unknown = targets.unknownNames(t);
    if (unknown.length > 0) log.warn({ template: t.name, unknown, targets: targets.names() }, 'template names targets or drivers this site does not have');
  };
  const catalog = templateCatalog(deps.templates, log, warnUnknown, () => jobs.active().map((j) => j.row));
  const templates = catalog.current;
  const store = deps.store(targets);
  const events = new EventBus(store, log);
  const uploads = new UploadService(deps.uploadStore?.() ?? new SqliteUploadStore(':memory:'), uploadsDir(config), config, log);
  const notifications = new Notifications({ config, store, log });
  const publish = (event: JobEvent) => {
    const e = pipelines.annotate(event);
    notifications.onEvent(e);
    events.emit(e);
    pipelines.onJobEvent(e);
    releaseInputs(uploads, e);
    // A run that has just ended is measured (its agent is live) for disk use.
    if (e.type === 'job' && e.job.endedAt !== null && e.job.bytes === null && e.job.files === 'kept' && !isActive(e.job.status)) retention.measureEnded(e.job.jobId, e.job.serial);
  };
  // One event per job per turn of the event loop (eventCoalescer.ts).
  const coalescer = coalesceJobEvents(publish, (err, e) => log.error({ err, type: e.type }, 'publishing an event failed'));
  const emit = coalescer.emit;
  const driverOf = (target: string): Driver => targets.require(target);
  const metrics = deps.metrics ?? createSupervisorMetrics();
  const targetOf = (agentId: string) => agents.get(agentId)?.target ?? 'unknown';

  const cpuPools = new Map<string, Slots>();
  const cpuSlots = (target: string, size: Size, pool: string) => {
    if (workers.handles({ target })) return workers.slotsOf(pool);
    const key = `${target}/${pool}/${size}`;
    let s = cpuPools.get(key);
    if (!s) {
      s = new Slots(`cpu ${key}`, drivers.get(target)?.pools(size).get(pool) ?? 1, metrics.slotWaitObserver(target, pool, size));
      cpuPools.set(key, s);
    }
    return s;
  };

  const agents = new AgentManager({
    store,
    drivers,
    supervisorUrl: deps.agentUrl,
    freeSlots: (target, size, pool) => {
      const s = cpuSlots(target, size, pool);
      return s.total - s.used;
    },
    startTimeoutMs: config.agentStartTimeoutMs,
    idleMs: config.agentIdleMs,
    lostAfterMs: config.agentLostMs,
    log,
    sendShutdown: async (id, reason) => {
      await hub.send(id, { kind: 'shutdown', reason }, AbortSignal.timeout(2000));
    },
    onAgentGone: (id, reason) => {
      metrics.agentGone(id);
      jobs.onAgentGone(id, reason);
    },
    onChange: () => workers.changed(),
    pinned: (target, op) => workers.agentForOp(target, op),
  });
  const workerStore = deps.workerStore?.() ?? new SqliteWorkerStore(':memory:');
  const workers: WorkerPool = new WorkerPool({ store: workerStore, agents, drivers, log, heartbeatMs: config.heartbeatMs, activeRuns: () => jobs.active().map((j) => j.row) });
  const hub = new AgentHub(
    {
      authenticate: (id, token) => agents.authenticate(id, token),
      onConnect: (id) => {
        metrics.agentConnected(id, targetOf(id));
        agents.onConnect(id);
      },
      onHello: (id, hello) => {
        metrics.agentHello(targetOf(id), hello.pendingUpdates);
        return jobs.onHello(id, hello);
      },
      onSchedulerCommands: (id, counts) => metrics.schedulerCommands(id, targetOf(id), counts),
      onUpdate: (id, update) => jobs.onUpdate(id, update),
      onDisconnect: (id, why) => {
        agents.onDisconnect(id, why);
        workers.onDisconnect(id);
      },
      onHeartbeat: (id) => agents.onHeartbeat(id),
      authenticateWorker: (id, token, claim) => workers.authenticate(id, token, claim),
      onResources: (id, free) => workers.onResources(id, free),
    },
    log,
    config.heartbeatMs,
    metrics,
  );
  const requires = requiresCheck(config, workers, workerStore, drivers);
  const templateSync = new TemplateSync({ agents, hub, maxBytes: config.workerTemplateMaxBytes, opTimeoutMs: config.agentStartTimeoutMs + 10_000 });
  const jobs: JobService = new JobService({
    store,
    templates,
    templateForRun: (row) => catalog.forRun(row),
    agents,
    hub,
    log,
    emit,
    targets,
    uploads,
    restartGraceMs: config.restartGraceMs,
    quotas: config.quotas,
    callbackPrefixes: config.callbacks?.allowedPrefixes ?? [],
    newRunDir: (target, user, jobId, serial) => newRunDir(driverOf(target), user, jobId, serial),
    keepRuns: config.keepRuns,
    requires,
    context: {
      fit: (row, template) => requires.fit(row.target, template, row.id, row.serial),
      syncTemplate: async (agent, template, signal) => void (await templateSync.sync(agent.id, template, signal)),
      placement: {
        handles: (row) => workers.handles(row),
        place: (row, template, signal, onWaiting) => workers.place(row, template, workerStore.requires(row.id, row.serial), signal, onWaiting),
      },
      onRunEnd: (row) => {
        metrics.runEnded(row);
        notifications.runEnded(row);
      },
      onRunning: (row) => metrics.runStarted(row, (row.agentId !== null ? agents.get(row.agentId)?.handle.pool : undefined) ?? 'default'),
      cpuSlots: (row, pool) => cpuSlots(row.target, row.size, pool),
      runDir: (row) => row.runDir ?? jobDir(driverOf(row.target), row.user, row.id),
      templatesDir: (row) => driverOf(row.target).templatesDir(),
      maxTimeSeconds: (row) => driverOf(row.target).maxTimeSeconds(row.size),
      agentWaitMs: config.agentStartTimeoutMs,
      stageInputs: (row, agent, runDir, signal) => stageInputs({ agents, hub, uploads, opTimeoutMs: config.agentStartTimeoutMs + 10_000 }, agent.id, row, runDir, signal),
      prepareRunOp: (row, template, op) => driverOf(row.target).prepareRunOp?.(op, { jobId: row.id, serial: row.serial, template, size: row.size, options: row.options }) ?? op,
      describeTarget: (row) => {
        const info = drivers.get(row.target)?.info;
        return { title: info?.title ?? `target ${row.target}`, scheduler: info?.schedulerTitle ?? null };
      },
    },
  });
  const runDir: ReadDeps['runDir'] = (job) => job.row.runDir ?? jobDir(driverOf(job.row.target), job.row.user, job.row.id);
  const analysisPlaces = new Map<string, Slots>();
  const analysisSlots: ReadDeps['analysisSlots'] = (job, role) => {
    const r = job.row;
    const key = `${r.target}/${r.user}/${drivers.get(r.target)?.info.needsLogin ? '*' : r.size}`;
    let s = analysisPlaces.get(key);
    if (!s) analysisPlaces.set(key, (s = new Slots(`analyses ${key}`, quotaOf(config.quotas, role).analyses)));
    return s;
  };
  const reads: ReadDeps = { agents, hub, jobs, runDir, templatesDir: (job) => driverOf(job.row.target).templatesDir(), opTimeoutMs: config.agentStartTimeoutMs + 10_000, analysisSlots, targets, store };
  const kept: KeptRunsDeps = { agents, hub, jobs, store, targets, log, keepRuns: config.keepRuns, opTimeoutMs: reads.opTimeoutMs };
  jobs.onRunStarted = (job, template) => {
    pruneEarlierRuns(kept, job.id, keepRunsOf(kept, template)).catch((err: unknown) => log.warn({ jobId: job.id, err: (err as Error).message }, 'earlier runs beyond those kept could not be removed (tried again at the next run)'));
  };
  const retention = new Retention({ agents, hub, jobs, store, targets, log, settings: config.retention, sweepSeconds: config.retentionSweepSeconds, opTimeoutMs: reads.opTimeoutMs });
  const logins = new Logins({ targets, agents, hub, jobs, loginTimeoutMs: config.agentStartTimeoutMs + 30_000, runDir });
  jobs.onAgentHello = (agent, all) => logins.reattach(agent, all);
  const pipelines = createPipelines({ config, log, store, jobs, reads, uploads, emit, templates, pipelineStore: deps.pipelineStore?.() ?? new SqlitePipelineStore(':memory:') });
  jobs.pipelineOf = (jobId) => pipelines.pipelineOf(jobId);

  const slotUsage = () =>
    targets.all().flatMap((d) =>
      SIZES.flatMap((size) =>
        [...d.pools(size).keys()].map((pool) => {
          const s = cpuSlots(d.info.name, size, pool);
          return { target: d.info.name, driver: d.info.kind, pool, size, total: s.total, used: s.used, waiting: s.waiting };
        }),
      ),
    );
  metrics.bind({ runCounts: () => store.countRuns(), slotUsage, agents: () => agents.list(), workers: () => workers.list() });
  const app = new Koa();
  const router = createSupervisorRouter({
    secret: deps.secret, jobs, agents, events, reads, logins, slotUsage, maxBodyBytes: config.maxBodyBytes,
    uploads: { service: uploads, template: (name) => templates.get(name) },
  });
  addNotifyRoutes(router, { store });
  addBatchRoutes(router, { jobs, maxRuns: config.maxBatchRuns, maxBodyBytes: config.maxBatchBodyBytes, log });
  addRunsRoutes(router, { retention, store });
  const scheduleStore = deps.scheduleStore?.() ?? new SqliteScheduleStore(':memory:');
  const scheduler = new Scheduler({ store: scheduleStore, jobs, log });
  const schedules = new ScheduleService({
    store: scheduleStore, jobs, log, maxPerUser: config.maxSchedulesPerUser, minIntervalSeconds: config.minScheduleIntervalSeconds, changed: () => scheduler.changed(),
  });
  addScheduleRoutes(router, schedules, config.maxBodyBytes);
  addPipelineRoutes(router, pipelines, caller, config.maxBodyBytes);
  addWorkerRoutes(router, { pool: workers, store: workerStore, drivers, maxBodyBytes: config.maxBodyBytes, agentUrl: deps.agentUrl });
  addTemplateRoutes(router, catalog, config.maxBodyBytes);
  app.use(errorHandler(log));
  app.use(createSupervisorMetricsRouter({ metrics, store, secret: deps.secret, access: config.metricsAccess, token: config.metricsToken }).routes());
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(routeNotFound);
  app.on('error', (err: Error) => log.debug({ err: err.message }, 'request stream error'));

  const prune = setInterval(() => jobs.pruneEnded(), 60_000);
  prune.unref();
  const runWaits = (jobId: string, serial: number) => {
    const row = store.getJob(jobId);
    return row !== undefined && row.serial === serial && row.status === 'pending' && row.externalId === null;
  };
  const sweepUploads = (full: boolean) => void uploads.sweep(full, runWaits).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'upload sweep failed'));
  const uploadSweep = setInterval(() => sweepUploads(false), Math.min(60_000, Math.max(1000, (config.uploadTtlSeconds * 1000) / 4)));
  uploadSweep.unref();
  sweepUploads(true);
  // Runs past their time limit, and runs their agent no longer has, are ended by the supervisor itself (every heartbeat).
  const watch = new RunWatch({
    active: () => jobs.active(),
    hub,
    timeLimitSeconds: (job) => Math.min(jobs.template(job.row).timeLimitSeconds, driverOf(job.row.target).maxTimeSeconds(job.row.size)),
    graceMs: deps.runEndGraceMs ?? config.runEndGraceMs ?? RUN_END_GRACE_MS,
    intervalMs: config.heartbeatMs,
    opTimeoutMs: config.agentStartTimeoutMs,
    log,
    now: Date.now,
  });
  const stale = new StaleRuns({
    active: () => jobs.active(),
    template: (row) => catalog.forRun(row),
    onStale: (row, flag) => notifications.stale(row, flag),
    intervalMs: config.staleCheckSeconds * 1000,
    log,
  });
  return {
    app,
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    targets,
    templates: catalog,
    async recover() {
      await jobs.recover();
      await pipelines.recover();
      notifications.start();
      retention.start();
      scheduler.start();
    },
    async close(drain) {
      catalog.close();
      await scheduler.close();
      clearInterval(prune);
      clearInterval(uploadSweep);
      await retention.close();
      watch.close();
      stale.close();
      await notifications.close();
      await agents.close();
      hub.close();
      coalescer.flush();
      workers.close();
      events.close();
      await drain?.();
      store.close();
      uploads.close();
      scheduleStore.close();
      pipelines.close();
      workerStore.close();
    },
  };
}

/** The catalog of a fixed set of templates, or of a folder (loaded now, then watched if asked). */
function templateCatalog(given: SupervisorDeps['templates'], log: Logger, onLoaded: (t: Template) => void, activeRuns: () => JobRow[]): TemplateCatalog {
  if (given instanceof Map) {
    const catalog = new TemplateCatalog({ dir: '', log, activeRuns });
    for (const t of given.values()) {
      catalog.offer(t);
      onLoaded(t);
    }
    return catalog;
  }
  const catalog = new TemplateCatalog({ dir: given.dir, log, activeRuns, onLoaded, debounceMs: given.reloadDelayMs });
  catalog.reload('start');
  if (given.watch) catalog.watch();
  return catalog;
}

/** A run that has started (or was handed to a scheduler) or ended no longer needs its uploads; nor does a deleted job. */
function releaseInputs(uploads: UploadService, e: JobEvent): void {
  if (e.type === 'deleted') uploads.release(e.jobId);
  // A run without input files claimed none (uploads of an earlier run whose release was missed go at the next upload sweep).
  else if (e.type === 'job' && e.job.inputs?.length !== 0 && (e.job.status !== 'pending' || e.job.externalId !== null)) uploads.release(e.job.jobId, e.job.serial);
}

export interface RunningSupervisor {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startSupervisor(config: Config, log: Logger = createLogger('supervisor', config.logLevel), env: NodeJS.ProcessEnv = process.env): Promise<RunningSupervisor> {
  refuseRetiredEnvironment(env);
  const drivers = createDrivers(config, log);
  privateDir(config.dataDir);
  privateFile(path.join(config.dataDir, 'jobs.sqlite'));
  // Before the database opens: a supervisor that still listens on the socket keeps it.
  if (config.supervisorSocket !== undefined) await clearStaleSocket(config.supervisorSocket);
  let port = config.supervisorPort;
  const supervisor = createSupervisor({
    config,
    drivers,
    store: (targets) => new SqliteJobStore(path.join(config.dataDir, 'jobs.sqlite'), targets.legacyPlacement),
    uploadStore: () => new SqliteUploadStore(path.join(config.dataDir, 'jobs.sqlite')),
    scheduleStore: () => new SqliteScheduleStore(path.join(config.dataDir, 'jobs.sqlite')),
    pipelineStore: () => new SqlitePipelineStore(path.join(config.dataDir, 'jobs.sqlite')),
    workerStore: () => new SqliteWorkerStore(path.join(config.dataDir, 'jobs.sqlite')),
    templates: { dir: config.templatesDir, watch: config.templatesWatch, reloadDelayMs: config.templatesReloadDelayMs },
    secret: loadOrCreateSecret(config),
    log,
    agentUrl: () => agentWsUrl(config, port),
  });
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== AGENT_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    supervisor.handleUpgrade(req, socket, head);
  };
  const listening = () => {
    const server = http.createServer(supervisor.app.callback());
    server.on('upgrade', onUpgrade);
    return { server, close: trackConnections(server) };
  };
  const closers: ((graceMs: number) => Promise<void>)[] = [];
  const socketFile = config.supervisorSocket;
  if (socketFile !== undefined) {
    const unix = listening();
    await listenOnSocket(unix.server, socketFile);
    closers.push(async (graceMs) => {
      await unix.close(graceMs);
      removeSocket(socketFile);
    });
  }
  let url = `unix:${socketFile ?? ''}`;
  if (config.supervisorTcp) {
    const tcp = listening();
    closers.push(tcp.close);
    await new Promise<void>((resolve, reject) => {
      tcp.server.once('error', reject);
      tcp.server.listen(config.supervisorPort, config.supervisorHost, () => resolve());
    });
    port = (tcp.server.address() as AddressInfo).port;
    url = `http://${config.supervisorHost}:${port}`;
  }
  await supervisor.recover();
  const onHangup = () => void supervisor.templates.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  log.info({ url, socket: socketFile, targets: supervisor.targets.names() }, 'supervisor listening');
  return {
    url,
    port,
    close: () => {
      process.off('SIGHUP', onHangup);
      return supervisor.close(async () => void (await Promise.all(closers.map((c) => c(5000)))));
    },
  };
}
