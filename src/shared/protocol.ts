/**
 * The websocket protocol between the supervisor and its agents, declared once for both ends.
 *
 * The agent connects to `<supervisorUrl>/agent` with headers `x-jobvisor-agent-id` and
 * `authorization: Bearer <agent token>`; both are checked at upgrade. After that:
 *
 *   agent → supervisor: `hello` (on every connect: the runs it still has), `reply` (to an op),
 *                        `update` (numbered by `seq`, one after another; resent until acknowledged),
 *                        `schedulerCommands` (cumulative counts of the scheduler commands it ran, when they changed)
 *   supervisor → agent: `op`, `ack` (every update up to `seq` is applied and persisted)
 *
 * The supervisor applies update `last + 1` only: one that skips ahead is refused (the connection
 * is closed with AGENT_PROTOCOL), one already applied is acknowledged again. An update message is
 * at most MAX_UPDATE_BYTES of JSON: the agent sends a run's log lines in as many `log` updates as
 * needed and cuts a line longer than MAX_LOG_LINE_BYTES, with a marker saying how long it was.
 *
 * Ops never carry an unfilled template placeholder: the supervisor fills them all (template.ts
 * fillArgv). What only the agent knows travels as a marker the agent fills in `argv` (and the steps `preprocess`, `postprocess`), `runDir`
 * and `batch.script` (and nowhere else): AGENT_NODE (its Node binary) and AGENT_ROOT (its own
 * folder: a cluster agent's runs and templates are under it). Both hold NUL bytes, which no
 * parameter value can hold, so a value is never expanded.
 *
 * A local agent records the process group of each cmd it runs as a file in its own folder
 * (`cmd-groups/<pgid>`, holding the start time of the group's leader as /proc gives it), so
 * that its driver can end them if the agent dies without doing so (SIGKILL).
 *
 * Every message carries the protocol version `v`. An agent of an older version (left running on
 * a cluster by an earlier jobvisor) is told to stop, in its own version, and its scheduler jobs
 * are followed again by a new agent once its user logs in.
 */
import { z } from 'zod';
import { ERRORS, type ErrorCode } from './errors.js';
import { Name } from './types.js';
import { ProgressSpec } from './template.js';

export { AGENT_NODE, AGENT_ROOT } from './template.js';

/**
 * 3: placeholders filled by the supervisor (AGENT_NODE and AGENT_ROOT markers instead of `{node}` and `{{root}}`), runStatus for all runs, updates bounded in bytes.
 * 4: input files (io `write`, run op `inputs`), steps (run op `preprocess`/`postprocess`, `phase` updates, exit `step`), run folders and archives (io `archive`, `size`, `archive`/`legacy` fields), exit `cause`.
 * 5: enrolled workers get their templates from the supervisor (op `templateFiles`); agents report scheduler command counts (`schedulerCommands`).
 * 6: exit `bytes` (the run folder's size at the end, from engines that measured it).
 */
export const PROTOCOL_VERSION = 6;
/** The largest websocket message either side accepts. */
export const MAX_WS_PAYLOAD = 4 * 1024 * 1024;
/** The largest update message an agent makes (its JSON), well under MAX_WS_PAYLOAD. */
export const MAX_UPDATE_BYTES = 1024 * 1024;
/** A log line longer than this (in UTF-8 bytes) is cut to it, marker included. */
export const MAX_LOG_LINE_BYTES = 16 * 1024;
/** At most this many lines in one `log` update. */
export const MAX_UPDATE_LINES = 2000;
/** The folder, inside a local agent's own, where it records its cmds' process groups. */
export const CMD_GROUPS_DIR = 'cmd-groups';
/** The run log every engine writes in a run's directory (stdout and stderr of its command), read with `io` ops. */
export const RUN_LOG = 'run.log';
/**
 * A run's phases: `preparing` (preprocess), `running` (the command), `finishing` (postprocess).
 * A run without steps goes straight to `running`. A batch script of a run with steps appends a
 * line `<phase> <epoch seconds>` to PHASE_FILE in the run directory as each step starts, and
 * `failed <phase> <exit code>` when a step fails; the batch engine reads it when it polls.
 */
export const Phase = z.enum(['preparing', 'running', 'finishing']);
export type Phase = z.infer<typeof Phase>;
export const PHASE_FILE = '.jobvisor-phase';
/** A run's steps, each the cause of one phase: preprocess → preparing, command → running, postprocess → finishing. */
export const Step = z.enum(['preprocess', 'command', 'postprocess']);
export type Step = z.infer<typeof Step>;
export const AGENT_ID_HEADER = 'x-jobvisor-agent-id';
/**
 * An enrolled worker (started by hand with an enrollment token, src/agent/enroll.ts) connects
 * with its worker id in AGENT_ID_HEADER, the enrollment token as its bearer token, and this
 * header: WorkerClaim as base64url JSON, checked at upgrade against the token.
 */
