#!/usr/bin/env node
/**
 * The `jobvisor` command.
 *
 *   jobvisor start       server and supervisor together for one machine (two OS processes)
 *   jobvisor server      the HTTP API (Koa)
 *   jobvisor supervisor  the supervisor (jobs, agents, drivers)
 *   jobvisor agent       an agent (started by a driver), or with --enroll an enrolled worker started by hand (src/agent/enroll.ts)
 *
 * Options: --config FILE (a JSON config file; same as JOBVISOR_CONFIG). Every setting can also
 * be given as an environment variable JOBVISOR_<SETTING>; see README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from './shared/config.js';
import { delay, type RetryPolicy } from './shared/retry.js';
import { runAgentProcess } from './agent/main.js';
import { startServer } from './server/main.js';
import { startSupervisor } from './supervisor/main.js';
import { templatesCheck } from './cli/templatesCheck.js';

const USAGE = 'usage: jobvisor <start|server|supervisor|agent> [--config FILE]';

function parseArgs(argv: string[]): { command: string | undefined; configFile: string | undefined } {
  let configFile: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config') configFile = argv[++i];
    else if (a.startsWith('--config=')) configFile = a.slice('--config='.length);
    else rest.push(a);
  }
  return { command: rest[0], configFile };
}

function onStopSignal(stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      void stop().then(() => process.exit(0), () => process.exit(1));
    });
  }
}

/** A crashed child starts again after 1 s, 2 s, 4 s ... up to 30 s; one that ran a minute starts the count again. */
const RESTART_POLICY: RetryPolicy = { baseMs: 1000, maxMs: 30_000, jitter: 0.2 };
const STEADY_MS = 60_000;
/** A child that stops at once with exit code 2 (a configuration error) is not started again: it would only fail again. */
const CONFIG_ERROR_EXIT = 2;

/**
 * Runs server and supervisor as two child processes, each with only the environment it needs
 * (the supervisor never sees the admin password). A child that crashes is started again with a
 * growing delay, and says so; a signal stops both.
 */
async function startBoth(config: Config, configFile: string | undefined): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const base: NodeJS.ProcessEnv = { ...process.env, ...(configFile ? { JOBVISOR_CONFIG: configFile } : {}) };
  const { JOBVISOR_ADMIN_PASSWORD: _password, ...withoutPassword } = base;
  const envOf: Record<string, NodeJS.ProcessEnv> = { server: base, supervisor: withoutPassword };
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const launch = (what: string, attempt = 0) => {
    const started = Date.now();
    const child = spawn(process.execPath, [self, what], { env: envOf[what], stdio: 'inherit' });
    children.set(what, child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const ranMs = Date.now() - started;
      if (code === CONFIG_ERROR_EXIT && ranMs < STEADY_MS) {
        process.stderr.write(`jobvisor: ${what} refused its configuration (see above); stopping\n`);
        void stopAll(CONFIG_ERROR_EXIT);
        return;
      }
      const next = ranMs >= STEADY_MS ? 0 : attempt + 1;
      const wait = delay(next, RESTART_POLICY);
      process.stderr.write(`jobvisor: ${what} ended (${signal ?? `code ${code}`}) after ${Math.round(ranMs / 1000)} s; starting it again in ${(wait / 1000).toFixed(1)} s\n`);
      setTimeout(() => {
        if (!stopping) launch(what, next);
      }, wait);
    });
  };
  const stopAll = async (code: number) => {
    stopping = true;
    const live = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(live.map((c) => new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGTERM');
    })));
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stopAll(0));
  // SIGHUP reloads the supervisor's templates (src/supervisor/templates.ts).
  process.on('SIGHUP', () => void children.get('supervisor')?.kill('SIGHUP'));
  launch('supervisor');
  launch('server');
  process.stdout.write(
    `jobvisor: starting; GUI and HTTP API at http://${config.serverHost}:${config.serverPort} ` +
      `(log in as '${config.adminUser}'; the first start writes the password to ${config.dataDir}/initial-admin-password; see README.md)\n`,
  );
}

async function main(): Promise<void> {
  // TEMPORARY (wt-templates): `jobvisor templates check DIR [--json]` until the commander CLI's
  // `templates` group calls src/cli/templatesCheck.ts; the integrator replaces this branch.
  const argv = process.argv.slice(2);
  if (argv[0] === 'templates' && argv[1] === 'check') {
    const dir = argv.slice(2).find((a) => !a.startsWith('--'));
    if (!dir) {
      process.stderr.write('usage: jobvisor templates check DIR [--json]\n');
      process.exit(2);
    }
    process.exit(templatesCheck(dir, { json: argv.includes('--json') }));
  }
  // END TEMPORARY
  const { command, configFile } = parseArgs(argv);
  if (command === 'agent') return runAgentProcess(process.env, process.argv.slice(3));
  if (!command || !['start', 'server', 'supervisor'].includes(command)) {
    process.stderr.write(USAGE + '\n');
    process.exit(2);
  }
  let config: Config;
  try {
    config = loadConfig(process.env, configFile ?? process.env.JOBVISOR_CONFIG);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`jobvisor: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (command === 'start') return startBoth(config, configFile);
  const running = await (command === 'server' ? startServer(config) : startSupervisor(config)).catch((err: unknown) => {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`jobvisor: ${err.message}\n`);
    process.exit(2);
  });
  onStopSignal(() => running.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`jobvisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
