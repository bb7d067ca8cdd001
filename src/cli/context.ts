/**
 * What every client command shares: the options `--url`, `--token`, `--json`, `--timeout`, the
 * client and output made from them, the action wrapper that turns any error into its message
 * and exit code, and the lookup of a job by id or by job key.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { JOB_PAGE_MAX, type JobPage, type JobView } from '../shared/api.js';
import { resolveConnection, type Connection } from './config.js';
import { CliError, EXIT } from './exitCodes.js';
import { ApiClient } from './http.js';
import { Output, asCliError } from './output.js';

export interface CommonOptions {
  url?: string;
  token?: string;
  json?: boolean;
  timeout: number;
}

export interface Context {
  out: Output;
  client: ApiClient;
  connection: Connection;
}

export const DEFAULT_TIMEOUT_SECONDS = 120;

/** Like positiveInt, 0 included. */
export function wholeNumber(what: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number, 0 or more`);
    return n;
  };
}

export function positiveInt(what: string) {
  return (text: string): number => {
    const n = Number(text);
    // commander reports an InvalidArgumentError as a usage error (exit 2).
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number, 1 or more`);
    return n;
  };
}

/** A client command: its common options and an action that reports errors with their exit code. */
export function clientCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .addOption(new Option('--url <url>', 'the jobvisor server (default: $JOBVISOR_URL, the config file, http://127.0.0.1:8080)'))
    .addOption(new Option('--token <token>', 'a login or API token (default: $JOBVISOR_TOKEN, the config file)'))
    .addOption(new Option('--json', 'machine output: JSON on stdout, errors as JSON on stderr'))
    .addOption(new Option('--timeout <seconds>', 'give up on a request after this long').default(DEFAULT_TIMEOUT_SECONDS).argParser(positiveInt('--timeout')));
}

/** The output of a command before its options are known to be good (for usage errors). */
export function outputFor(argv: string[]): Output {
  return new Output(argv.includes('--json'));
}

export function contextOf(opts: CommonOptions): Context {
  const out = new Output(opts.json === true);
  const connection = resolveConnection({ url: opts.url, token: opts.token });
  const client = new ApiClient({ url: connection.url, token: connection.token, timeoutMs: opts.timeout * 1000 });
  return { out, client, connection };
}

/**
 * Wraps a command's action: runs it with its context, and ends the process with the exit code
 * it returns (0 when none), or with the error's code after printing it.
 */
export function act<A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<number | void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const opts = command.opts<CommonOptions>();
    let out = new Output(opts.json === true);
    try {
      const ctx = contextOf(opts);
      out = ctx.out;
      process.exitCode = (await fn(ctx, ...(args.slice(0, -1) as A))) ?? EXIT.ok;
    } catch (err) {
      const e = asCliError(err);
      out.error(e);
      process.exitCode = e.exitCode;
    }
  };
}

const JOB_ID = /^[0-9a-f]{16}$/;

/** A job named by its id or by its job key (one of the caller's own jobs). */
export async function resolveJob(client: ApiClient, ref: string): Promise<string> {
  if (JOB_ID.test(ref)) return ref;
  // The caller's jobs a page at a time (the most a page holds) until one has the key.
  let cursor: string | undefined;
  do {
    const page = await client.json<JobPage>('GET', `/api/jobs?limit=${JOB_PAGE_MAX}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const job = page.jobs.find((j) => j.jobKey === ref);
    if (job) return job.jobId;
    cursor = page.nextCursor;
  } while (cursor);
  throw new CliError('JOB_NOT_FOUND', `no job with id or job key ${JSON.stringify(ref)} (see \`jobvisor jobs\`)`, EXIT.refused);
}

export async function getJob(client: ApiClient, jobId: string): Promise<JobView> {
  return (await client.json<{ job: JobView }>('GET', `/api/jobs/${encodeURIComponent(jobId)}`)).job;
}
