/**
 * The client commands of `jobvisor`, which speak the server's public HTTP API (like a user's
 * script would; they import shared/ only, never the server or supervisor):
 *
 *   login, logout, templates [list|check], run, watch, status, jobs, logs, files, download, cancel
 *
 * src/cli.ts adds them to the program next to start|server|supervisor|agent.
 */
import type { Command } from 'commander';
import { loginCommand, logoutCommand } from './commands/auth.js';
import { downloadCommand } from './commands/download.js';
import { jobsCommands } from './commands/jobs.js';
import { logsCommand } from './commands/logs.js';
import { runCommand, watchCommand } from './commands/run.js';
import { templatesCommand } from './commands/templates.js';
import { EXIT_HELP } from './exitCodes.js';

export const CLIENT_COMMANDS = ['login', 'logout', 'templates', 'run', 'watch', 'status', 'jobs', 'logs', 'files', 'download', 'cancel'];

export function addClientCommands(program: Command): void {
  const commands = [loginCommand(), logoutCommand(), templatesCommand(), runCommand(), watchCommand(), ...jobsCommands(), logsCommand(), downloadCommand()];
  for (const c of commands) {
    if (c.name() === 'run' || c.name() === 'watch') c.addHelpText('after', `\n${EXIT_HELP}`);
    program.addCommand(c);
  }
}
