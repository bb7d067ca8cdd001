/**
 * The real test clusters (src/drivers/slurm/test-cluster.sh, src/drivers/sge/test-cluster.sh:
 * a scheduler on this machine behind one sshd asking for a password and a TOTP code) and
 * one-time codes for them. pam_oath refuses a code whose time step is not later than the last
 * one used, and both clusters share the login user, so codes only move forward, under a lock
 * that test files running at the same time share.
 */
import { createHmac } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './jobvisor.js';

export type ClusterKind = 'slurm' | 'sge';

export interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  totpKey: string;
  knownHosts: string;
  /** A private key (ed25519, no passphrase) the login user's authorized_keys accepts. */
  privateKeyFile: string;
}

const script = (kind: ClusterKind) => path.join(ROOT, 'src', 'drivers', kind, 'test-cluster.sh');

export function startTestCluster(kind: ClusterKind): ClusterInfo {
  execFileSync('bash', [script(kind), 'start'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60_000 });
  return JSON.parse(execFileSync('bash', [script(kind), 'info'], { encoding: 'utf8' })) as ClusterInfo;
}

/**
 * Stops or starts the cluster's scheduler daemon, waiting until it is down or answers. Async:
 * a test's event loop must go on meanwhile (a stop can take 10 s; a blocked loop would not see
 * the server close its idle keep-alive connections, and reuse one that is closed).
 */
export async function schedulerDaemon(kind: ClusterKind, action: 'stop' | 'start'): Promise<void> {
  await promisify(execFile)('bash', [script(kind), `${action}-scheduler`], { timeout: 120_000 });
}

/** RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) for a time step. */
export function totp(hexKey: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', Buffer.from(hexKey, 'hex')).update(counter).digest();
  const offset = (mac[mac.length - 1] as number) & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

const STATE = '/var/lib/jobvisor-cluster';
/** The last step this machine's tests handed out, shared by test files (with a lock file). */
const STEP_FILE = path.join(STATE, 'test-last-step');
const LOCK_FILE = path.join(STATE, 'test-last-step.lock');
/** pam_oath's look-ahead in test-sshd.sh (window=...): codes this many steps ahead are still accepted. */
const WINDOW = 200;

/** The user's last login from the pam_oath users file: which code. */
function lastUsedStep(info: ClusterInfo, now: number): number {
  try {
    const otp = readFileSync(path.join(STATE, 'users.oath'), 'utf8').trim().split(/\s+/)[5];
    for (let s = now + WINDOW; s >= now - WINDOW; s--) if (otp && totp(info.totpKey, s) === otp) return s;
  } catch {
    /* no login yet */
  }
  return 0;
}

function withLock<T>(fn: () => T): T {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      closeSync(openSync(LOCK_FILE, 'wx'));
      break;
    } catch {
      // A lock older than 30 s was left by a test process that died.
      if (Date.now() - statSync(LOCK_FILE, { throwIfNoEntry: false })!.mtimeMs > 30_000) rmSync(LOCK_FILE, { force: true });
      if (Date.now() > deadline) throw new Error('the one-time code lock stayed taken');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK_FILE, { force: true });
  }
}

const LOGIN_LOCK_FILE = path.join(STATE, 'test-login.lock');

/**
 * Runs `fn` (a login with a fresh one-time code) while no other test process logs in: pam_oath
 * refuses a code older than the last one used, so two test files whose codes were handed out in
 * one order but used in the other would see one refused. A lock older than 2 minutes was left
 * by a test process that died.
 */
export async function withLoginLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      closeSync(openSync(LOGIN_LOCK_FILE, 'wx'));
      break;
    } catch {
      const age = Date.now() - (statSync(LOGIN_LOCK_FILE, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) rmSync(LOGIN_LOCK_FILE, { force: true });
      if (Date.now() > deadline) throw new Error('the cluster login lock stayed taken');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOGIN_LOCK_FILE, { force: true });
  }
}

/** A code pam_oath has not seen yet: the step after the last one used or handed out (each login uses one). */
export function nextCode(info: ClusterInfo): string {
  return withLock(() => {
    const now = Math.floor(Date.now() / 30_000);
    let handedOut = 0;
    try {
      handedOut = Number(readFileSync(STEP_FILE, 'utf8'));
    } catch {
      /* first code */
    }
    const step = Math.max(lastUsedStep(info, now), handedOut, now - 1) + 1;
    if (step > now + WINDOW) throw new Error('no unused one-time code within the window; wait a little');
    writeFileSync(STEP_FILE, String(step));
    return totp(info.totpKey, step);
  });
}
