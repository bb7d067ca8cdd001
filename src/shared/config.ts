/**
 * Configuration of every jobvisor process, from (lowest to highest precedence) built-in
 * defaults, a JSON config file (`--config FILE` or JOBVISOR_CONFIG) and environment variables
 * named JOBVISOR_<SETTING_IN_SNAKE_CASE>. Validated at start-up: a wrong value stops the
 * process with a message naming the setting and what it accepts.
 */
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { NAME_PATTERN, ROLE_PATTERN, ROLES } from './types.js';
import { RetentionSettings } from './retention.js';

/** The folder holding jobvisor's package.json, from the source tree or from dist/. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const host = z.string().min(1);
/** true/false in a config file; `true`, `false`, `1` or `0` in the environment. */
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

/**
 * A target as the config names it: its name, its driver, an optional title, and the driver's
 * own settings, which the driver's schema checks when the supervisor starts (see
 * src/drivers/registry.ts). The first target is the default of templates that allow it.
 */
export const TargetConfig = z
  .object({
    name: z.string().regex(NAME_PATTERN, 'letters, digits, "_", "." and "-", starting with a letter or digit'),
    driver: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'the registry name of a driver (see README, "Targets")'),
    title: z.string().min(1).max(100).optional(),
  })
  .loose();
export type TargetConfig = z.infer<typeof TargetConfig>;

const Targets = z
  .array(TargetConfig)
  .min(1)
  .max(64)
  .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, 'target names must differ');
/** A JSON object, given as an object (config file) or as JSON text (environment). */
const jsonText = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }, schema);

/** What one user may have at once, per role (a role's missing keys take the defaults). */
const Quota = z
  .object({
    /** Runs queued or running. */
    activeRuns: z.number().int().positive(),
    /** Jobs kept (each with its runs and files). */
    storedJobs: z.number().int().positive(),
    /** Open event streams (`GET /api/events`). */
    eventStreams: z.number().int().positive(),
    /** Analysis processes at once on one of the user's agents (more wait, within their own time limit). */
    analyses: z.number().int().positive(),
  })
  .strict();
export type Quota = z.infer<typeof Quota>;
export const DEFAULT_QUOTAS: Record<'user' | 'admin', Quota> = {
  user: { activeRuns: 100, storedJobs: 10_000, eventStreams: 20, analyses: 4 },
  admin: { activeRuns: 1000, storedJobs: 100_000, eventStreams: 100, analyses: 8 },
};
/** Quotas by role: `user`, `admin`, and any site role (setting `roles`); a site role's missing keys take the `user` defaults. */
const Quotas = z
  .object({ user: Quota.partial().default({}), admin: Quota.partial().default({}) })
  .catchall(Quota.partial())
  .transform((q) => {
    const out: Record<string, Quota> = { user: { ...DEFAULT_QUOTAS.user, ...q.user }, admin: { ...DEFAULT_QUOTAS.admin, ...q.admin } };
    for (const [role, quota] of Object.entries(q)) if (role !== 'user' && role !== 'admin') out[role] = { ...DEFAULT_QUOTAS.user, ...quota };
    return out as Record<string, Quota> & Record<'user' | 'admin', Quota>;
  });

/** A role's quotas: its own, or (a site role the quotas do not name) the user's. */
export function quotaOf(quotas: Record<'user' | 'admin', Quota> & Record<string, Quota | undefined>, role: string): Quota {
  return quotas[role] ?? quotas.user;
}

const SiteRoles = z
  .array(z.string().regex(ROLE_PATTERN, 'lower-case letters, digits, "_" and "-", starting with a letter'))
  .max(32)
  .refine((r) => r.every((x) => !(ROLES as readonly string[]).includes(x)), '"user" and "admin" are built in')
  .refine((r) => new Set(r).size === r.length, 'role names must differ');

/** The SMTP server notification e-mail goes through. */
const Smtp = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().optional(),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    from: z.string().min(3),
  })
  .strict();
