/**
 * The HTTP API, as the GUI uses it. Requests go to this origin with its cookies (the login token
 * is the HttpOnly `jobvisor_token` cookie; the GUI never sees or stores it), bodies are JSON,
 * and every error answer `{error: {code, message, details}}` becomes an ApiError. A request that
 * never reaches the server becomes an ApiError with code NETWORK.
 */
import type { AccountSettings, BatchJob, DeliveryView, LifetimeRow } from '../../src/shared/api.js';
import type { ScheduleInput, ScheduleView } from './types.js';
import type { AuditEntry, TokenScope, TokenView } from '../../src/shared/accountsApi.js';
import type {
  Account,
  AgentView,
  AnalysisAnswer,
  FileList,
  Issue,
  JobView,
  LogChunk,
  Role,
  RunRequest,
  SlotUsage,
  TargetLoginBody,
  TargetStatus,
  TargetView,
  Template,
  User,
  UserUsage,
} from './types.js';

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The API's stable error code (README, "Errors"), or NETWORK / HTTP_<status>. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The problems of an INVALID_INPUT answer, one per field. */
  get issues(): Issue[] {
    const d = this.details as { issues?: unknown } | undefined;
    return Array.isArray(d?.issues) ? (d.issues as Issue[]) : [];
  }

  /** Whether trying again can help (the API's 5xx codes, and a server that did not answer). */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.code === 'LOGIN_REQUIRED';
  }
}

let unauthenticatedHandler: (() => void) | undefined;

/** Called when an API request answers 401 UNAUTHENTICATED: the login has ended. */
export function onUnauthenticated(fn: () => void): void {
  unauthenticatedHandler = fn;
}

