/**
 * The catalog of errors jobvisor answers with. Every error has a stable code, an HTTP status
 * (and a websocket close code where it applies), whether its message may be shown to the
 * caller (`expose`), and whether trying again can help (`retryable`).
 */

interface ErrorSpec {
  status: number;
  expose: boolean;
  retryable: boolean;
  wsClose?: number;
}

export const ERRORS = {
  BAD_JSON: { status: 400, expose: true, retryable: false },
  INVALID_INPUT: { status: 400, expose: true, retryable: false },
  /** A job list's `cursor` that is not the nextCursor of a page of the same list (GET /api/jobs). */
  BAD_CURSOR: { status: 400, expose: true, retryable: false },
  UNKNOWN_TEMPLATE: { status: 400, expose: true, retryable: false },
  UNKNOWN_TARGET: { status: 400, expose: true, retryable: false },
  TARGET_NOT_ALLOWED: { status: 400, expose: true, retryable: false },
  SIZE_NOT_ALLOWED: { status: 400, expose: true, retryable: false },
  RESOURCES_EXCEED_LIMIT: { status: 400, expose: true, retryable: false },
  UNKNOWN_FRAME: { status: 400, expose: true, retryable: false },
  PATH_OUTSIDE_RUN_DIR: { status: 400, expose: true, retryable: false },
  /** A run's `callbackUrl` does not start with one of `callbacks.allowedPrefixes`. */
  CALLBACK_NOT_ALLOWED: { status: 400, expose: true, retryable: false },
  UNAUTHENTICATED: { status: 401, expose: true, retryable: false },
  INVALID_CREDENTIALS: { status: 401, expose: true, retryable: false },
  HOST_KEY_MISMATCH: { status: 502, expose: true, retryable: false },
  CLUSTER_CREDENTIALS_REFUSED: { status: 403, expose: true, retryable: false },
  CLUSTER_UNREACHABLE: { status: 502, expose: true, retryable: true },
  FORBIDDEN: { status: 403, expose: true, retryable: false },
  JOB_NOT_FOUND: { status: 404, expose: true, retryable: false },
  TARGET_NOT_FOUND: { status: 404, expose: true, retryable: false },
  FILE_NOT_FOUND: { status: 404, expose: true, retryable: false },
  /** `?serial=N` names no run of the job. */
  RUN_NOT_FOUND: { status: 404, expose: true, retryable: false },
  /** The run's files were removed (kept runs, retention) or disappeared: its record stays. */
  RUN_FILES_GONE: { status: 410, expose: true, retryable: false },
  /** An archived run's files can be read, not computed on (analysis). */
  RUN_ARCHIVED: { status: 409, expose: true, retryable: false },
  ROUTE_NOT_FOUND: { status: 404, expose: true, retryable: false },
  USER_EXISTS: { status: 409, expose: true, retryable: false },
  STALE_SERIAL: { status: 409, expose: true, retryable: false },
  JOB_NOT_ACTIVE: { status: 409, expose: true, retryable: false },
  JOB_ACTIVE: { status: 409, expose: true, retryable: true },
  LOGIN_REQUIRED: { status: 428, expose: true, retryable: true },
  TOO_MANY_ATTEMPTS: { status: 429, expose: true, retryable: true },
  QUOTA_EXCEEDED: { status: 429, expose: true, retryable: true },
  BODY_TOO_LARGE: { status: 413, expose: true, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true, retryable: false },
  ANALYSIS_FAILED: { status: 422, expose: true, retryable: false },
  RUN_START_FAILED: { status: 422, expose: true, retryable: false },
  SUPERVISOR_UNAVAILABLE: { status: 502, expose: true, retryable: true },
  AGENT_START_FAILED: { status: 503, expose: true, retryable: true },
  AGENT_START_TIMEOUT: { status: 503, expose: true, retryable: true },
  AGENT_LOST: { status: 503, expose: true, retryable: true },
  OP_TIMEOUT: { status: 504, expose: true, retryable: true },
  /** Storage (see storageErrors.ts): the disk is full, the database is locked by another process, or cannot be read or written. */
  STORAGE_FULL: { status: 507, expose: true, retryable: true, wsClose: 1013 },
  DATABASE_BUSY: { status: 503, expose: true, retryable: true, wsClose: 1013 },
  STORAGE_FAILED: { status: 503, expose: true, retryable: true, wsClose: 1013 },
  AGENT_UNKNOWN: { status: 401, expose: true, retryable: false, wsClose: 4401 },
  /** A worker's enrollment token is unknown, revoked or expired (at upgrade). */
  ENROLLMENT_REFUSED: { status: 401, expose: true, retryable: false },
  /** A worker claims labels (or a name, slots) its enrollment token does not allow (at upgrade). */
  WORKER_CLAIM_REFUSED: { status: 403, expose: true, retryable: false },
  ENROLLMENT_NOT_FOUND: { status: 404, expose: true, retryable: false },
  /** A run's `requires` cannot be met by its target (a target's fixed labels). */
  REQUIREMENTS_UNMET: { status: 400, expose: true, retryable: false },
  AGENT_PROTOCOL: { status: 400, expose: true, retryable: false, wsClose: 1008 },
  /** Input files (uploads): see supervisor/uploads.ts and server/multipart.ts. */
  UPLOAD_TOO_LARGE: { status: 413, expose: true, retryable: false },
  UPLOAD_QUOTA: { status: 413, expose: true, retryable: true },
  UNKNOWN_INPUT: { status: 400, expose: true, retryable: false },
  INPUT_REQUIRED: { status: 400, expose: true, retryable: false },
  INPUT_TYPE_REFUSED: { status: 415, expose: true, retryable: false },
  INVALID_MULTIPART: { status: 400, expose: true, retryable: false },
  UPLOAD_NOT_FOUND: { status: 404, expose: true, retryable: false },
  UPLOAD_IN_USE: { status: 409, expose: true, retryable: false },
  /** Schedules (supervisor/schedules/): a bad cron expression, time zone, interval or window; an unknown schedule; a name taken; too many. */
  INVALID_SCHEDULE: { status: 400, expose: true, retryable: false },
  SCHEDULE_NOT_FOUND: { status: 404, expose: true, retryable: false },
  SCHEDULE_EXISTS: { status: 409, expose: true, retryable: false },
  SCHEDULE_LIMIT: { status: 429, expose: true, retryable: false },
  /** Pipelines (supervisor/pipelines): a bad graph at creation, an unknown pipeline, a change its state does not allow. */
  PIPELINE_CYCLE: { status: 400, expose: true, retryable: false },
  PIPELINE_UNKNOWN_STAGE: { status: 400, expose: true, retryable: false },
  PIPELINE_NOT_FOUND: { status: 404, expose: true, retryable: false },
  PIPELINE_NOT_ACTIVE: { status: 409, expose: true, retryable: false },
  PIPELINE_NOT_RESUMABLE: { status: 409, expose: true, retryable: false },
  /** Batches (POST /api/jobs/batch): some entries are bad (details.errors: [{index, code, message}]); nothing was stored. */
  BATCH_INVALID: { status: 400, expose: true, retryable: false },
  BATCH_TOO_LARGE: { status: 413, expose: true, retryable: false },
  /** Two entries of one batch name the same job key. */
  DUPLICATE_JOB_KEY: { status: 400, expose: true, retryable: false },
  /** Accounts (server/accounts.ts, apiTokens.ts): see README, "Accounts and API tokens". */
  ACCOUNT_DISABLED: { status: 403, expose: true, retryable: false },
  WRONG_PASSWORD: { status: 403, expose: true, retryable: false },
  PASSWORD_REJECTED: { status: 400, expose: true, retryable: false },
  USER_NOT_FOUND: { status: 404, expose: true, retryable: false },
  /** The last enabled admin cannot be disabled, deleted or given another role. */
  LAST_ADMIN: { status: 409, expose: true, retryable: false },
  /** A user with active runs is deleted only with `?jobs=cancel`. */
  USER_HAS_ACTIVE_RUNS: { status: 409, expose: true, retryable: false },
  /** A read-scoped API token called a route that changes something. */
  TOKEN_READ_ONLY: { status: 403, expose: true, retryable: false },
  /** Password change and token creation need a login (a session), not an API token. */
  SESSION_REQUIRED: { status: 403, expose: true, retryable: false },
  TOKEN_NOT_FOUND: { status: 404, expose: true, retryable: false },
  TOKEN_LIMIT: { status: 429, expose: true, retryable: false },
  INTERNAL: { status: 500, expose: false, retryable: true, wsClose: 1011 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class JobvisorError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'JobvisorError';
    this.code = code;
    const spec: ErrorSpec = ERRORS[code];
    this.status = spec.status;
    this.expose = spec.expose;
    this.retryable = spec.retryable;
    this.details = details;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export function wsCloseCode(code: ErrorCode): number {
  const spec: ErrorSpec = ERRORS[code];
  return spec.wsClose ?? 1008;
}

/** The JSON body of every error answer, from the server and from the supervisor. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; id?: string };
}

export function errorBody(err: JobvisorError): ErrorBody {
  return {
    error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
  };
}

/** Rebuilds an error that crossed a process boundary as an ErrorBody. */
export function fromErrorBody(body: unknown, fallbackStatus: number): JobvisorError {
  const e = (body as Partial<ErrorBody> | undefined)?.error;
  if (e && isErrorCode(e.code) && typeof e.message === 'string') return new JobvisorError(e.code, e.message, e.details);
  return new JobvisorError('INTERNAL', `unexpected answer (HTTP ${fallbackStatus})`);
}