export type SmtpConfig = z.infer<typeof Smtp>;
/** An HTTP endpoint jobvisor POSTs signed JSON to (X-Jobvisor-Signature: t=<unix>,v1=<hmac-sha256 hex of "t.body">). */
const SignedEndpoint = z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16) }).strict();
const Notify = z
  .object({
    /** Who is told of runs that failed for a reason that is not their user's, and of stale runs. */
    adminEmails: z.array(z.email()).max(100).default([]),
    webhook: SignedEndpoint.optional(),
    /** The first failure opens a window this long; every failure in it goes into one message. */
    batchSeconds: z.number().positive().max(86_400).default(60),
    /** Users who ask to be e-mailed when a "long" run ends: runs longer than this. */
    longRunSeconds: z.number().nonnegative().default(600),
  })
  .strict();
export type NotifyConfig = z.infer<typeof Notify>;
const Callbacks = z
  .object({
    /** The site's completion callback: every run's end is POSTed here. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    secret: z.string().min(16),
    maxAttempts: z.number().int().positive().max(100).default(8),
    /** Delivered and failed callbacks (with their attempts) are kept this many days. */
    keepDays: z.number().positive().default(30),
    /** A run request's own `callbackUrl` must start with one of these. */
    allowedPrefixes: z
      .array(z.url({ protocol: /^https?$/ }).refine((u) => u.endsWith('/'), 'a prefix ends with "/" (so that https://a.org cannot admit https://a.org.evil.net)'))
      .max(100)
      .default([]),
  })
  .strict();
export type CallbacksConfig = z.infer<typeof Callbacks>;