export const WORKER_HEADER = 'x-jobvisor-worker';
export const AGENT_PATH = '/agent';

const V = z.literal(PROTOCOL_VERSION);
const JobRef = { jobId: Name, serial: z.number().int().positive() };
const Argv = z.array(z.string()).min(1);
/** A scheduler module's registry name (the agent's batch engine has one per scheduler). */
const SchedulerName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);
/** A batch scheduler's job id. */
export const ExternalId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

/** The largest chunk of an input file one `io` write op carries (before base64). */
export const MAX_WRITE_CHUNK = 1024 * 1024;
/** The folder of a run directory input files are staged into. */
export const INPUTS_DIR = 'inputs';

/** An input file staged into the run directory before the run op: `path` is relative to it (`inputs/<file name>`). */
export const StagedInput = z.object({
  path: z.string().min(1).max(300),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
export type StagedInput = z.infer<typeof StagedInput>;

export const RunOp = z.object({
  kind: z.literal('run'),
  ...JobRef,
  runDir: z.string().min(1),
  argv: Argv,
  parameters: z.record(z.string(), z.unknown()),
  progress: ProgressSpec,
  timeLimitSeconds: z.number().positive(),
  /** Steps around the command (template steps, filled like argv): preprocess before it, postprocess after it exited 0. */
  preprocess: Argv.optional(),
  postprocess: Argv.optional(),
  /** For runs on a cluster: the batch script the agent submits to the named scheduler (the argv is inside it). */
  batch: z.object({ scheduler: SchedulerName, script: z.string().min(1).max(64 * 1024) }).strict().optional(),
  /** Input files staged into `inputs/` (io `write` ops) before this op: kept by the prepare step, checked before the command starts. */
  inputs: z.array(StagedInput).max(100).optional(),
}).strict();

/** Follows a scheduler's job submitted earlier (by this agent or a previous one) again. */
export const AttachOp = z.object({
  kind: z.literal('attach'),
  ...JobRef,
  runDir: z.string().min(1),
  scheduler: SchedulerName,
  externalId: ExternalId,
  logOffset: z.number().int().nonnegative(),
  progress: ProgressSpec,
  /** The run's template has steps (its batch script records its phases in PHASE_FILE). */
  steps: z.boolean().optional(),
}).strict();

/** The agent's own log and counters, for diagnosis. */
export const AgentInfoOp = z.object({ kind: z.literal('agentInfo') }).strict();

/** Asks the agent to end (after its reply); its scheduler jobs go on. */
export const ShutdownOp = z.object({ kind: z.literal('shutdown'), reason: z.string().max(500) }).strict();

export const CancelOp = z.object({ kind: z.literal('cancel'), ...JobRef, reason: z.string().max(500) }).strict();
/** Asks for every run the agent has (the supervisor asks each agent once per interval, not once per run). */
export const RunStatusOp = z.object({ kind: z.literal('runStatus') }).strict();
export const AnalysisOp = z.object({
  kind: z.literal('analysis'),
  ...JobRef,
  runDir: z.string().min(1),
  argv: Argv,
  timeLimitSeconds: z.number().positive(),
}).strict();
export const IoOp = z.object({
  kind: z.literal('io'),
  runDir: z.string().min(1),
  /**
   * list, read, stat: from the run's folder, or from its archive when the folder is gone;
   * remove: the folder (and the archive); archive: packs the folder into the archive, then
   * removes the folder; size: the bytes of the folder or of the archive (IoSizeResult);
   * write: an input file's chunk, into `inputs/` only.
   */
  action: z.enum(['list', 'read', 'stat', 'remove', 'archive', 'size', 'write']),
  path: z.string().max(1024).default(''),
  offset: z.number().int().nonnegative().default(0),
  length: z.number().int().positive().max(MAX_WS_PAYLOAD / 2).default(256 * 1024),
  /** For `write`: the bytes at `offset`; offset 0 starts the file anew. */
  dataBase64: z.string().max(Math.ceil(MAX_WRITE_CHUNK / 3) * 4).optional(),
  /** The run's archive file (`<archive folder>/<jobId>/<serial>.tar.gz`), where it has one. */
  archive: z.string().min(1).optional(),
  /** A run of jobvisor ≤ 0.2 whose folder is the job's own: the later runs' folders in it (named by their serial) are not its files. */
  legacy: z.boolean().optional(),
}).strict();

export type IoOp = z.infer<typeof IoOp>;

/**
 * A template's files on an enrolled worker, which has no copy of the site's templates: the
 * supervisor sends each run's template over the worker's own connection, and the worker keeps
 * them in its work folder (`templates/<name>/`), by content hash, fetching only what changed.
 * A path inside a template's folder: relative, `/`-separated, no `..`, not a hidden `.jobvisor` file.
 */
export const TemplateFilePath = z.string().min(1).max(300).regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!\.jobvisor)[A-Za-z0-9_.@+ /-]+$/, 'a relative path inside the template folder');
export const TemplateFile = z.object({
  path: TemplateFilePath,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  executable: z.boolean(),
}).strict();
export type TemplateFile = z.infer<typeof TemplateFile>;
/** The most files one template may hold for workers. */
export const MAX_TEMPLATE_FILES = 1000;
export const TemplateFilesOp = z.object({
  kind: z.literal('templateFiles'),
  /** The template's folder name (`{templateDir}` is `<templates>/<name>`). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
  /**
   * check: `files` lists every file of the template as the supervisor has it; the worker
   * removes the files it kept that are no longer listed and answers those it lacks or holds
   * with other content (TemplateCheckResult). write: one chunk of one file (`file`, at
   * `offset`; offset 0 starts it anew); the last chunk checks the hash and puts the file in place.
   */
  action: z.enum(['check', 'write']),
  files: z.array(TemplateFile).max(MAX_TEMPLATE_FILES).optional(),
  file: TemplateFile.optional(),
  offset: z.number().int().nonnegative().default(0),
  dataBase64: z.string().max(Math.ceil(MAX_WRITE_CHUNK / 3) * 4).optional(),
}).strict();
export type TemplateFilesOp = z.infer<typeof TemplateFilesOp>;

