/**
 * The supervisor's host-local Unix socket (setting `supervisorSocket`): the same internal API
 * (and agent websockets) as its TCP port, for the server and for local scripts of the same OS
 * user, and for sites that want no TCP port at all (`supervisorTcp: false`). The socket is
 * created with mode 0600 (the umask is narrowed while it is bound, so it is never wider): only
 * its OS user (and root) can connect. A socket file a dead supervisor left is removed at start;
 * one another process still listens on is not (the start fails, saying so); the file goes at stop.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { ConfigError } from '../shared/config.js';

/** The socket path is taken: a start that would only fail again (exit code 2, as a configuration error). */
export class SocketInUse extends ConfigError {
  override name = 'SocketInUse';
}

/** Whether something accepts connections on the socket file. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(file);
    probe.setTimeout(2000);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('timeout', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Removes a stale socket file at `file`; refuses a live one, and anything that is not a socket. */
export async function clearStaleSocket(file: string): Promise<void> {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new SocketInUse(`supervisorSocket ${file} exists and is not a socket; remove it or choose another path`);
  if (await answers(file)) throw new SocketInUse(`another process (a supervisor still running?) listens on supervisorSocket ${file}`);
  unlinkSync(file);
}

/** Binds `server` to the socket file, mode 0600. */
export async function listenOnSocket(server: http.Server, file: string): Promise<void> {
  await clearStaleSocket(file);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is made by bind(), synchronously inside listen(): the umask covers it alone.
    const umask = process.umask(0o177);
    try {
      server.listen(file, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(file, 0o600);
}

/** Removes the socket file (after the server closed; Node removes it too, this covers a crash of close). */
export function removeSocket(file: string): void {
  try {
    if (lstatSync(file).isSocket()) unlinkSync(file);
  } catch {
    /* gone */
  }
}
