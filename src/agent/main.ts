/**
 * Entry of an agent process. Its id and the supervisor URL come from the environment
 * (JOBVISOR_AGENT_ID, JOBVISOR_AGENT_URL); its token comes on stdin, so it is never in the
 * environment of the agent or of the cmds it runs.
 */
import { createLogger } from '../shared/logger.js';
import { Agent } from './agent.js';
import { agentLogDestination } from './logDestination.js';
import { ENROLL_USAGE, readEnrollArgs, runEnrolledAgent } from './enroll.js';

async function readToken(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0]?.trim() ?? '';
}

/** With `--enroll ...` in `argv`: an enrolled worker (enroll.ts); else an agent a driver started. */
export async function runAgentProcess(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): Promise<void> {
  // Its own log must not take the agent down when the disk is full (see logDestination.ts).
  const log = createLogger('agent', env.JOBVISOR_LOG_LEVEL ?? 'info', agentLogDestination());
  if (argv.some((a) => a === '--enroll' || a.startsWith('--enroll='))) return enrolled(argv, log);
  const agentId = env.JOBVISOR_AGENT_ID;
  const url = env.JOBVISOR_AGENT_URL;
  if (!agentId || !url) throw new Error('JOBVISOR_AGENT_ID and JOBVISOR_AGENT_URL must be set');
  const token = await readToken();
  if (!token) throw new Error('the agent token must be given as the first line of stdin');
  process.stdin.destroy();
  const scheduler = env.JOBVISOR_SCHEDULER_POLL_MS
    ? {
        pollIntervalMs: Number(env.JOBVISOR_SCHEDULER_POLL_MS),
        ...(env.JOBVISOR_SCHEDULER_POLL_SOON_MS ? { pollSoonMs: Number(env.JOBVISOR_SCHEDULER_POLL_SOON_MS) } : {}),
        ...(env.JOBVISOR_SCHEDULER_POLL_BACKOFF ? { pollBackoff: Number(env.JOBVISOR_SCHEDULER_POLL_BACKOFF) } : {}),
        unconfirmedGraceMs: Number(env.JOBVISOR_SCHEDULER_GRACE_MS ?? 600_000),
      }
    : undefined;
  const agent = new Agent({ agentId, token, url, log: log.child({ agentId }), scheduler, logFile: env.JOBVISOR_AGENT_LOG });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => void agent.stop(`received ${sig}`));
  }
  await agent.run();
  log.info('agent ended');
}

async function enrolled(argv: string[], log: ReturnType<typeof createLogger>): Promise<void> {
  let options;
  try {
    options = readEnrollArgs(argv);
  } catch (err) {
    process.stderr.write(`jobvisor agent: ${(err as Error).message}\n${ENROLL_USAGE}\n`);
    process.exit(2);
  }
  const refused = await runEnrolledAgent(options, log);
  if (refused !== null) {
    process.stderr.write(`jobvisor agent: the supervisor refused this worker: ${refused}\n`);
    process.exit(1);
  }
  log.info('worker ended');
}
