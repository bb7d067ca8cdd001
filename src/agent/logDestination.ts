/**
 * Where the agent's own log goes: a file descriptor (its stderr: a file in the agent's folder,
 * or the container's log), written synchronously. Unlike pino's default destination, a write
 * that fails (disk full: ENOSPC, EDQUOT; or any other error) neither throws into the code that
 * logs nor stops later lines: the line is dropped and counted, and the next line that can be
 * written says how many were lost. A pipe that is busy (EAGAIN) is waited for, briefly.
 */
import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

const BUSY_WAIT_MS = 10;
const BUSY_TRIES = 200;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Writes all of `buf`; false if the file descriptor refused it (what part was written stays written). */
function writeAll(fd: number, buf: Buffer): boolean {
  for (let busy = 0; buf.length > 0; ) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++busy > BUSY_TRIES) return false;
      pause(BUSY_WAIT_MS);
    }
  }
  return true;
}

export function agentLogDestination(fd = 2): DestinationStream & { readonly lost: number } {
  let lost = 0;
  return {
    get lost() {
      return lost;
    },
    write(line: string): void {
      if (lost > 0) {
        const note = JSON.stringify({ level: 40, time: Date.now(), name: 'agent', msg: `${lost} log lines of the agent were lost: they could not be written (disk full?)` }) + '\n';
        if (!writeAll(fd, Buffer.from(note))) {
          lost++;
          return;
        }
        lost = 0;
      }
      if (!writeAll(fd, Buffer.from(line))) lost++;
    },
  };
}
