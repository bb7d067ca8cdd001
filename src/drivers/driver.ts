/**
 * The driver interface: a target's backend on the supervisor's side. Everything a backend knows
 * is behind it: how to start, adopt and stop agents; its slot pools; refusing runs it could
 * never run; preparing the run op; whether starting an agent needs the user's own login. The
 * supervisor sees nothing of a backend but this. Each backend is one folder beside this file,
 * registered by one line in registry.ts.
 *
 * A driver offers CPU slots in pools (the local machine; each Docker engine; a cluster): a run
 * takes its slots from the pool of the agent that runs it.
 */
import type { z } from 'zod';
import type { OptionField, RunOptions, TargetLoginBody } from '../shared/api.js';
import type { Config } from '../shared/config.js';
import type { Labels } from '../shared/labels.js';
import type { Logger } from '../shared/logger.js';
import type { Op } from '../shared/protocol.js';
import type { Template } from '../shared/template.js';
import type { Size } from '../shared/types.js';

export type RunOp = Extract<Op, { kind: 'run' }>;

/** What a driver needs to start one agent for one (target, user, size). */
export interface AgentSpec {
  agentId: string;
  /** Secret the agent presents when it connects; given to the agent out of its environment. */
  token: string;
  user: string;
  size: Size;
  /** The websocket URL the agent connects back to. */
  supervisorUrl: string;
  /** CPU slots of a pool not taken right now, for this size: helps a driver place the agent. */
  freeSlots(pool: string): number;
  /** The user's own login, for drivers that start agents with it; used for this start only. */
  credentials?: TargetLoginBody;
  /** The pools the agent may go to (those whose labels fit the run it starts for); any when absent. */
  pools?: readonly string[];
}

export interface AgentExit {
  /** Why the agent ended, in words a user can read. */
  reason: string;
}

/** A started (or re-adopted) agent, as its driver sees it. */
export interface AgentHandle {
  /** Where the agent runs (host name, container, login node), for admins. */
  readonly host: string;
  /** The slot pool the agent's runs take their CPU slots from. */
  readonly pool: string;
  /** The agent's process id where it means something, so a restarted supervisor can re-adopt it. */
  readonly pid: number | null;
  /** Settles when the agent has ended, however it ended. */
  readonly exited: Promise<AgentExit>;
  /** Stops the agent: politely first, then by force. Resolves when it is gone. `why` is for its exit reason. */
  stop(why?: string): Promise<void>;
  /** The last lines of the agent's own log, to tell a user why it did not start. */
  logTail(): Promise<string>;
  /** An agent the supervisor cannot watch as a process: taken for lost after its websocket is down this long. */
  readonly lostAfterMs?: number;
  /** When the login the agent was started with runs out (ms since the epoch). */
  readonly expiresAt?: number;
  /** An agent started by hand (an enrolled worker): never stopped for being idle. */
  readonly enrolled?: boolean;
}

export interface SavedAgent {
  agentId: string;
  pid: number | null;
  host: string;
}

/** What the supervisor and users know of a target without asking its driver anything. */
export interface TargetInfo {
  name: string;
  /** The backend's registry name (local, docker, or a cluster scheduler's). */
  kind: string;
  title: string;
  /** Starting an agent needs the user's own login (clusters): one agent per user then serves every size. */
  needsLogin: boolean;
  /** The login node, for targets reached over SSH. */
  host: string | null;
  /** For targets whose runs go to a batch scheduler: its name in users' words. */
  schedulerTitle: string | null;
  /** The options a run may set (checked by `checkRun`). */
  options: OptionField[];
}

/** A run, as a driver checks and prepares it. */
export interface DriverRun {
  jobId: string;
  serial: number;
  template: Template;
  size: Size;
  options: RunOptions | null;
}

export interface Driver {
  readonly info: TargetInfo;
  /** CPU slots of each pool, for a size. */
  pools(size: Size): ReadonlyMap<string, number>;
  /** The longest a run of this size may take here, in seconds. */
  maxTimeSeconds(size: Size): number;
  /** The run directory of a job, as the agent sees it. */
  runDir(user: string, jobId: string): string;
  /** Optional: the folder of a job's run archives (`<serial>.tar.gz`), as the agent sees it (default: `.archive/<jobId>` beside the job's folder). */
  archiveDir?(user: string, jobId: string): string;
  /** The templates folder, as the agent sees it. */
  templatesDir(): string;
  startAgent(spec: AgentSpec): Promise<AgentHandle>;
  /** Refuses a run this driver could never run (options, resources above its limits), before anything starts. */
  checkRun(run: Omit<DriverRun, 'jobId' | 'serial'>): void;
  /** Optional: completes a run op (e.g. with the batch script of a cluster run). */
  prepareRunOp?(op: RunOp, run: DriverRun): RunOp;
  /** Optional: takes back an agent a previous supervisor started, from what was saved of it. */
  adoptAgent?(saved: SavedAgent): Promise<AgentHandle | undefined>;
  /** Optional: removes what earlier supervisors left behind (containers, ...) that belongs to no agent in `keep`. */
  removeLeftovers?(keep: ReadonlySet<string>): Promise<void>;
  /**
   * Optional: a target of pools with labels of their own (a docker target's engines): each
   * pool's labels (the target's `labels` under them), and what users call a pool ("engine").
   */
  poolLabels?(): { noun: string; pools: ReadonlyMap<string, Labels> };
  /** Optional: a target of agents started by hand (enrolled workers): the handle of one that joined. */
  enrolled?: { handle(workerId: string, host: string): AgentHandle };
  /** Stops every agent this driver started (cluster agents outlive the supervisor on purpose). */
  close(): Promise<void>;
}

/** What a backend gets to build the driver of one target. */
export interface BackendContext {
  config: Config;
  log: Logger;
}

/**
 * A backend: its registry name, the schema of a target's settings (the whole target object of
 * the config, `name` and `driver` included), and how it builds a target's driver.
 */
export interface Backend<S = unknown> {
  readonly kind: string;
  readonly settings: z.ZodType<S>;
  /** jobvisor 0.1 called runs of this backend by a run mode of their own: that word, read in old requests, templates and databases. */
  readonly legacyRunMode?: string;
  /** jobvisor 0.1 run requests gave this backend's options under a key of their own: that key. */
  readonly legacyOptionsKey?: string;
  create(settings: S, ctx: BackendContext): Driver;
}