export const Op = z.discriminatedUnion('kind', [RunOp, CancelOp, RunStatusOp, AnalysisOp, IoOp, AttachOp, AgentInfoOp, ShutdownOp, TemplateFilesOp]);
export type Op = z.infer<typeof Op>;
export type OpKind = Op['kind'];

export const RunEnd = z.enum(['completed', 'error', 'canceled']);
export type RunEnd = z.infer<typeof RunEnd>;
/**
 * Whose fault a run's end is: `user` (its command failed, it was canceled, it hit its time
 * limit) or `system` (its agent died, it could not start, its scheduler or node failed, a step
 * was killed). Completed runs have none.
 */
export const RunCause = z.enum(['user', 'system']);
export type RunCause = z.infer<typeof RunCause>;

export const Update = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('started'), pid: z.number().int() }).strict(),
  /** A phase of the run began (`at`: when, epoch ms, as the agent saw it; the supervisor's time of arrival without it). */
  z.object({ kind: z.literal('phase'), phase: Phase, at: z.number().int().nonnegative().optional() }).strict(),
  z.object({ kind: z.literal('progress'), value: z.number().min(0).max(1), message: z.string().max(500).optional() }).strict(),
  z.object({
    kind: z.literal('log'),
    lines: z.array(z.string().max(MAX_LOG_LINE_BYTES)).min(1).max(MAX_UPDATE_LINES),
    /** For runs whose log the agent tails from a file: the byte offset after these lines. */
    offset: z.number().int().nonnegative().optional(),
  }).strict(),
  z.object({
    kind: z.literal('scheduler'),
    /** The scheduler's job id; absent while the run waits to be submitted (state `submitting`). */
    externalId: ExternalId.optional(),
    /** The scheduler's own state word (PENDING, qw, ...) as last seen. */
    state: z.string().max(40),
    reason: z.string().max(500).optional(),
    /** The scheduler's estimated start time, when pending. */
    estimatedStart: z.string().max(40).optional(),
    /** The scheduler could not be asked lately: the state is the last one seen. */
    unconfirmed: z.boolean().optional(),
  }).strict(),
  z.object({
    kind: z.literal('exit'),
    status: RunEnd,
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    reason: z.string().max(4000).optional(),
    /** In a run with steps: the step that ended it (the one that failed, or that a cancel or the time limit ended; the last one when it completed). */
    step: Step.optional(),
    /** Set by engines that know it (a scheduler's node failure); else read from exitCode and signal (causeOfExit). */
    cause: RunCause.optional(),
    /** The run folder's bytes at the end, when the engine measured it (a small folder); else the supervisor asks with an io `size` op. */
    bytes: z.number().int().nonnegative().optional(),
  }).strict(),
]);
export type Update = z.infer<typeof Update>;

