/**
 * The driver interface: what starts, watches and stops agents. One file per driver, each
 * registered in index.ts. The supervisor sees nothing of a driver but this.
 *
 * A driver offers CPU slots in pools (the local machine; each Docker engine; a cluster):
 * a run takes its slots from the pool of the agent that runs it.
 */
import type { ClusterLoginBody } from '../shared/sbatchConfig.js';
import type { Template } from '../shared/template.js';
import type { RunMode } from '../shared/types.js';

/** What a driver needs to start one agent for one (user, run mode). */
export interface AgentSpec {
  agentId: string;
  /** Secret the agent presents when it connects; given to the agent out of its environment. */
  token: string;
  user: string;
  runMode: RunMode;
  /** The websocket URL the agent connects back to. */
  supervisorUrl: string;
  /** CPU slots of a pool not taken right now, for this run mode: helps a driver place the agent. */
  freeSlots(pool: string): number;
  /** The user's own login, for drivers that start agents with it (sbatch); used for this start only. */
  credentials?: ClusterLoginBody;
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
}

export interface SavedAgent {
  agentId: string;
  pid: number | null;
  host: string;
}

export interface Driver {
  readonly name: string;
  /** CPU slots of one pool for a run mode. */
  slots(runMode: RunMode, pool: string): number;
  /** The run directory of a job, as the agent sees it. */
  runDir(user: string, jobId: string): string;
  /** The templates folder, as the agent sees it. */
  templatesDir(): string;
  startAgent(spec: AgentSpec): Promise<AgentHandle>;
  /** Optional: refuses a run this driver could never run (resources above its limits), before anything starts. */
  checkRun?(template: Template, runMode: RunMode): void;
  /** Optional: takes back an agent a previous supervisor started, from what was saved of it. */
  adoptAgent?(saved: SavedAgent): Promise<AgentHandle | undefined>;
  /** Optional: removes what earlier supervisors left behind (containers, ...) that belongs to no agent in `keep`. */
  removeLeftovers?(keep: ReadonlySet<string>): Promise<void>;
  /** Stops every agent this driver started. */
  close(): Promise<void>;
}
