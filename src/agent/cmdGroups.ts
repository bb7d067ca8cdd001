/**
 * The process groups of the cmds an agent runs, recorded in the agent's own folder (one file
 * `cmd-groups/<pgid>` per cmd, holding the start time of the group's leader), so that whoever
 * started the agent can end them if the agent dies without ending them itself: a SIGKILL leaves
 * them running with PID 1 as their parent (see drivers/local/driver.ts, which reads them).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';

/** Field 22 of /proc/<pid>/stat (clock ticks since boot), or '' where there is no /proc. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

export class CmdGroups {
  constructor(
    /** The folder of the records (the process engine's spawner writes them there: see cmds/spawner.ts). */
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Records a cmd's group (its leader is the cmd: cmds start in their own group). */
  add(pgid: number): void {
    try {
      const file = path.join(this.dir, String(pgid));
      const text = `${startTime(pgid)}\n`;
      try {
        writeFileSync(file, text);
      } catch {
        // The folder is made with the first cmd (or again, if it went away): not before every write.
        mkdirSync(this.dir, { recursive: true });
        writeFileSync(file, text);
      }
    } catch (err) {
      this.log.warn({ pgid, err: (err as Error).message }, 'the process group of a cmd could not be recorded');
    }
  }

  /** Drops a cmd's record, once its group was ended; off the event loop (nothing waits for it). */
  remove(pgid: number): void {
    rm(path.join(this.dir, String(pgid)), { force: true }).catch((err: unknown) => this.log.warn({ pgid, err: (err as Error).message }, 'the record of a cmd group could not be removed'));
  }
}