/** Each setting: its schema and a sentence saying what it accepts. */
export const SETTINGS = {
  dataDir: [z.string().min(1), 'a folder path (database, run directories, secrets)'],
  serverHost: [host, 'a host name or IP address to bind the server to'],
  serverPort: [port, 'a TCP port from 0 to 65535'],
  supervisorHost: [host, 'a host name or IP address to bind the supervisor to'],
  supervisorPort: [port, 'a TCP port from 0 to 65535'],
  supervisorUrl: [z.url().optional(), 'the http(s) URL the server uses to reach the supervisor, or unix:<absolute path> of its socket (supervisorSocket)'],
  agentUrl: [z.url().optional(), 'the ws(s) URL agents use to reach the supervisor (or ws+unix:<socket path>: for agents on this machine)'],
  supervisorSocket: [z.string().min(1).max(100).optional(), 'a file path (under 100 characters): the Unix socket the supervisor also listens on (mode 0600)'],
  supervisorTcp: [flag, 'true or false: whether the supervisor listens on supervisorHost:supervisorPort (false needs supervisorSocket)'],
  secret: [z.string().min(16).optional(), 'a shared secret of at least 16 characters'],
  templatesDir: [z.string().min(1), 'a folder holding one sub-folder per job template'],
  templatesWatch: [flag, 'true or false: whether the supervisor reloads the templates folder when it changes (SIGHUP and POST /api/admin/templates/reload reload it always)'],
  templatesReloadDelayMs: [positiveInt, 'a positive integer of milliseconds: a change in the templates folder is reloaded once no other change came for this long'],
  quotas: [jsonText(Quotas), 'a JSON object {user?: {activeRuns?, storedJobs?, eventStreams?, analyses?}, admin?: {...}} of positive integers (see README, "Quotas")'],
  targets: [jsonText(Targets), 'a JSON array of targets, each {name, driver, title?, ...settings of its driver} (see README, "Targets")'],
  slotsSequential: [positiveInt, "a positive integer: CPU slots for sequential runs (of targets that do not set their own)"],
  slotsParallel: [positiveInt, "a positive integer: CPU slots for parallel runs (of targets that do not set their own)"],
  maxTimeSequential: [positiveInt, 'a positive integer of seconds: the longest a sequential run may take (unless its target says)'],
  maxTimeParallel: [positiveInt, 'a positive integer of seconds: the longest a parallel run may take (unless its target says)'],
  agentStartTimeoutMs: [positiveInt, 'a positive integer of milliseconds'],
  agentIdleMs: [positiveInt, 'a positive integer of milliseconds an idle agent is kept'],
  heartbeatMs: [positiveInt, 'a positive integer of milliseconds between websocket pings'],
  restartGraceMs: [positiveInt, 'a positive integer of milliseconds a restarted supervisor waits for agents'],
  agentLostMs: [positiveInt, 'a positive integer of milliseconds an agent may stay disconnected (hung, or unreachable) before the supervisor stops it and ends its runs as error (targets whose driver sets its own keep theirs)'],
  workerLostGraceMs: [positiveInt, 'a positive integer of milliseconds an enrolled worker may stay disconnected before its started runs end as error (runs placed on it and not started are placed again at once)'],
  workerTemplateMaxBytes: [positiveInt, 'a positive integer of bytes: the most a template\'s files may take to be sent to enrolled workers (larger ones need the workers\' own copy, --templates)'],
  runEndGraceMs: [positiveInt, 'a positive integer of milliseconds past its time limit after which the supervisor ends a run its agent left running'],
  adminUser: [z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), 'a user name of letters, digits, "_", "." or "-"'],
  adminPassword: [z.string().min(8).optional(), 'a password of at least 8 characters'],
  tokenTtlHours: [positiveInt, 'a positive integer of hours a login token is valid'],
  passwordMinLength: [z.coerce.number().int().min(8).max(1024), 'an integer from 8 to 1024: the shortest password accepted (new accounts, changes, resets)'],
  apiTokenMaxDays: [positiveInt, 'a positive integer of days: the longest an API token may be valid (and the validity of one that names none)'],
  apiTokensPerUser: [positiveInt, 'a positive integer: the most API tokens one user may hold'],
  auditRetentionDays: [positiveInt, 'a positive integer of days the audit log keeps an entry'],
  auditMaxEntries: [positiveInt, 'a positive integer: the most entries the audit log keeps (the oldest go first)'],
  maxBodyBytes: [positiveInt, 'a positive integer of bytes: the largest request body accepted'],
  maxBatchRuns: [positiveInt, 'a positive integer: the most runs one batch (POST /api/jobs/batch) may hold'],
  maxBatchBodyBytes: [positiveInt, 'a positive integer of bytes: the largest batch request body accepted'],
  loginFailuresPerAccount: [positiveInt, 'a positive integer: failed logins of one account within loginWindowSeconds before it is locked'],
  loginFailuresPerAddress: [positiveInt, 'a positive integer: failed logins from one client address within loginWindowSeconds before it is locked'],
  loginWindowSeconds: [positiveInt, 'a positive integer of seconds: the window failed logins are counted in, and the first lock'],
  trustProxy: [flag, 'true or false: whether to trust X-Forwarded-Proto, -Host and -For from a reverse proxy in front'],
  eventsKeepaliveMs: [positiveInt, 'a positive integer of milliseconds between keepalives (and token checks) of event streams'],
  eventsMaxBufferedBytes: [positiveInt, 'a positive integer of bytes: an event stream whose client has not read this much yet is ended (the client reconnects and catches up, or refetches)'],
  maxUploadBytes: [positiveInt, 'a positive integer of bytes: the largest input file accepted (a template input may set a lower maxBytes)'],
  uploadQuotaBytes: [positiveInt, 'a positive integer of bytes: the most input files one user may keep stored at once'],
  uploadTtlSeconds: [positiveInt, 'a positive integer of seconds an upload no run refers to is kept'],
  maxUploadParts: [positiveInt, 'a positive integer: the most parts (files and fields) of one multipart request'],
  smtp: [jsonText(Smtp.optional()), 'a JSON object {host, port, secure?, user?, password?, from} (see README, "Notifications")'],
  notify: [jsonText(Notify), 'a JSON object {adminEmails?: [addresses], webhook?: {url, secret}, batchSeconds?, longRunSeconds?} (see README, "Notifications")'],
  callbacks: [jsonText(Callbacks.optional()), 'a JSON object {url?, secret (16+ characters), maxAttempts?, allowedPrefixes?: [URLs]} (see README, "Completion callbacks")'],
  roles: [jsonText(SiteRoles), 'a JSON array of extra role names (e.g. ["premium"]) that act as "user" for access and may have their own quotas'],
  staleCheckSeconds: [z.coerce.number().positive(), 'a positive number of seconds between checks for runs over their expected time'],
  keepRuns: [z.coerce.number().int().min(0).max(1000), 'an integer from 0 to 1000: earlier runs of a job that keep their files (a template may set its own keepRuns)'],
  retention: [jsonText(RetentionSettings), 'a JSON object {default?: {archiveAfter?, deleteAfter?}, roles?: {<role>: {...}}} of durations such as "30d" (see README, "Retention")'],
  retentionSweepSeconds: [positiveInt, 'a positive integer of seconds between retention sweeps'],
  maxSchedulesPerUser: [positiveInt, 'a positive integer: the most schedules one user may keep'],
  minScheduleIntervalSeconds: [positiveInt, 'a positive integer of seconds: the shortest time between two firings of a schedule (interval or cron)'],
  pipelineMaxStages: [positiveInt, 'a positive integer: the most stages one pipeline may have'],
  pipelineMaxFileBytes: [positiveInt, 'a positive integer of bytes: the largest file one stage passes to the next (input file or JSON parameter file)'],
  metricsAccess: [z.enum(['open', 'admin', 'token']), 'one of open (anyone), admin (an admin\'s login or API token), token (the bearer token metricsToken, or an admin): who may read GET /metrics (see README, "Metrics")'],
  metricsToken: [z.string().min(16).max(200).optional(), 'a token of 16 to 200 characters a Prometheus scraper sends as "Authorization: Bearer <token>" (metricsAccess token)'],
  supervisorProbeTimeoutMs: [positiveInt, 'a positive integer of milliseconds the server waits for the supervisor\'s metrics (and readiness) before it answers without them'],
  logLevel: [z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'one of fatal, error, warn, info, debug, trace, silent'],
} as const;

