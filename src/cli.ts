#!/usr/bin/env node
/**
 * The `jobvisor` command.
 *
 *   jobvisor start       server and supervisor together for one machine (two OS processes)
 *   jobvisor server      the HTTP API (Koa)
 *   jobvisor supervisor  the supervisor (jobs, agents, drivers)
 *   jobvisor agent       an agent (started by a driver, not by hand)
 *
 * Options: --config FILE (a JSON config file; same as JOBVISOR_CONFIG). Every setting can also
 * be given as an environment variable JOBVISOR_<SETTING>; see README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from './shared/config.js';
import { runAgentProcess } from './agent/main.js';
import { startServer } from './server/main.js';
import { startSupervisor } from './supervisor/main.js';

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

/** Runs server and supervisor as two child processes; ends both when either ends or on a signal. */
async function startBoth(config: Config, configFile: string | undefined): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const env = { ...process.env, ...(configFile ? { JOBVISOR_CONFIG: configFile } : {}) };
  const children: ChildProcess[] = [];
  const launch = (what: string) => {
    const child = spawn(process.execPath, [self, what], { env, stdio: 'inherit' });
    children.push(child);
    child.once('exit', (code, signal) => {
      if (!stopping) {
        process.stderr.write(`jobvisor: ${what} ended (${signal ?? `code ${code}`}); stopping\n`);
        void stopAll(code ?? 1);
      }
    });
    return child;
  };
  let stopping = false;
  const stopAll = async (code: number) => {
    stopping = true;
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGTERM');
    })));
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stopAll(0));
  launch('supervisor');
  launch('server');
  process.stdout.write(
    `jobvisor: starting; GUI and HTTP API at http://${config.serverHost}:${config.serverPort} ` +
      `(log in as '${config.adminUser}'; the first start writes the password to ${config.dataDir}/initial-admin-password; see README.md)\n`,
  );
}

async function main(): Promise<void> {
  const { command, configFile } = parseArgs(process.argv.slice(2));
  if (command === 'agent') return runAgentProcess();
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
