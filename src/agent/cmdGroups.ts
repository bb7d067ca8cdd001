/**
 * The process groups of the cmds an agent runs, recorded in the agent's own folder (one file
 * `cmd-groups/<pgid>` per cmd, holding the start time of the group's leader), so that whoever
 * started the agent can end them if the agent dies without ending them itself: a SIGKILL leaves
 * them running with PID 1 as their parent (see drivers/local/driver.ts, which reads them).
 */
import { unlink } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';

export class CmdGroups {
  constructor(
    /** The folder of the records (the process engine's spawner writes them there: see cmds/spawner.ts). */
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /**
   * Drops a cmd's record, once its group was ended; off the event loop (nothing waits for it).
   * One unlink: `rm(file, {force})` made three calls of it (two lstats before the unlink), at
   * every run's end. A record already gone is no problem.
   */
  remove(pgid: number): void {
    unlink(path.join(this.dir, String(pgid)), (err) => {
      if (err && err.code !== 'ENOENT') this.log.warn({ pgid, err: err.message }, 'the record of a cmd group could not be removed');
    });
  }
}
