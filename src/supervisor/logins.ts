/**
 * Logins to targets that need one (clusters): a user's login starts the user's agent on the
 * target's login node (in place of an earlier one), the login state per target and user, the
 * agent's own log for diagnosis, and following the user's scheduler jobs again once a new
 * agent of that target says hello.
 */
import type { AgentLog, TargetLoginBody, TargetStatus, TargetView } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { AgentInfoResult } from '../shared/protocol.js';
import { isActive, type Caller } from '../shared/types.js';
import type { Driver } from '../drivers/driver.js';
import type { AgentManager, ManagedAgent } from './agents.js';
import type { AgentHub } from './agentHub.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';
import type { Targets } from './targets.js';

export interface LoginDeps {
  targets: Targets;
  agents: AgentManager;
  hub: AgentHub;
  jobs: JobService;
  /** How long a login may take: the SSH session and the agent's start. */
  loginTimeoutMs: number;
  runDir(job: ComputeJob): string;
}

export class Logins {
  constructor(private readonly deps: LoginDeps) {}

  private loginTarget(name: string): Driver {
    const d = this.deps.targets.require(name);
    if (!d.info.needsLogin) throw new JobvisorError('TARGET_NOT_ALLOWED', `target ${name} (${d.info.kind}) needs no login`);
    return d;
  }

  /** Logs in with the user's own credentials (used for this call only) and starts the user's agent on the target's login node. */
  async login(caller: Caller, target: string, credentials: TargetLoginBody): Promise<TargetStatus> {
    this.loginTarget(target);
    await this.deps.agents.startWithLogin(target, caller.username, credentials, AbortSignal.timeout(this.deps.loginTimeoutMs));
    this.deps.jobs.resumeAwaitingLogin(caller.username, target);
    return this.status(caller, target);
  }

  status(caller: Caller, target: string): TargetStatus {
    const d = this.deps.targets.require(target);
    return { target: d.info.name, title: d.info.title, driver: d.info.kind, needsLogin: d.info.needsLogin, host: d.info.host, ...this.loginOf(caller, d) };
  }

  /** Every target, with the caller's login state on those that need one. */
  list(caller: Caller): TargetView[] {
    return this.deps.targets.all().map((d) => this.deps.targets.view(d, d.info.needsLogin ? this.loginOf(caller, d) : null));
  }

  private loginOf(caller: Caller, d: Driver) {
    const agent = d.info.needsLogin ? this.deps.agents.live(d.info.name, caller.username, 'parallel') : undefined;
    return {
      loggedIn: agent !== undefined && agent.state !== 'stopping',
      state: agent?.state ?? null,
      since: agent?.since ?? null,
      expiresAt: agent?.handle.expiresAt ?? null,
    };
  }

  /** The agent's own log and how many scheduler commands it ran. */
  async agentLog(caller: Caller, target: string): Promise<AgentLog> {
    const d = this.loginTarget(target);
    const agent = this.deps.agents.live(target, caller.username, 'parallel');
    if (!agent || !this.deps.hub.isConnected(agent.id)) throw new JobvisorError('LOGIN_REQUIRED', `no agent of yours runs on ${d.info.title}: log in first`, { target: d.info.name });
    return AgentInfoResult.parse(await this.deps.hub.send(agent.id, { kind: 'agentInfo' }, AbortSignal.timeout(10_000)));
  }

  /** A new agent of a user said hello: it follows the user's scheduler jobs of its target that no agent follows. */
  reattach(agent: ManagedAgent, jobs: Iterable<ComputeJob>): void {
    const d = this.deps.targets.get(agent.target);
    if (!d?.info.needsLogin) return;
    for (const job of jobs) {
      const r = job.row;
      if (r.user !== agent.user || r.target !== agent.target || !isActive(r.status) || !r.externalId || r.agentId === agent.id) continue;
      const template = this.deps.jobs.template(r);
      const op = { kind: 'attach' as const, jobId: r.id, serial: r.serial, runDir: this.deps.runDir(job), scheduler: d.info.kind, externalId: r.externalId, logOffset: r.logOffset, progress: template.progress, ...(template.preprocess || template.postprocess ? { steps: true } : {}) };
      job.attach(agent, op);
    }
  }
}
