/**
 * `jobvisor login` and `jobvisor logout`. Login asks for the user name and password (from a
 * terminal, the password without echo; or `--username NAME --password-stdin` for scripts), gets
 * a token from `POST /api/auth/login` and keeps it, with the URL, in the CLI's config file
 * (mode 0600). Logout revokes the token (`POST /api/auth/logout`) and forgets it.
 */
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { readConfigFile, writeConfigFile } from '../config.js';
import { CliError, EXIT, usageError } from '../exitCodes.js';
import { act, clientCommand, type Context } from '../context.js';
import { formatTime } from '../output.js';

interface LoginOptions {
  username?: string;
  passwordStdin?: boolean;
}

interface LoginAnswer {
  token: string;
  expiresAt: number;
  user: { username: string; role: string };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    });
  });
}

/** Reads a line from the terminal without showing it. */
function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve) => {
    let text = '';
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.resume();
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(text);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(EXIT.interrupted);
        }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function credentials(opts: LoginOptions): Promise<{ username: string; password: string }> {
  if (opts.passwordStdin) {
    if (!opts.username) throw usageError('--password-stdin needs --username NAME');
    const password = await readStdin();
    if (!password) throw usageError('--password-stdin: no password on stdin');
    return { username: opts.username, password };
  }
  if (!process.stdin.isTTY) throw usageError('no terminal to ask for the password: give --username NAME --password-stdin (the password on stdin)');
  const username = opts.username ?? (await ask('Username: '));
  if (!username) throw usageError('no user name given');
  const password = await askHidden('Password: ');
  if (!password) throw usageError('no password given');
  return { username, password };
}

async function login(ctx: Context, opts: LoginOptions): Promise<void> {
  const { username, password } = await credentials(opts);
  const answer = await ctx.client.open<LoginAnswer>('POST', '/api/auth/login', { username, password });
  const file = ctx.connection.configFile;
  const stored = readConfigFile(file);
  writeConfigFile(file, { ...stored, url: ctx.client.url, token: answer.token, username: answer.user.username, expiresAt: answer.expiresAt });
  ctx.out.result({ url: ctx.client.url, user: answer.user, expiresAt: answer.expiresAt, configFile: file }, () =>
    `logged in to ${ctx.client.url} as ${answer.user.username} (${answer.user.role}); token valid until ${formatTime(answer.expiresAt)}, kept in ${file}`,
  );
}

async function logout(ctx: Context): Promise<void> {
  const file = ctx.connection.configFile;
  const stored = readConfigFile(file);
  let revoked = false;
  try {
    await ctx.client.json('POST', '/api/auth/logout', {});
    revoked = true;
  } catch (err) {
    // No token, or one the server no longer knows: nothing to revoke, but forget it all the same.
    if (!(err instanceof CliError && err.exitCode === EXIT.unauthenticated)) throw err;
  }
  const forget = stored.token !== undefined && stored.token === ctx.client.options.token;
  if (forget) {
    const { token: _t, expiresAt: _e, ...rest } = stored;
    writeConfigFile(file, rest);
  }
  ctx.out.result({ revoked, forgotten: forget }, () =>
    [revoked ? `logged out of ${ctx.client.url}` : 'no valid login to end', forget ? `token removed from ${file}` : ''].filter(Boolean).join('; '),
  );
}

export function loginCommand(): Command {
  return clientCommand('login', 'log in and keep the token in the CLI config file (mode 0600)')
    .addOption(new Option('--username <name>', 'the user name (asked when not given)'))
    .addOption(new Option('--password-stdin', 'read the password from stdin (for scripts) instead of asking'))
    .action(act((ctx, opts: LoginOptions) => login(ctx, opts)));
}

export function logoutCommand(): Command {
  return clientCommand('logout', 'revoke the token and remove it from the CLI config file').action(act((ctx) => logout(ctx)));
}