type Settings = typeof SETTINGS;
export type Config = { [K in keyof Settings]: z.output<Settings[K][0]> };
export type SettingName = keyof Settings;

export function defaults(): Record<SettingName, unknown> {
  return {
    dataDir: path.resolve('data'),
    serverHost: '127.0.0.1',
    serverPort: 8080,
    supervisorHost: '127.0.0.1',
    supervisorPort: 8081,
    supervisorUrl: undefined,
    supervisorSocket: undefined,
    supervisorTcp: true,
    agentUrl: undefined,
    secret: undefined,
    templatesDir: path.join(PACKAGE_ROOT, 'templates'),
    templatesWatch: true,
    templatesReloadDelayMs: 500,
    targets: [{ name: 'local', driver: 'local', title: 'This machine' }],
    quotas: {},
    slotsSequential: 1,
    slotsParallel: Math.max(1, os.availableParallelism()),
    maxTimeSequential: 3600,
    maxTimeParallel: 86400,
    agentStartTimeoutMs: 20_000,
    agentIdleMs: 15 * 60_000,
    heartbeatMs: 10_000,
    restartGraceMs: 30_000,
    agentLostMs: 60_000,
    workerLostGraceMs: 120_000,
    workerTemplateMaxBytes: 64 * 1024 * 1024,
    runEndGraceMs: 30_000,
    adminUser: 'admin',
    adminPassword: undefined,
    tokenTtlHours: 24 * 7,
    maxBodyBytes: 1024 * 1024,
    passwordMinLength: 8,
    apiTokenMaxDays: 365,
    apiTokensPerUser: 20,
    auditRetentionDays: 365,
    auditMaxEntries: 100_000,
    maxBatchRuns: 1000,
    maxBatchBodyBytes: 16 * 1024 * 1024,
    loginFailuresPerAccount: 5,
    loginFailuresPerAddress: 20,
    loginWindowSeconds: 15 * 60,
    trustProxy: false,
    eventsKeepaliveMs: 15_000,
    eventsMaxBufferedBytes: 4 * 1024 * 1024,
    maxUploadBytes: 100 * 1024 * 1024,
    uploadQuotaBytes: 1024 * 1024 * 1024,
    uploadTtlSeconds: 86_400,
    maxUploadParts: 20,
    keepRuns: 5,
    retention: {},
    retentionSweepSeconds: 3600,
    logLevel: 'info',
    metricsAccess: 'admin',
    metricsToken: undefined,
    supervisorProbeTimeoutMs: 5000,
    smtp: undefined,
    notify: {},
    callbacks: undefined,
    staleCheckSeconds: 30,
    roles: [],
    maxSchedulesPerUser: 100,
    minScheduleIntervalSeconds: 60,
    pipelineMaxStages: 50,
    pipelineMaxFileBytes: 100 * 1024 * 1024,
  };
}

