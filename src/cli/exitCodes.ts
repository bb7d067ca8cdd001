/**
 * How the `jobvisor` client commands end: one exit code per kind of outcome, and the error
 * they end with. An error the API answered keeps the API's stable code (src/shared/errors.ts);
 * the CLI's own failures have codes of their own (USAGE, NOT_LOGGED_IN, CONNECTION_FAILED, ...).
 */

export const EXIT = {
  /** The command did what it was asked; `run --wait` / `watch`: the run completed. */
  ok: 0,
  /** Something unexpected in the CLI itself. */
  internal: 1,
  /** Bad flags or arguments: nothing was sent. */
  usage: 2,
  /** The API refused the request (its error code and message are printed). */
  refused: 3,
  /** The server could not be reached, or the connection was lost and not regained. */
  connection: 4,
  /** No token, or the server refused it (logged out, expired): log in again. */
  unauthenticated: 5,
  /** `run --wait` / `watch`: the run ended as `error`. */
  runError: 10,
  /** `run --wait` / `watch`: the run was canceled (by a user, its time limit, or a new run). */
  runCanceled: 11,
  /** `run --wait` / `watch`: the run ended otherwise (`missing`, `purged`). */
  runOther: 12,
  /** Interrupted (Ctrl-C) while waiting; the run itself goes on. */
  interrupted: 130,
} as const;

/** The exit codes as `--help` and the README show them. */
export const EXIT_HELP = `Exit codes:
  0    done; with --wait / watch: the run completed
  1    unexpected failure of the CLI
  2    usage error (bad flags or arguments; nothing was sent)
  3    the API refused the request (its error code and message are printed)
  4    the server could not be reached (or the connection was lost)
  5    not logged in, or the token was refused (run \`jobvisor login\`)
  10   with --wait / watch: the run ended as error
  11   with --wait / watch: the run was canceled (by a user, its time limit or a new run)
  12   with --wait / watch: the run ended otherwise (missing, purged)
  130  interrupted (Ctrl-C) while waiting; the run goes on`;

export class CliError extends Error {
  constructor(
    /** A stable code: the API's (`JOB_NOT_FOUND`, ...) or the CLI's own (`USAGE`, `CONNECTION_FAILED`, ...). */
    readonly code: string,
    message: string,
    readonly exitCode: number,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError('USAGE', message, EXIT.usage);
}

/** The exit code of an API error answer: 401 means log in again; anything else is a refusal. */
export function apiError(status: number, code: string, message: string, details?: unknown): CliError {
  return new CliError(code, message, status === 401 ? EXIT.unauthenticated : EXIT.refused, details);
}
