/**
 * The cluster side of the supervisor: a user's login (which starts the user's agent on the
 * login node, in place of an earlier one), whether the user is logged in, the agent's own log
 * for diagnosis, and following the user's Slurm jobs again once a new agent says hello.
 */
import type { ClusterStatus } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { AgentInfoResult } from '../shared/protocol.js';
import type { ClusterLoginBody } from '../shared/sbatchConfig.js';
import { isActive, type Caller } from '../shared/types.js';
import type { AgentManager, ManagedAgent } from './agents.js';
import type { AgentHub } from './agentHub.js';
import type { ComputeJob } from './computeJob.js';
import type { JobService } from './jobs.js';

const DRIVER = 'sbatch';
const RUN_MODE = 'sbatch';

export interface ClusterDeps {
  configured: boolean;
  host: string;
  agents: AgentManager;
  hub: AgentHub;
  jobs: JobService;
  loginTimeoutMs: number;
  runDir(job: ComputeJob): string;
}

export class ClusterService {
  constructor(private readonly deps: ClusterDeps) {}

  private requireConfigured(): void {
    if (!this.deps.configured) throw new JobvisorError('RUN_MODE_NOT_ALLOWED', 'no cluster is configured');
  }

  /** Logs in with the user's own credentials (used for this call only) and starts the user's agent on the login node. */
  async login(caller: Caller, credentials: ClusterLoginBody): Promise<ClusterStatus> {
    this.requireConfigured();
    await this.deps.agents.startWithLogin(DRIVER, caller.username, RUN_MODE, credentials, AbortSignal.timeout(this.deps.loginTimeoutMs));
    this.deps.jobs.resumeAwaitingLogin(caller.username);
    return this.status(caller);
  }

  status(caller: Caller): ClusterStatus {
    const agent = this.deps.configured ? this.deps.agents.live(DRIVER, caller.username, RUN_MODE) : undefined;
    return {
      configured: this.deps.configured,
      host: this.deps.host,
      loggedIn: agent !== undefined && agent.state !== 'stopping',
      state: agent?.state ?? null,
      since: agent?.since ?? null,
      expiresAt: agent?.handle.expiresAt ?? null,
    };
  }

  /** The agent's own log and how many Slurm commands it ran. */
  async agentLog(caller: Caller) {
    this.requireConfigured();
    const agent = this.deps.agents.live(DRIVER, caller.username, RUN_MODE);
    if (!agent || !this.deps.hub.isConnected(agent.id)) throw new JobvisorError('LOGIN_REQUIRED', 'no agent of yours runs on the cluster: log in first');
    return AgentInfoResult.parse(await this.deps.hub.send(agent.id, { kind: 'agentInfo' }, AbortSignal.timeout(10_000)));
  }

  /** A new agent of a user said hello: it follows the user's Slurm jobs that no agent follows. */
  reattach(agent: ManagedAgent, jobs: Iterable<ComputeJob>): void {
    if (agent.driver !== DRIVER) return;
    for (const job of jobs) {
      const r = job.row;
      if (r.user !== agent.user || r.driver !== DRIVER || !isActive(r.status) || !r.externalId || r.agentId === agent.id) continue;
      const template = this.deps.jobs.template(r);
      job.attach(agent, { kind: 'attach', jobId: r.id, serial: r.serial, runDir: this.deps.runDir(job), slurmJobId: r.externalId, logOffset: r.logOffset, progress: template.progress });
    }
  }
}