export const AgentRun = z.object({ ...JobRef, pid: z.number().int(), running: z.boolean(), externalId: ExternalId.optional() }).strict();
export type AgentRun = z.infer<typeof AgentRun>;

/** What a worker is free to take now: its cores and memory not in use (as its OS reports them). */
export const WorkerFree = z.object({ cores: z.number().nonnegative(), memoryMb: z.number().nonnegative() }).strict();
export type WorkerFree = z.infer<typeof WorkerFree>;

/** What an enrolled worker says of itself at upgrade (WORKER_HEADER): `session` is new for each of its processes. */
export const WorkerClaim = z.object({
  name: Name,
  labels: z.record(z.string(), z.string()),
  slots: z.number().int().positive().max(10_000),
  session: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  host: z.string().max(255),
  free: WorkerFree,
}).strict();
export type WorkerClaim = z.infer<typeof WorkerClaim>;

/** Counts by scheduler command (each backend names its own commands): at most 64 commands. */
const CommandCounts = z
  .record(z.string().min(1).max(64), z.number().int().nonnegative())
  .refine((c) => Object.keys(c).length <= 64, 'at most 64 commands');

const ErrorCodeSchema = z.string().refine((c): c is ErrorCode => Object.hasOwn(ERRORS, c));

export const AgentMessage = z.discriminatedUnion('type', [
  z.object({ v: V, type: z.literal('hello'), runs: z.array(AgentRun), pendingUpdates: z.number().int().nonnegative(), free: WorkerFree.optional() }).strict(),
  /** An enrolled worker's free resources, sent with every heartbeat interval. */
  z.object({ v: V, type: z.literal('resources'), free: WorkerFree }).strict(),
  z.object({
    v: V,
    type: z.literal('reply'),
    opId: z.string().min(1),
    ok: z.boolean(),
    /** When ok. */
    result: z.unknown().optional(),
    /** When not ok. */
    error: z.object({ code: ErrorCodeSchema, message: z.string() }).strict().optional(),
  }).strict(),
  z.object({ v: V, type: z.literal('update'), seq: z.number().int().positive(), ...JobRef, update: Update }).strict(),
  /** The scheduler commands this agent ran since it started (cumulative), issued and failed by command: sent when they changed (metrics). */
  z.object({ v: V, type: z.literal('schedulerCommands'), issued: CommandCounts, failed: CommandCounts }).strict(),
]);
export type AgentMessage = z.infer<typeof AgentMessage>;

export const SupervisorMessage = z.discriminatedUnion('type', [
  z.object({ v: V, type: z.literal('op'), opId: z.string().min(1), op: Op }).strict(),
  z.object({ v: V, type: z.literal('ack'), seq: z.number().int().nonnegative() }).strict(),
]);
export type SupervisorMessage = z.infer<typeof SupervisorMessage>;

/** Results of ops, as the agent replies them. */
export const FileEntry = z.object({ path: z.string(), size: z.number(), mtimeMs: z.number() }).strict();
export type FileEntry = z.infer<typeof FileEntry>;
export const IoListResult = z.object({ files: z.array(FileEntry), truncated: z.boolean() }).strict();
export const IoReadResult = z.object({
  dataBase64: z.string(),
  offset: z.number().int(),
  size: z.number().int(),
}).strict();
export const IoWriteResult = z.object({ size: z.number().int().nonnegative() }).strict();
/** A worker's answer to a templateFiles check: the paths it needs sent; `override` when it runs its own copy of the templates (`--templates DIR`) and needs none. */
export const TemplateCheckResult = z.object({ missing: z.array(TemplateFilePath), override: z.boolean() }).strict();
/** Where a run's files are and how many bytes they take: `folder`, `archive`, or `none` (gone). */
export const IoSizeResult = z.object({ where: z.enum(['folder', 'archive', 'none']), bytes: z.number().int().nonnegative() }).strict();
export type IoSizeResult = z.infer<typeof IoSizeResult>;
export const RunStatusResult = z.object({ runs: z.array(AgentRun) }).strict();
export const AnalysisResult = z.object({ data: z.unknown() }).strict();
export const RunResult = z.object({ pid: z.number().int(), externalId: ExternalId.optional() }).strict();
export const AgentInfoResult = z.object({ logTail: z.string(), schedulerCommands: z.record(z.string(), z.number()) }).strict();

/** Parses one websocket frame; undefined when it is not JSON or fails the schema. */
export function parseMessage<T>(schema: z.ZodType<T>, raw: string): { ok: true; value: T } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'message is not JSON' };
  }
  const r = schema.safeParse(json);
  if (!r.success) return { ok: false, message: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, value: r.data };
}
