/**
 * Starts the server process: accounts, the admin account on a first start, the shared secret,
 * the one event subscription to the supervisor, and the HTTP listener.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { envName, quotaOf, supervisorHttpUrl, type Config } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { trackConnections } from '../shared/httpClose.js';
import { loadOrCreateSecret } from '../shared/secret.js';
import { Accounts, type CreatedAdmin } from './accounts.js';
import { createServer } from './app.js';
import { EventFanout } from './events.js';
import { SupervisorClient } from './supervisorClient.js';

export interface RunningServer {
  url: string;
  port: number;
  /** Stops listening, ends event streams and the supervisor subscription, closes the database. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 5_000;

export async function startServer(given: Config, logger: Logger = createLogger('server', given.logLevel)): Promise<RunningServer> {
  const accounts = Accounts.open(given);
  try {
    announceAdmin(await accounts.ensureAdmin(given), logger);
    const config = forgetAdminPassword(given);
    const secret = loadOrCreateSecret(config);
    const supervisor = new SupervisorClient({ baseUrl: supervisorHttpUrl(config), secret, logger });
    const events = new EventFanout({
      logger,
      keepaliveMs: config.eventsKeepaliveMs,
      maxBufferedBytes: config.eventsMaxBufferedBytes,
      streamsPerUser: (role) => quotaOf(config.quotas, role).eventStreams,
      backlog: (after, limit) => supervisor.eventBacklog(after, limit),
    });
    const app = createServer({ config, accounts, supervisor, events, logger });
    const server = http.createServer(app.callback());
    const closeHttpServer = trackConnections(server);
    const port = await listen(server, config.serverPort, config.serverHost);
    const stopEvents = new AbortController();
    const subscription = supervisor.subscribeEvents((event, id, data) => events.publish(event, id, data), stopEvents.signal, {
      onConnect: () => logger.info('connected to the supervisor event stream'),
      onResync: () => events.resync(),
    });
    const url = `http://${urlHost(config.serverHost)}:${port}`;
    logger.info({ url }, 'server listening');
    const close = async () => {
      const started = Date.now();
      stopEvents.abort();
      events.close();
      await closeHttpServer(CLOSE_GRACE_MS);
      logger.debug({ ms: Date.now() - started }, 'http server closed');
      await subscription;
      await supervisor.close();
      accounts.close();
      logger.info({ ms: Date.now() - started }, 'server stopped');
    };
    return { url, port, close: once(close) };
  } catch (err) {
    accounts.close();
    throw err;
  }
}

/**
 * The admin password is needed for the first start's admin account only: afterwards it is in
 * neither the config the server keeps nor its environment, so nothing it starts or dumps can
 * carry it on. (The kernel keeps the environment the process started with in
 * /proc/<pid>/environ, readable by its own OS user and root only.)
 */
function forgetAdminPassword(config: Config): Config {
  delete process.env[envName('adminPassword')];
  return { ...config, adminPassword: undefined };
}

function announceAdmin(created: CreatedAdmin | undefined, logger: Logger): void {
  if (!created) return;
  if (created.passwordFile) {
    logger.info({ user: created.username, passwordFile: created.passwordFile }, 'created admin account');
    process.stdout.write(`jobvisor: created admin account '${created.username}'; password in ${created.passwordFile}\n`);
  } else {
    logger.info({ user: created.username }, 'created admin account with the configured password');
  }
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
