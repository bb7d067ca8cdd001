/**
 * Where the client commands find the server and the token, first match wins: the flags
 * `--url` / `--token`, the environment (`JOBVISOR_URL`, `JOBVISOR_TOKEN`), then the CLI's config
 * file (`~/.config/jobvisor/cli.json`, or the file `JOBVISOR_CLI_CONFIG` names), which
 * `jobvisor login` writes (mode 0600: it holds a token) and `jobvisor logout` clears.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, EXIT, usageError } from './exitCodes.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** What `jobvisor login` keeps (other keys are kept as they are). */
export interface CliConfigFile {
  url?: string;
  token?: string;
  username?: string;
  /** When the token runs out (ms since the epoch), as login answered. */
  expiresAt?: number;
  [key: string]: unknown;
}

/** The file's problem, or undefined when it has the right shape (checked by hand: zod would slow every command's start). */
function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  for (const key of ['url', 'token', 'username'] as const) if (v[key] !== undefined && typeof v[key] !== 'string') return `${key} is not a string`;
  if (v.expiresAt !== undefined && typeof v.expiresAt !== 'number') return 'expiresAt is not a number';
  return undefined;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOBVISOR_CLI_CONFIG) return path.resolve(env.JOBVISOR_CLI_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'jobvisor', 'cli.json');
}

export function readConfigFile(file: string): CliConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError('CONFIG_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, EXIT.usage);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('CONFIG_UNREADABLE', `${file} is not JSON; remove it or run \`jobvisor login\` again`, EXIT.usage);
  }
  const problem = shapeProblem(parsed);
  if (problem !== undefined) throw new CliError('CONFIG_UNREADABLE', `${file} is not a jobvisor CLI config: ${problem}`, EXIT.usage);
  return parsed as CliConfigFile;
}

/** Writes the file whole (a temporary file renamed over it), readable by its owner only. */
export function writeConfigFile(file: string, value: CliConfigFile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError('CONFIG_UNWRITABLE', `cannot write ${file}: ${(err as Error).message}`, EXIT.internal);
  }
}

export interface ConnectionOptions {
  url?: string;
  token?: string;
}

export interface Connection {
  url: string;
  token: string | undefined;
  /** Where the URL came from, for messages. */
  configFile: string;
}

/**
 * The server URL (no trailing slash) and token for a command, from flags, environment or config
 * file. The file's token is sent only to the server it came from (never to another `--url`), and
 * not once it has expired.
 */
export function resolveConnection(flags: ConnectionOptions, env: NodeJS.ProcessEnv = process.env, now = Date.now()): Connection {
  const file = configPath(env);
  const stored = readConfigFile(file);
  const url = checkUrl(flags.url ?? (env.JOBVISOR_URL || undefined) ?? stored.url ?? DEFAULT_URL);
  const given = flags.token ?? (env.JOBVISOR_TOKEN || undefined);
  if (given !== undefined) return { url, token: given, configFile: file };
  const fromFile = stored.token !== undefined && stored.url !== undefined && checkUrl(stored.url) === url;
  if (fromFile && stored.expiresAt !== undefined && stored.expiresAt <= now) {
    throw new CliError('NOT_LOGGED_IN', `the login to ${url} kept in ${file} expired at ${new Date(stored.expiresAt).toISOString()}: run \`jobvisor login\``, EXIT.unauthenticated);
  }
  return { url, token: fromFile ? stored.token : undefined, configFile: file };
}

export function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--url ${JSON.stringify(url)} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`--url must be an http:// or https:// URL, not ${parsed.protocol}`);
  return url.replace(/\/+$/, '').replace(/\/api$/, '');
}
