#!/usr/bin/env node
/**
 * The `jobvisor` command (commander).
 *
 *   jobvisor start       server and supervisor together for one machine (two OS processes)
 *   jobvisor server      the HTTP API (Koa)
 *   jobvisor supervisor  the supervisor (jobs, agents, drivers)
 *   jobvisor agent       an agent (started by a driver), or with --enroll an enrolled worker started by hand (src/agent/enroll.ts)
 *   jobvisor login|run|watch|status|jobs|logs|files|download|cancel|templates|logout
 *                        a client of a server's HTTP API (src/cli/)
 *
 * Options of the server commands: --config FILE (a JSON config file; same as JOBVISOR_CONFIG).
 * Every setting can also be given as an environment variable JOBVISOR_<SETTING>; see README.md.
 * The parts of the service are loaded only by the command that runs them, so that a client
 * command starts quickly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { Config } from './shared/config.js';
import { delay, type RetryPolicy } from './shared/retry.js';
import { addClientCommands, CLIENT_COMMANDS } from './cli/program.js';
import { EXIT, EXIT_HELP } from './cli/exitCodes.js';

const USAGE = `usage: jobvisor <start|server|supervisor|agent> [--config FILE]
       jobvisor <${CLIENT_COMMANDS.join('|')}> [options]   (jobvisor --help, jobvisor <command> --help)`;

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
function startBoth(config: Config, configFile: string | undefined): void {
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

/** `start`, `server` or `supervisor`: reads the configuration (exit 2 when it is wrong), then runs. */
async function serve(command: 'start' | 'server' | 'supervisor', configFile: string | undefined): Promise<void> {
  const { ConfigError, loadConfig } = await import('./shared/config.js');
  const refused = (err: unknown): never => {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`jobvisor: ${err.message}\n`);
    process.exit(2);
  };
  let config: Config;
  try {
    config = loadConfig(process.env, configFile ?? process.env.JOBVISOR_CONFIG);
  } catch (err) {
    return refused(err);
  }
  if (command === 'start') return startBoth(config, configFile);
  const running = await (command === 'server' ? (await import('./server/main.js')).startServer(config) : (await import('./supervisor/main.js')).startSupervisor(config)).catch(refused);
  onStopSignal(() => running.close());
}

function buildProgram(): Command {
  const program = new Command('jobvisor')
    .description('jobvisor: a job supervisor for science gateways (the service, and a client of its HTTP API)')
    .enablePositionalOptions()
    .option('--config <file>', 'a JSON config file for start, server and supervisor (same as JOBVISOR_CONFIG)')
    .addHelpText('after', `\n${EXIT_HELP}`);
  const descriptions = {
    start: 'run the server and the supervisor together on this machine (two processes)',
    server: 'run the HTTP API and GUI server',
    supervisor: 'run the supervisor (jobs, agents, drivers, the job database)',
  } as const;
  for (const name of ['start', 'server', 'supervisor'] as const) {
    program
      .command(name)
      .description(descriptions[name])
      .option('--config <file>', 'a JSON config file (same as JOBVISOR_CONFIG)')
      .action((opts: { config?: string }) => serve(name, opts.config ?? program.opts<{ config?: string }>().config));
  }
  program
    .command('agent')
    .description('run an agent (drivers start these), or an enrolled worker: jobvisor agent --enroll URL --token-file FILE ...')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[args...]', 'passed on to the agent (see README: Enrolled workers)')
    .action(async (args: string[]) => (await import('./agent/main.js')).runAgentProcess(process.env, args));
  addClientCommands(program);
  return program;
}

/** Every command reports a usage error itself (exit 2) instead of commander exiting with 1. */
function configure(command: Command, errors: string[]): void {
  command.exitOverride();
  command.configureOutput({ outputError: (text) => errors.push(text) });
  for (const sub of command.commands) configure(sub, errors);
}

async function main(argv: string[]): Promise<void> {
  if (argv.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = EXIT.usage;
    return;
  }
  const program = buildProgram();
  const errors: string[] = [];
  configure(program, errors);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0 && errors.length === 0) return;
    const message = errors.join('').trim().replace(/^error: /, '') || err.message;
    if (argv.includes('--json')) process.stderr.write(JSON.stringify({ error: { code: 'USAGE', message } }) + '\n');
    else if (err.code === 'commander.unknownCommand') process.stderr.write(`${USAGE}\njobvisor: ${message}\n`);
    else process.stderr.write(`jobvisor: USAGE: ${message}\n(see jobvisor ${argv.find((a) => !a.startsWith('-')) ?? ''} --help)\n`);
    process.exitCode = EXIT.usage;
  }
}

// A reader that went away (`jobvisor logs JOB | head`) ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`jobvisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
