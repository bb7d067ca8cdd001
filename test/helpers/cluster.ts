/**
 * The real test cluster (sbatch/test-cluster.sh: Slurm + an sshd asking for a password and a
 * TOTP code) and one-time codes for it. pam_oath refuses a code whose time step is not later
 * than the last one used, so codes here only move forward.
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './jobvisor.js';

export interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  totpKey: string;
  knownHosts: string;
}

export function startTestCluster(): ClusterInfo {
  const script = path.join(ROOT, 'sbatch', 'test-cluster.sh');
  execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60_000 });
  return JSON.parse(execFileSync('bash', [script, 'info'], { encoding: 'utf8' })) as ClusterInfo;
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

/** The user's last login from the pam_oath users file: when, and which code. */
function lastUse(): { time: number; otp: string } | undefined {
  try {
    const line = execFileSync('cat', ['/var/lib/jobvisor-cluster/users.oath'], { encoding: 'utf8' }).trim().split(/\s+/);
    const otp = line[5];
    const time = Date.parse((line[6] ?? '').replace(/L$/, 'Z'));
    return otp && Number.isFinite(time) ? { time, otp } : undefined;
  } catch {
    return undefined;
  }
}

let lastStep = 0;

/** A code pam_oath has not seen yet: the next step after the last one used (within its window of 20 steps). */
export function nextCode(info: ClusterInfo): string {
  const now = Math.floor(Date.now() / 30_000);
  const used = lastUse();
  let floor = lastStep;
  if (used) {
    for (let s = now - 20; s <= now + 20; s++) if (totp(info.totpKey, s) === used.otp) floor = Math.max(floor, s);
  }
  lastStep = Math.max(floor + 1, now - 19);
  if (lastStep > now + 20) throw new Error('no unused one-time code within the window; wait a little');
  return totp(info.totpKey, lastStep);
}
