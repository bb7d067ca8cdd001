/**
 * The workers backend: a shared pool of agents started by hand on any machine (`jobvisor agent
 * --enroll`), each joining with an enrollment token that names this target. jobvisor never
 * starts them; the supervisor places each run on a connected worker whose labels and free slots
 * fit (src/supervisor/workers/). A worker's runs and templates live under its own work folder
 * (AGENT_ROOT: `runs/<user>/<job>/<serial>`, `templates/`).
 */
import { z } from 'zod';
import { JobvisorError } from '../../shared/errors.js';
import { AGENT_ROOT } from '../../shared/protocol.js';
import { refuseOptions } from '../common.js';
import type { AgentExit, AgentHandle, Backend, Driver, TargetInfo } from '../driver.js';
import { resolveSizes, targetFields } from '../targetSettings.js';

export const WorkersSettings = z
  .object({
    ...targetFields('workers'),
    /** How long a worker may stay disconnected before its started runs end as error (default: the site's workerLostGraceMs). */
    lostGraceMs: z.number().int().positive().optional(),
  })
  .strict();
export type WorkersSettings = z.infer<typeof WorkersSettings>;

/** The handle of an enrolled worker: it ends when the supervisor gives it up (lost past the grace, or its token revoked). */
function workerHandle(workerId: string, host: string, lostAfterMs: number): AgentHandle {
  let settle: (exit: AgentExit) => void = () => undefined;
  const exited = new Promise<AgentExit>((resolve) => (settle = resolve));
  return {
    host,
    pool: workerId,
    pid: null,
    exited,
    lostAfterMs,
    enrolled: true,
    stop: async (why?: string) => settle({ reason: why ?? 'the worker was released' }),
    logTail: async () => '',
  };
}

export const workersBackend: Backend<WorkersSettings> = {
  kind: 'workers',
  settings: WorkersSettings,
  create: (s, { config }) => {
    const sizes = resolveSizes(s.sizes, config);
    const lostAfterMs = s.lostGraceMs ?? config.workerLostGraceMs;
    const info: TargetInfo = { name: s.name, kind: 'workers', title: s.title ?? 'Enrolled workers', needsLogin: false, host: null, schedulerTitle: null, options: [] };
    const driver: Driver = {
      info,
      pools: () => new Map(),
      maxTimeSeconds: (size) => sizes[size].maxTimeSeconds,
      runDir: (user, jobId) => `${AGENT_ROOT}/runs/${user}/${jobId}`,
      archiveDir: (user, jobId) => `${AGENT_ROOT}/archive/${user}/${jobId}`,
      templatesDir: () => `${AGENT_ROOT}/templates`,
      startAgent: async () => {
        throw new JobvisorError('AGENT_START_FAILED', `workers of target ${s.name} are started by hand (jobvisor agent --enroll); none is connected`);
      },
      checkRun: (run) => refuseOptions(info, run.options),
      adoptAgent: async (saved) => workerHandle(saved.agentId, saved.host, lostAfterMs),
      enrolled: { handle: (workerId, host) => workerHandle(workerId, host, lostAfterMs) },
      close: async () => undefined,
    };
    return driver;
  },
};