interface CallOptions {
  /** Do not report a 401 to the unauthenticated handler (login, the start-up check). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

export async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: string | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body ?? {});
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store', signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'the jobvisor server is not reachable (no answer); check your network and try again');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    const error =
      e && typeof e.code === 'string'
        ? new ApiError(res.status, e.code, typeof e.message === 'string' ? e.message : e.code, e.details)
        : new ApiError(res.status, `HTTP_${res.status}`, `the server answered ${res.status} ${res.statusText}`.trim());
    if (error.status === 401 && error.code === 'UNAUTHENTICATED' && !opts.quiet401) unauthenticatedHandler?.();
    throw error;
  }
  if (parsed === undefined) throw new ApiError(res.status, 'BAD_ANSWER', `the server's answer to ${method} ${path} is not JSON`);
  return parsed as T;
}

const job = (jobId: string) => `/api/jobs/${encodeURIComponent(jobId)}`;
const target = (name: string) => `/api/targets/${encodeURIComponent(name)}`;

/** The URL that downloads a file of a job's current run (the cookie makes a plain link work). */
export function fileUrl(jobId: string, path: string, serial?: number): string {
  return `${job(jobId)}/files/${path.split('/').map(encodeURIComponent).join('/')}${serial === undefined ? '' : `?serial=${serial}`}`;
}

export const api = {
  health: () => call<{ ok: boolean; supervisor: 'up' | 'down' }>('GET', '/api/health'),
  me: () => call<{ user: User }>('GET', '/api/auth/me', undefined, { quiet401: true }).then((r) => r.user),
  /** Who is logged in, or null: answers 200 either way (the start-up check logs no failed request). */
  session: () => call<{ user: User | null }>('GET', '/api/auth/session').then((r) => r.user),
  login: (username: string, password: string) =>
    call<{ user: User; expiresAt: number }>('POST', '/api/auth/login', { username, password }, { quiet401: true }).then((r) => r.user),
  logout: () => call<void>('POST', '/api/auth/logout', {}, { quiet401: true }),

  templates: () => call<{ templates: Template[] }>('GET', '/api/templates').then((r) => r.templates),
  /** One page of the jobs (newest run first): `cursor` is the previous page's nextCursor; admins see everyone's with `all`. */
  jobs: (opts: { all?: boolean; cursor?: string; limit?: number } = {}) => {
    const q = new URLSearchParams();
    if (opts.all) q.set('all', '1');
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.cursor !== undefined) q.set('cursor', opts.cursor);
    const s = q.toString();
    return call<{ jobs: JobView[]; nextCursor?: string }>('GET', s ? `/api/jobs?${s}` : '/api/jobs');
  },
  job: (jobId: string) => call<{ job: JobView }>('GET', job(jobId)).then((r) => r.job),
  run: (body: RunRequest) => call<{ job: JobView }>('POST', '/api/jobs', body).then((r) => r.job),
  /** A batch of run requests, all or nothing (BATCH_INVALID names each bad entry in details.errors). */
  batch: (runs: unknown[]) => call<{ jobs: BatchJob[] }>('POST', '/api/jobs/batch', { runs }).then((r) => r.jobs),
  cancel: (jobId: string, serial?: number) =>
    call<{ job: JobView }>('POST', `${job(jobId)}/cancel`, serial === undefined ? {} : { serial }).then((r) => r.job),
  log: (jobId: string, offset: number, limit: number, serial?: number) => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(limit) });
    if (serial !== undefined) q.set('serial', String(serial));
    return call<LogChunk>('GET', `${job(jobId)}/log?${q.toString()}`);
  },
  analysis: <T>(jobId: string, frame: string, index: number, serial?: number) =>
    call<AnalysisAnswer<T>>('POST', `${job(jobId)}/analysis`, serial === undefined ? { frame, index } : { frame, index, serial }),
  files: (jobId: string, serial?: number) => call<FileList>('GET', `${job(jobId)}/files${serial === undefined ? '' : `?serial=${serial}`}`),
  usage: () => call<{ usage: UserUsage }>('GET', '/api/usage').then((r) => r.usage),
  adminUsage: () => call<{ users: UserUsage[] }>('GET', '/api/admin/usage').then((r) => r.users),

  agents: () => call<{ agents: AgentView[] }>('GET', '/api/agents').then((r) => r.agents),
  slots: () => call<{ slots: SlotUsage[] }>('GET', '/api/slots').then((r) => r.slots),
  users: () => call<{ users: Account[] }>('GET', '/api/users').then((r) => r.users),
  /** The accounts, and the roles a new one may have (the site's own roles besides user and admin). */
  usersAndRoles: () => call<{ users: Account[]; roles?: string[] }>('GET', '/api/users').then((r) => ({ users: r.users, roles: r.roles ?? ['user', 'admin'] })),
  lifetimes: (since: number, until: number) =>
    call<{ since: number; until: number; lifetimes: LifetimeRow[] }>('GET', `/api/admin/lifetimes?since=${since}&until=${until}`).then((r) => r.lifetimes),
  /** Enrolled workers (admins; see views/adminWorkers.ts for the shape). */
  workers: <T>() => call<{ workers: T[] }>('GET', '/api/admin/workers').then((r) => r.workers),
  /** The templates folder and its problems, and its reload (admins; see views/adminTemplates.ts). */
  adminTemplates: <T>() => call<T>('GET', '/api/admin/templates'),
  reloadTemplates: <T>() => call<T>('POST', '/api/admin/templates/reload', {}),
  deliveries: (limit = 50) => call<{ deliveries: DeliveryView[] }>('GET', `/api/admin/deliveries?limit=${limit}`).then((r) => r.deliveries),
  settings: () => call<{ settings: AccountSettings }>('GET', '/api/auth/me/settings').then((r) => r.settings),
  saveSettings: (s: Partial<AccountSettings>) => call<{ settings: AccountSettings }>('PUT', '/api/auth/me/settings', s).then((r) => r.settings),
  createUser: (username: string, password: string, role: Role) =>
    call<{ user: Account }>('POST', '/api/users', { username, password, role }).then((r) => r.user),

  /** Accounts (README, "Accounts and API tokens"). */
  changePassword: (currentPassword: string, newPassword: string) => call<{ sessionsEnded: number }>('POST', '/api/auth/password', { currentPassword, newPassword }),
  tokens: () => call<{ tokens: TokenView[] }>('GET', '/api/auth/tokens').then((r) => r.tokens),
  createToken: (name: string, scope: TokenScope, expiresInDays?: number) =>
    call<{ token: string; tokenInfo: TokenView }>('POST', '/api/auth/tokens', expiresInDays === undefined ? { name, scope } : { name, scope, expiresInDays }),
  revokeToken: (tokenId: string) => call<void>('DELETE', `/api/auth/tokens/${encodeURIComponent(tokenId)}`),
  updateUser: (username: string, patch: { role?: string; disabled?: boolean }) => call<{ user: Account }>('PATCH', `/api/users/${encodeURIComponent(username)}`, patch).then((r) => r.user),
  resetPassword: (username: string, password?: string) =>
    call<{ generatedPassword?: string; sessionsEnded: number }>('POST', `/api/users/${encodeURIComponent(username)}/password`, password === undefined ? {} : { password }),
  revokeSessions: (username: string) => call<{ sessionsEnded: number }>('DELETE', `/api/users/${encodeURIComponent(username)}/sessions`),
  deleteUser: (username: string, cancelRuns: boolean) =>
    call<{ deleted: string; jobsDeleted: number }>('DELETE', `/api/users/${encodeURIComponent(username)}${cancelRuns ? '?jobs=cancel' : ''}`),
  audit: (query: { user?: string; action?: string; before?: number; limit?: number }) => {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
    return call<{ entries: AuditEntry[]; next: number | null }>('GET', `/api/admin/audit?${q.toString()}`);
  },

  schedules: (all = false) => call<{ schedules: ScheduleView[] }>('GET', all ? '/api/schedules?all=1' : '/api/schedules').then((r) => r.schedules),
  createSchedule: (body: ScheduleInput) => call<{ schedule: ScheduleView }>('POST', '/api/schedules', body).then((r) => r.schedule),
  editSchedule: (id: string, body: Partial<ScheduleInput>) => call<{ schedule: ScheduleView }>('PATCH', `/api/schedules/${encodeURIComponent(id)}`, body).then((r) => r.schedule),
  pauseSchedule: (id: string) => call<{ schedule: ScheduleView }>('POST', `/api/schedules/${encodeURIComponent(id)}/pause`, {}).then((r) => r.schedule),
  resumeSchedule: (id: string) => call<{ schedule: ScheduleView }>('POST', `/api/schedules/${encodeURIComponent(id)}/resume`, {}).then((r) => r.schedule),
  deleteSchedule: (id: string) => call<void>('DELETE', `/api/schedules/${encodeURIComponent(id)}`),

  /** Every target, in the site's order, with the caller's login state on those that need one. */
  targets: () => call<{ targets: TargetView[] }>('GET', '/api/targets').then((r) => r.targets),
  targetStatus: (name: string) => call<TargetStatus>('GET', `${target(name)}/status`),
  /**
   * Logs in to a target that needs it with the user's own account there: a password (and, if
   * given, a one-time code), or a private key's text (and, if it has one, its passphrase).
   */
  targetLogin: (name: string, credentials: TargetLoginBody) => call<TargetStatus>('POST', `${target(name)}/login`, credentials),
};
