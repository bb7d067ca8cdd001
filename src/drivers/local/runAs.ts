/**
 * `runAs`: the OS users a local target starts its agents as (and so runs their commands as),
 * instead of the supervisor's own. One OS user for everyone (`"jvrunner"`), one per jobvisor
 * user by a pattern (`"jv-{user}"`), or a mapping by jobvisor user with `"*"` for the others
 * (`{"alice": "osalice", "*": "jvrunner"}`). The supervisor runs as root and starts each agent
 * with the uid and primary gid of its OS user (no supplementary groups).
 *
 * Such a target keeps its run directories and agent folders in a work folder of its own, out
 * of the data folder (which stays the supervisor's alone): `<workDir>/runs/<user>/` (0700,
 * owned by the user's OS user) and `<workDir>/agents/<agentId>/` (0700, owned by the agent's),
 * under folders of the supervisor's open to others for passing through only (0711).
 */
import { execFile, execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, closeSync, fchownSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';

const run = promisify(execFile);

/** What an OS user's name may be here (and never an option to a command: no leading "-"). */
const OS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
const USER = '{user}';

const OsUserSetting = z
  .string()
  .max(64)
  .refine((s) => OS_NAME.test(s.replaceAll(USER, 'u')), 'an OS user name (letters, digits, "_", "." and "-", up to 32, not starting with "-" or "."); {user} stands for the jobvisor user');

/** `runAs`: one OS user (or pattern) for every jobvisor user, or one per jobvisor user with `"*"` for the others. */
export const RunAsSetting = z.union([
  OsUserSetting,
  z
    .record(z.string().regex(/^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/, 'a jobvisor user name or "*"'), OsUserSetting)
    .refine((m) => Object.keys(m).length > 0, 'at least one jobvisor user or "*"'),
]);
export type RunAsSetting = z.infer<typeof RunAsSetting>;

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(line: string): OsUser | undefined {
  const [name, , uid, gid, , home] = line.trim().split(':');
  if (name === undefined || uid === undefined || gid === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
}

/** The OS user of that name (through NSS: `getent passwd`), undefined if there is none. */
function lookupSync(name: string): OsUser | undefined {
  try {
    return parsePasswd(execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch (err) {
    if ((err as { status?: number }).status === 2) return undefined;
    throw new Error(`could not look up OS user ${name}: ${(err as Error).message}`);
  }
}

async function lookup(name: string): Promise<OsUser | undefined> {
  try {
    return parsePasswd((await run('getent', ['passwd', name], { encoding: 'utf8' })).stdout);
  } catch (err) {
    if ((err as { code?: unknown }).code === 2) return undefined;
    throw new Error(`could not look up OS user ${name}: ${(err as Error).message}`);
  }
}

/** What an agent's OS user must reach: [what, path, needs reading too]. */
export type Need = [string, string, boolean];

/** Run as the OS user: says the first need it cannot reach, and which folder on the way is closed. */
const REACH_SCRIPT = `
const fs = require('node:fs'), path = require('node:path');
for (const [what, p, read] of JSON.parse(process.argv[1])) {
  const up = [];
  for (let d = path.dirname(p); ; d = path.dirname(d)) { up.unshift(d); if (d === path.dirname(d)) break; }
  for (const d of up) try { fs.accessSync(d, fs.constants.X_OK); } catch { console.log(what + ' ' + p + ': the folder ' + d + ' is closed to it (it needs o+x)'); process.exit(3); }
  try { fs.accessSync(p, read ? fs.constants.R_OK : fs.constants.X_OK); } catch (e) { console.log(what + ' ' + p + ': ' + e.code); process.exit(3); }
}`;

function reachOptions(u: OsUser) {
  return { uid: u.uid, gid: u.gid, cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' as const, timeout: 20_000 };
}

function reachAnswer(u: OsUser, r: Pick<SpawnSyncReturns<string>, 'error' | 'status' | 'stdout' | 'stderr'>): string | undefined {
  if (r.error && r.status === null) return `OS user ${u.name} cannot run Node (${process.execPath}): ${r.error.message}`;
  if (r.status === 0) return undefined;
  return `OS user ${u.name} cannot reach ${(r.stdout || r.stderr || `(exit ${r.status})`).trim()}`;
}

export interface RunAsOptions {
  /** The target's name, for messages. */
  target: string;
  setting: RunAsSetting;
  /** The target's work folder: `runs/` and `agents/` go there. */
  workDir: string;
  /** What every agent's OS user must reach (the agent bundle, the templates, ...). */
  needs: Need[];
  log?: Logger;
}

/**
 * The OS users of one target: checked at start (those named outright must exist, must not be
 * root, and must reach what an agent needs; a ConfigError says which setting is wrong), found
 * per jobvisor user when an agent starts, and the folders an agent gets, made for its OS user.
 */
export class RunAs {
  readonly runsDir: string;
  readonly agentsDir: string;
  /** OS users checked, by name (named outright: at start; from a pattern: at their first agent). */
  private readonly checked = new Map<string, Promise<OsUser>>();

  constructor(private readonly o: RunAsOptions) {
    const where = `target ${o.target} (driver local)`;
    if (process.getuid?.() !== 0) throw new ConfigError(`${where}: runAs needs the supervisor to run as root, to start agents as other OS users; it runs as uid ${process.getuid?.()}`);
    this.runsDir = path.join(o.workDir, 'runs');
    this.agentsDir = path.join(o.workDir, 'agents');
    for (const d of [o.workDir, this.runsDir, this.agentsDir]) passThrough(d);
    const entries = typeof o.setting === 'string' ? [['runAs', o.setting] as const] : Object.entries(o.setting).map(([k, v]) => [`runAs[${JSON.stringify(k)}]`, v] as const);
    for (const [setting, name] of entries) {
      if (name.includes(USER)) continue;
      const u = lookupSync(name);
      if (!u) throw new ConfigError(`${where}: ${setting}: no OS user "${name}" on this machine`);
      const problem = this.refuse(u) ?? reachAnswer(u, spawnSync(process.execPath, ['-e', REACH_SCRIPT, JSON.stringify(this.needs())], reachOptions(u)));
      if (problem) throw new ConfigError(`${where}: ${setting}: ${problem}`);
      this.checked.set(name, Promise.resolve(u));
    }
  }

  /** The OS user a jobvisor user's agents run as; refuses (for that user's runs) a user runAs gives none, or a bad one. */
  osUserOf(user: string): Promise<OsUser> {
    const s = this.o.setting;
    const pattern = typeof s === 'string' ? s : (Object.hasOwn(s, user) ? s[user] : s['*']);
    if (pattern === undefined) return Promise.reject(new Error(`target ${this.o.target} runs agents as the OS users of runAs, which gives jobvisor user ${user} none (and has no "*")`));
    const name = pattern.replaceAll(USER, user);
    let found = this.checked.get(name);
    if (!found) {
      found = this.check(name, user);
      this.checked.set(name, found);
      found.catch(() => this.checked.delete(name)); // asked again at the next start: the site may have made the user since
    }
    return found;
  }

  /**
   * The folders of a new agent: the user's runs folder (made, or handed over to the OS user if
   * it had another one), and the agent's own folder with its log file, made here so that no
   * name in them is one the OS user chose. Returns the folder and the log's file descriptor.
   */
  async agentFolder(user: string, agentId: string, u: OsUser): Promise<{ dir: string; logFd: number }> {
    await this.ownFolder(path.join(this.runsDir, user), u);
    const dir = path.join(this.agentsDir, agentId);
    mkdirSync(dir, { mode: 0o700 });
    const logFd = openSync(path.join(dir, 'agent.log'), 'wx', 0o600);
    try {
      fchownSync(logFd, u.uid, u.gid);
      chownSync(dir, u.uid, u.gid);
    } catch (err) {
      closeSync(logFd);
      throw err;
    }
    return { dir, logFd };
  }

  private needs(): Need[] {
    return [...this.o.needs, ['the work folder', this.runsDir, false], ['the work folder', this.agentsDir, false]];
  }

  private refuse(u: OsUser): string | undefined {
    return u.uid === 0 ? `"${u.name}" is uid 0; name an unprivileged OS user` : undefined;
  }

  private async check(name: string, user: string): Promise<OsUser> {
    if (!OS_NAME.test(name)) throw new Error(`runAs of target ${this.o.target} makes "${name}" of jobvisor user ${user}, which is no OS user name`);
    const u = await lookup(name);
    if (!u) throw new Error(`target ${this.o.target} runs ${user}'s agents as OS user ${name} (runAs), and there is no such OS user on this machine`);
    const refused = this.refuse(u);
    if (refused) throw new Error(`target ${this.o.target}, runAs: ${refused}`);
    const r = await run(process.execPath, ['-e', REACH_SCRIPT, JSON.stringify(this.needs())], reachOptions(u)).then(
      (ok) => ({ ...ok, status: 0, error: undefined }),
      (err: { code?: unknown; stdout?: string; stderr?: string; message: string }) => ({ status: typeof err.code === 'number' ? err.code : null, error: new Error(err.message), stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
    );
    const problem = reachAnswer(u, r);
    if (problem) throw new Error(`target ${this.o.target}: ${problem}`);
    return u;
  }

  /** The user's runs folder, 0700 and the OS user's; one another OS user had is handed over whole. */
  private async ownFolder(dir: string, u: OsUser): Promise<void> {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, u.uid, u.gid);
      return;
    }
    if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
    if (st.uid !== u.uid || st.gid !== u.gid) {
      this.o.log?.info({ dir, from: st.uid, to: u.uid }, 'handing a user\'s runs folder over to the OS user runAs now gives them');
      // chown -R changes links themselves and never follows one (-P), also while the folder changes.
      await run('chown', ['-R', '-P', `${u.uid}:${u.gid}`, '--', dir]);
    }
    chmodSync(dir, 0o700);
  }
}

/** A folder of the supervisor's that others may pass through but not list: 0711. */
function passThrough(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
}
