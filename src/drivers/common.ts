/** What several backends use: the bundled agent they start, and refusing options a target does not take. */
import path from 'node:path';
import { PACKAGE_ROOT } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import type { TargetInfo } from './driver.js';

/** The bundled agent (npm run build): the same file every driver runs, copied or mounted where the agent runs. */
export const AGENT_BUNDLE = path.join(PACKAGE_ROOT, 'dist', 'jobvisor-agent.mjs');

/** For targets whose runs take no options (those are a cluster scheduler's). */
export function refuseOptions(info: TargetInfo, options: Record<string, unknown> | null): void {
  const names = Object.keys(options ?? {});
  if (names.length > 0) throw new JobvisorError('INVALID_INPUT', `target ${info.name} (${info.kind}) takes no run options; got ${names.join(', ')}`);
}
