/**
 * The shared secret between the server and the supervisor: `config.secret` or, when unset, the
 * file `<dataDir>/supervisor-secret`. Whichever process starts first creates the file (32 random
 * bytes as hex, mode 0600, created exclusively so two processes never write different secrets);
 * the other reads it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

/**
 * The data folder is the supervisor's and the server's alone: 0700, whatever mode it had
 * before (mkdir's mode only applies to a folder it makes).
 */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Makes (or keeps) a file readable by its owner only, before anything is written to it. */
export function privateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

export const SECRET_FILE_NAME = 'supervisor-secret';
const MIN_SECRET_LENGTH = 16;

export function secretFilePath(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, SECRET_FILE_NAME);
}

export function loadOrCreateSecret(config: Pick<Config, 'dataDir' | 'secret'>): string {
  if (config.secret !== undefined) return config.secret;
  const file = secretFilePath(config);
  privateDir(config.dataDir);
  try {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  return readSecretFile(file);
}

/** Reads the secret; waits briefly if another process has created the file but not yet written it. */
function readSecretFile(file: string): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= MIN_SECRET_LENGTH) return secret;
    if (secret.length > 0) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new Error(`secret file ${file} must hold at least ${MIN_SECRET_LENGTH} characters; delete it to have a new one created`);
}
