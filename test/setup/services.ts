/**
 * Vitest global set-up: the services the tests need, started by the project's own scripts
 * (idempotent): a Docker engine and the agent image built from local material.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function run(script: string): void {
  try {
    execFileSync('bash', [path.join(ROOT, script)], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 10 * 60_000 });
  } catch (err) {
    throw new Error(`${script} failed (${(err as Error).message}); the docker tests need a Docker engine: see README, "Docker driver"`);
  }
}

export default function setup(): void {
  // Several checkouts sharing one engine: only one of them should build the shared agent image.
  if (process.env.JOBVISOR_TEST_SKIP_AGENT_IMAGE === '1') return;
  run('docker/start-engine.sh');
  run('docker/build-agent-image.sh');
}
