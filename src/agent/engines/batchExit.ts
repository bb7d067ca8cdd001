/**
 * The exit code a batch run's script recorded for its command (EXIT_STATUS_FILE, written by the
 * `{{run}}` block of drivers/cluster/steps.ts when the command ended by itself). A job its
 * scheduler killed (a cancel, a time limit), or a site template that `exec`s the command,
 * writes none: the engine then asks the scheduler's records (lookUp), as before.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EXIT_STATUS_FILE } from '../../shared/scheduler.js';

/** The recorded exit code (0-255), or null when there is no file (yet) or it does not hold one code. */
export async function readExitStatus(runDir: string): Promise<number | null> {
  const text = await readFile(path.join(runDir, EXIT_STATUS_FILE), 'utf8').catch(() => null);
  const m = text === null ? null : /^([0-9]{1,3})\n?$/.exec(text);
  const code = m ? Number(m[1]) : NaN;
  return code >= 0 && code <= 255 ? code : null;
}
