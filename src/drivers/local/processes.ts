/**
 * The local driver's view of processes: whether an agent still runs, and ending the cmds an
 * agent left behind. An agent records the process group of each of its cmds in its folder
 * (`cmd-groups/<pgid>`, holding the start time of the group's leader); once the agent is gone
 * the driver kills what is left of those groups.
 *
 * The agent folder and its records belong to the agent's OS user, which under `runAs` is not
 * the supervisor's: what they say is checked before the supervisor (root) acts on it. A group
 * is killed only if every process in it has the real uid of the folder's owner, so a record can
 * never make the supervisor kill a process of another user; a record is read without following
 * a symbolic link and without blocking; and the supervisor deletes records only in folders of
 * its own user (the run user removes its own, with its own rights).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CMD_GROUPS_DIR } from '../../shared/protocol.js';

/** Whether a process runs; a zombie (ended, not yet reaped by its new parent) does not. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc here: trust kill(0)
  }
}

/** The fields of /proc/<pid>/stat after the command name (field 3 on), undefined if there is no such process (or no /proc). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Per process group, the real uids of its processes (from /proc; empty where there is none). */
export type GroupOwners = ReadonlyMap<number, ReadonlySet<number>>;

export function groupOwners(): GroupOwners {
  const owners = new Map<number, Set<number>>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return owners;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pgrp = Number(statFields(e)?.[2]);
    let uid: number;
    try {
      uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1]);
    } catch {
      continue;
    }
    if (!Number.isInteger(pgrp) || !Number.isInteger(uid)) continue;
    let set = owners.get(pgrp);
    if (!set) owners.set(pgrp, (set = new Set()));
    set.add(uid);
  }
  return owners;
}

/** A record's text: only a small regular file, opened without following a link or waiting on a FIFO. */
function readRecord(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(64);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8').trim();
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The group may be killed for an agent of OS user `uid`: its processes are all that user's (where /proc says). */
function ownedBy(pgid: number, uid: number, owners: GroupOwners): boolean {
  const uids = owners.get(pgid);
  if (!uids) return owners.size === 0; // no /proc to ask: as before, trust the record
  return uids.size === 1 && uids.has(uid);
}

/**
 * Kills, with SIGKILL, the process groups an agent recorded in its folder for its cmds, then
 * forgets them; returns how many were still there. A group whose leader's pid now belongs to
 * another process (started at another time) is left alone: the id was reused; so is a group
 * with a process of another OS user than the folder's owner.
 */
export function killRecordedCmds(agentDir: string, owners?: GroupOwners): number {
  let owner: { uid: number; gid: number };
  try {
    owner = lstatSync(agentDir);
  } catch {
    return 0;
  }
  const dir = path.join(agentDir, CMD_GROUPS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  if (names.length === 0) return 0;
  owners ??= groupOwners();
  const own = owner.uid === process.getuid?.();
  let killed = 0;
  for (const name of names) {
    const pgid = Number(name);
    if (!Number.isInteger(pgid) || pgid <= 1 || String(pgid) !== name) continue;
    const recorded = readRecord(path.join(dir, name));
    const now = statFields(pgid)?.[19];
    const reused = now !== undefined && recorded !== '' && now !== recorded;
    if (recorded !== undefined && !reused && ownedBy(pgid, owner.uid, owners)) {
      try {
        process.kill(-pgid, 'SIGKILL');
        killed++;
      } catch {
        /* the group is gone */
      }
    }
  }
  if (own) for (const name of names) rmSync(path.join(dir, name), { force: true, recursive: true });
  else removeAs(owner, names.map((n) => path.join(dir, n)));
  return killed;
}

/** Removes files with the rights of their OS user (never the supervisor's, in a folder that user may change). */
function removeAs(owner: { uid: number; gid: number }, files: string[]): void {
  if (files.length === 0) return;
  try {
    const child = spawn('rm', ['-f', '--', ...files], { uid: owner.uid, gid: owner.gid, cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* left for the next look: a record of a group that is gone is passed over */
  }
}