export function envName(setting: string): string {
  return 'JOBVISOR_' + setting.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readConfigFile(file: string): Record<string, unknown> {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`config file ${file} must hold a JSON object`);
  for (const key of Object.keys(json)) {
    if (!Object.hasOwn(SETTINGS, key)) {
      throw new ConfigError(
        `config file ${file}: unknown setting "${key}"; known settings: ${Object.keys(SETTINGS).join(', ')} ` +
          '(drivers and their settings are configured as "targets" since jobvisor 0.2: see README, "Targets")',
      );
    }
  }
  return json as Record<string, unknown>;
}

/**
 * Builds the configuration. `env` and `configFile` are passed in so tests can build several.
 * Relative paths are resolved against the current folder.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, configFile = env.JOBVISOR_CONFIG): Config {
  const values: Record<string, unknown> = { ...defaults(), ...(configFile ? readConfigFile(configFile) : {}) };
  const sources: Record<string, string> = {};
  for (const key of Object.keys(SETTINGS)) {
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') {
      values[key] = fromEnv;
      sources[key] = envName(key);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, [schema, accepts]] of Object.entries(SETTINGS) as [SettingName, Settings[SettingName]][]) {
    const r = (schema as z.ZodType).safeParse(values[key]);
    if (!r.success) {
      const from = sources[key] ?? (configFile ? `${key} in ${configFile}` : key);
      const shown = JSON.stringify(values[key]) ?? String(values[key]);
      const why = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
      throw new ConfigError(`setting ${key} (${from}) = ${shown.length > 200 ? shown.slice(0, 200) + '…' : shown} is not valid: expected ${accepts} (${why})`);
    }
    out[key] = r.data;
  }
  const roles = new Set<string>([...ROLES, ...(out.roles as string[])]);
  const unknownRoles = Object.keys(out.quotas as object).filter((r) => !roles.has(r));
  if (unknownRoles.length > 0) throw new ConfigError(`setting quotas names roles that are not configured: ${unknownRoles.join(', ')} (add them to the setting roles, or remove them)`);
  if (out.supervisorSocket !== undefined) out.supervisorSocket = path.resolve(out.supervisorSocket as string);
  if (out.supervisorTcp === false && out.supervisorSocket === undefined) throw new ConfigError('setting supervisorTcp is false, but supervisorSocket is not set: the supervisor would not listen at all');
  if (out.metricsAccess === 'token' && out.metricsToken === undefined) throw new ConfigError('setting metricsAccess is token, but metricsToken is not set: no scraper could read the metrics (set metricsToken, or metricsAccess admin)');
  const su = out.supervisorUrl as string | undefined;
  if (su !== undefined && !/^https?:/.test(su) && !/^unix:\//.test(su)) throw new ConfigError(`setting supervisorUrl = ${su} is not valid: expected an http(s) URL or unix:<absolute path>`);
  out.dataDir = path.resolve(out.dataDir as string);
  out.templatesDir = path.resolve(out.templatesDir as string);
  return out as Config;
}

/** How the server reaches the supervisor: supervisorUrl, else its TCP port, else (no TCP) `unix:<supervisorSocket>`. */
export function supervisorHttpUrl(c: Config): string {
  if (c.supervisorUrl !== undefined) return c.supervisorUrl;
  if (!c.supervisorTcp && c.supervisorSocket !== undefined) return `unix:${c.supervisorSocket}`;
  return `http://${urlHost(c.supervisorHost)}:${c.supervisorPort}`;
}

/** Where agents connect: agentUrl, else the TCP port, else (no TCP) the socket, which only agents on this machine reach (`ws+unix:<path>:`). */
export function agentWsUrl(c: Config, boundPort = c.supervisorPort): string {
  if (c.agentUrl !== undefined) return c.agentUrl;
  if (!c.supervisorTcp && c.supervisorSocket !== undefined) return `ws+unix:${c.supervisorSocket}:`;
  return `ws://${urlHost(c.supervisorHost)}:${boundPort}`;
}

function urlHost(h: string): string {
  if (h === '0.0.0.0' || h === '::') return '127.0.0.1';
  return h.includes(':') ? `[${h}]` : h;
}

/** Where uploaded input files wait for their run: `<dataDir>/uploads/<user>/<id>`. */
export function uploadsDir(c: Config): string {
  return path.join(c.dataDir, 'uploads');
}

export function runsDir(c: Config): string {
  return path.join(c.dataDir, 'runs');
}
