/**
 * User accounts and login tokens, in their own SQLite file `<dataDir>/accounts.sqlite`.
 *
 * Passwords are hashed with scrypt (random salt per password, parameters stored with the hash).
 * A token is 32 random bytes (base64url) given to the client once; only its sha256 is stored,
 * so the database alone does not let anyone log in.
 */
import { hash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { privateDir, privateFile } from '../shared/secret.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AccountSettings, NotifyOnEnd } from '../shared/api.js';
import type { Config } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import { NAME_PATTERN, type Role } from '../shared/types.js';
import type { TokenScope } from '../shared/accountsApi.js';
import { ApiTokens, isApiToken } from './apiTokens.js';
import { AuditLog } from './audit.js';
import { SessionCache } from './sessionCache.js';

export interface User {
  username: string;
  role: Role;
  createdAt: number;
  /** When an admin disabled the account; null while enabled. */
  disabledAt: number | null;
}

/** The user a request's token belongs to, and what kind of token it is. */
export interface AuthenticatedUser extends User {
  /** `session`: a login's token; `api`: an API token (tokenId and its scope set). */
  tokenKind: 'session' | 'api';
  scope: TokenScope;
  tokenId?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: number;
  user: User;
}

/** What ensureAdmin did on a first start; undefined when accounts already existed. */
export interface CreatedAdmin {
  username: string;
  /** Set when the password was generated: the file holding it (mode 0600). */
  passwordFile?: string;
  /** Set when the password was generated. */
  generatedPassword?: string;
}

export interface AccountsOptions {
  /** How long a login token is valid, in ms. */
  tokenTtlMs: number;
  now?: () => number;
  /** Default 8. */
  passwordMinLength?: number;
  /** API tokens: the longest validity (default 365 days) and how many one user may hold (default 20). */
  apiTokenMaxDays?: number;
  apiTokensPerUser?: number;
  /** The audit log's bounds (default 365 days, 100000 entries). */
  auditRetentionDays?: number;
  auditMaxEntries?: number;
}

type AccountSettingNames = 'dataDir' | 'tokenTtlHours' | 'passwordMinLength' | 'apiTokenMaxDays' | 'apiTokensPerUser' | 'auditRetentionDays' | 'auditMaxEntries';

export const ACCOUNTS_FILE_NAME = 'accounts.sqlite';
export const INITIAL_ADMIN_PASSWORD_FILE_NAME = 'initial-admin-password';
const PRUNE_INTERVAL_MS = 10 * 60_000;
const MAX_TOKEN_LENGTH = 200;
/** Login tokens looked up are remembered this long (sessionCache.ts), at most this many. */
const SESSION_CACHE_MS = 1000;
const SESSION_CACHE_ENTRIES = 10_000;

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, tens of ms). Stored in each hash so it can be raised later. */
const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32, saltLength: 16 };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expires_at ON tokens(expires_at);
`;

interface UserRow {
  username: string;
  password_hash: string;
  role: Role;
  created_at: number;
  disabled_at: number | null;
}

const USER_COLUMNS = 'username, password_hash, role, created_at, disabled_at';

export class Accounts {
  private readonly db: Database.Database;
  /** Statements of the per-request path (token lookup), prepared once (statement()). */
  private readonly statements = new Map<string, Database.Statement>();
  /** Login tokens recently looked up; cleared by every change that can end or alter a login. */
  private readonly sessions = new SessionCache(SESSION_CACHE_MS, SESSION_CACHE_ENTRIES);
  private readonly tokenTtlMs: number;
  private readonly now: () => number;
  private lastPruneAt = 0;
  /** A hash of a random password, so that logins of unknown users cost the same scrypt work. */
  private readonly dummyHash: Promise<string>;
  readonly passwordMinLength: number;
  readonly apiTokens: ApiTokens;
  readonly audit: AuditLog;

  constructor(file: string, options: AccountsOptions) {
    this.tokenTtlMs = options.tokenTtlMs;
    this.now = options.now ?? Date.now;
    this.passwordMinLength = options.passwordMinLength ?? 8;
    this.dummyHash = hashPassword(randomBytes(16).toString('hex'));
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.dropRoleCheck();
    this.addMissingColumns();
    this.apiTokens = new ApiTokens(this.db, { maxDays: options.apiTokenMaxDays ?? 365, perUser: options.apiTokensPerUser ?? 20, now: this.now });
    this.audit = new AuditLog(this.db, { retentionDays: options.auditRetentionDays ?? 365, maxEntries: options.auditMaxEntries ?? 100_000, now: this.now });
  }

  /**
   * Accounts made before site roles allowed only `user` and `admin` (a CHECK constraint): the
   * users table is rebuilt without it, keeping every row (and, foreign keys off meanwhile, every
   * token). Idempotent: a table without the constraint is left alone.
   */
  private dropRoleCheck(): void {
    const sql = (this.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").get() as { sql: string } | undefined)?.sql ?? '';
    if (!/CHECK\s*\(\s*role IN/i.test(sql)) return;
    this.db.pragma('foreign_keys = OFF');
    try {
      this.db.transaction(() => {
        this.db.exec('CREATE TABLE users_new (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, created_at INTEGER NOT NULL)');
        this.db.exec('INSERT INTO users_new (username, password_hash, role, created_at) SELECT username, password_hash, role, created_at FROM users');
        this.db.exec('DROP TABLE users');
        this.db.exec('ALTER TABLE users_new RENAME TO users');
      })();
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  /** Columns added after the first schema (e-mail settings), added to a database that lacks them. */
  private addMissingColumns(): void {
    const has = new Set((this.db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).map((c) => c.name));
    if (!has.has('email')) this.db.exec('ALTER TABLE users ADD COLUMN email TEXT');
    if (!has.has('notify_on_end')) this.db.exec("ALTER TABLE users ADD COLUMN notify_on_end TEXT NOT NULL DEFAULT 'never'");
    if (!has.has('disabled_at')) this.db.exec('ALTER TABLE users ADD COLUMN disabled_at INTEGER');
  }

  private settingsQuery: Database.Statement | undefined;

  /** A user's e-mail address and when they want to be e-mailed of a run's end. */
  settings(username: string): AccountSettings {
    // Prepared once: every run request reads it (contactHeaders), and preparing cost more than the read.
    this.settingsQuery ??= this.db.prepare('SELECT email, notify_on_end FROM users WHERE username = ?');
    const row = this.settingsQuery.get(username) as { email: string | null; notify_on_end: NotifyOnEnd } | undefined;
    if (!row) throw new JobvisorError('UNAUTHENTICATED', `no user ${username}`);
    return { email: row.email, notifyOnEnd: row.notify_on_end };
  }

  /** Changes the settings given (an e-mail of null removes the address). */
  updateSettings(username: string, patch: { email?: string | null; notifyOnEnd?: NotifyOnEnd }): AccountSettings {
    const next = { ...this.settings(username), ...patch };
    this.db.prepare('UPDATE users SET email = ?, notify_on_end = ? WHERE username = ?').run(next.email, next.notifyOnEnd, username);
    return next;
  }

  /** Opens `<dataDir>/accounts.sqlite`. */
  static open(config: Pick<Config, 'dataDir' | 'tokenTtlHours'> & Partial<Pick<Config, AccountSettingNames>>, now?: () => number): Accounts {
    privateDir(config.dataDir);
    return new Accounts(path.join(config.dataDir, ACCOUNTS_FILE_NAME), {
      tokenTtlMs: config.tokenTtlHours * 3600_000,
      now,
      passwordMinLength: config.passwordMinLength,
      apiTokenMaxDays: config.apiTokenMaxDays,
      apiTokensPerUser: config.apiTokensPerUser,
      auditRetentionDays: config.auditRetentionDays,
      auditMaxEntries: config.auditMaxEntries,
    });
  }

  /**
   * On a first start (no users at all), creates the admin account: with `config.adminPassword`,
   * or with a generated password written to `<dataDir>/initial-admin-password` (mode 0600).
   */
  async ensureAdmin(config: Pick<Config, 'dataDir' | 'adminUser' | 'adminPassword'>): Promise<CreatedAdmin | undefined> {
    if (this.countUsers() > 0) return undefined;
    if (config.adminPassword !== undefined) {
      await this.createUser(config.adminUser, config.adminPassword, 'admin').catch((err: unknown) => {
        if (err instanceof JobvisorError && err.code === 'PASSWORD_REJECTED') throw new JobvisorError('PASSWORD_REJECTED', `setting adminPassword: ${err.message}`, err.details);
        throw err;
      });
      return { username: config.adminUser };
    }
    const password = randomBytes(18).toString('base64url');
    const passwordFile = path.join(config.dataDir, INITIAL_ADMIN_PASSWORD_FILE_NAME);
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
    await this.createUser(config.adminUser, password, 'admin');
    return { username: config.adminUser, passwordFile, generatedPassword: password };
  }

  async createUser(username: string, password: string, role: Role): Promise<User> {
    if (!NAME_PATTERN.test(username)) throw new JobvisorError('INVALID_INPUT', `user name ${JSON.stringify(username)} is not valid`);
    if (this.findUser(username)) throw userExists(username);
    this.checkPasswordRules(username, password);
    const passwordHash = await hashPassword(password);
    const createdAt = this.now();
    try {
      this.db.prepare('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)').run(username, passwordHash, role, createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw userExists(username);
      throw err;
    }
    return { username, role, createdAt, disabledAt: null };
  }

  /** Checks a password and issues a token. Unknown user and wrong password fail alike, in about the same time. */
  async login(username: string, password: string): Promise<LoginResult> {
    const row = this.findUser(username);
    const storedHash = row?.password_hash ?? (await this.dummyHash);
    const matches = await verifyPassword(password, storedHash);
    if (!row || !matches) throw new JobvisorError('INVALID_CREDENTIALS', 'user name or password is wrong');
    if (row.disabled_at !== null) throw new JobvisorError('ACCOUNT_DISABLED', `the account ${row.username} is disabled; ask an admin`);
    this.pruneExpiredTokens();
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + this.tokenTtlMs;
    this.db.prepare('INSERT INTO tokens (token_hash, username, expires_at, created_at) VALUES (?, ?, ?, ?)').run(hashToken(token), row.username, expiresAt, now);
    return { token, expiresAt, user: toUser(row) };
  }

  /**
   * The user a token belongs to: a login's token or an API token (`jvt_...`, with `address`, the
   * client's, noted as its last use); undefined when the token is unknown, revoked or expired,
   * or its user is disabled.
   */
  authenticate(token: string, address?: string): AuthenticatedUser | undefined {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    if (isApiToken(token)) {
      const owner = this.apiTokens.authenticate(token, address);
      const row = owner && this.findUser(owner.username);
      if (!owner || !row || row.disabled_at !== null) return undefined;
      return { ...toUser(row), tokenKind: 'api', scope: owner.scope, tokenId: owner.tokenId };
    }
    const now = this.now();
    const cached = this.sessions.get(token, now);
    if (cached !== undefined) return cached;
    const row = this.statement('SELECT u.username, u.password_hash, u.role, u.created_at, u.disabled_at, t.expires_at FROM tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = ?').get(
      hashToken(token),
    ) as (UserRow & { expires_at: number }) | undefined;
    if (!row) return undefined;
    if (row.expires_at <= now) {
      this.statement('DELETE FROM tokens WHERE token_hash = ?').run(hashToken(token));
      return undefined;
    }
    if (row.disabled_at !== null) return undefined;
    const user: AuthenticatedUser = { ...toUser(row), tokenKind: 'session', scope: 'full' };
    this.sessions.set(token, user, row.expires_at, now);
    return user;
  }

  /** Revokes the token the caller logged out with (a login's, or an API token). */
  logout(token: string): void {
    this.sessions.clear();
    if (isApiToken(token)) this.apiTokens.revokeToken(token);
    else this.db.prepare('DELETE FROM tokens WHERE token_hash = ?').run(hashToken(token));
  }

  listUsers(): User[] {
    const rows = this.db.prepare(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`).all() as UserRow[];
    return rows.map(toUser);
  }

  /** One user; USER_NOT_FOUND when there is none of that name. */
  user(username: string): User {
    const row = this.findUser(username);
    if (!row) throw new JobvisorError('USER_NOT_FOUND', `no user ${username}`);
    return toUser(row);
  }

  /**
   * The caller's own password change: the current one must be right; the new one must pass the
   * rules. Every other login of the user ends (`keepToken`, the caller's, stays). API tokens stay.
   */
  async changePassword(username: string, currentPassword: string, newPassword: string, keepToken: string | undefined): Promise<number> {
    const row = this.findUser(username);
    if (!row || !(await verifyPassword(currentPassword, row.password_hash))) throw new JobvisorError('WRONG_PASSWORD', 'the current password is wrong');
    if (currentPassword === newPassword) throw new JobvisorError('PASSWORD_REJECTED', 'the new password is the current one', { minLength: this.passwordMinLength });
    this.checkPasswordRules(username, newPassword);
    await this.setPassword(username, newPassword);
    return this.revokeSessions(username, keepToken);
  }

  /** An admin's reset: `password`, or a generated one (returned). Every login of the user ends. */
  async resetPassword(username: string, password: string | undefined): Promise<{ generatedPassword?: string; sessionsEnded: number }> {
    this.user(username);
    if (password !== undefined) this.checkPasswordRules(username, password);
    const next = password ?? randomBytes(Math.max(18, Math.ceil((this.passwordMinLength * 3) / 4))).toString('base64url');
    await this.setPassword(username, next);
    const sessionsEnded = this.revokeSessions(username);
    return password === undefined ? { generatedPassword: next, sessionsEnded } : { sessionsEnded };
  }

  /** Ends the user's logins (all, or all but `exceptToken`'s); their count. */
  revokeSessions(username: string, exceptToken?: string): number {
    this.sessions.clear();
    const except = exceptToken === undefined || isApiToken(exceptToken) ? '' : hashToken(exceptToken);
    return this.db.prepare('DELETE FROM tokens WHERE username = ? AND token_hash != ?').run(username, except).changes;
  }

  /** Disables (their logins end; their API tokens stop working) or re-enables a user; the last enabled admin is never disabled. */
  setDisabled(username: string, disabled: boolean): User {
    this.sessions.clear();
    const user = this.user(username);
    if (disabled && user.disabledAt === null) {
      this.refuseLastAdmin(user, 'disabled');
      this.db.transaction(() => {
        this.db.prepare('UPDATE users SET disabled_at = ? WHERE username = ?').run(this.now(), username);
        this.revokeSessions(username);
      })();
    } else if (!disabled && user.disabledAt !== null) {
      this.db.prepare('UPDATE users SET disabled_at = NULL WHERE username = ?').run(username);
    }
    return this.user(username);
  }

  setRole(username: string, role: Role): User {
    this.sessions.clear();
    const user = this.user(username);
    if (role !== 'admin') this.refuseLastAdmin(user, `given the role ${role}`);
    this.db.prepare('UPDATE users SET role = ? WHERE username = ?').run(role, username);
    return this.user(username);
  }

  /** Throws LAST_ADMIN when the user is an admin and the only enabled one (before a delete too). */
  refuseLastAdmin(user: User, what: string): void {
    if (user.role !== 'admin' || user.disabledAt !== null) return;
    const others = (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL AND username != ?").get(user.username) as { n: number }).n;
    if (others === 0) throw new JobvisorError('LAST_ADMIN', `${user.username} is the last enabled admin and cannot be ${what}; make another admin first`);
  }

  /** Deletes the account, with its logins and API tokens (their settings too). */
  deleteUser(username: string): void {
    this.sessions.clear();
    const user = this.user(username);
    this.refuseLastAdmin(user, 'deleted');
    this.db.prepare('DELETE FROM users WHERE username = ?').run(username);
  }

  /** PASSWORD_REJECTED unless the password is long enough and is not the user name. */
  checkPasswordRules(username: string, password: string): void {
    const rules = { minLength: this.passwordMinLength, maxLength: 1024 };
    if ([...password].length < this.passwordMinLength) throw new JobvisorError('PASSWORD_REJECTED', `a password needs at least ${this.passwordMinLength} characters`, rules);
    if (password.length > 1024) throw new JobvisorError('PASSWORD_REJECTED', 'a password has at most 1024 characters', rules);
    if (password.toLowerCase() === username.toLowerCase()) throw new JobvisorError('PASSWORD_REJECTED', 'a password may not be the user name', rules);
  }

  private async setPassword(username: string, password: string): Promise<void> {
    this.db.prepare('UPDATE users SET password_hash = ? WHERE username = ?').run(await hashPassword(password), username);
    this.sessions.clear();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private countUsers(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  private findUser(username: string): UserRow | undefined {
    return this.statement(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`).get(username) as UserRow | undefined;
  }

  /** `sql` prepared on its first use and kept: each request looks its token up, and preparing costs more than the lookup. */
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (prepared === undefined) this.statements.set(sql, (prepared = this.db.prepare(sql)));
    return prepared;
  }

  /** Deletes expired tokens, at most once per PRUNE_INTERVAL_MS. */
  private pruneExpiredTokens(): void {
    const now = this.now();
    if (now - this.lastPruneAt < PRUNE_INTERVAL_MS) return;
    this.lastPruneAt = now;
    this.db.prepare('DELETE FROM tokens WHERE expires_at <= ?').run(now);
  }
}

function toUser(row: UserRow): User {
  return { username: row.username, role: row.role, createdAt: row.created_at, disabledAt: row.disabled_at ?? null };
}

function userExists(username: string): JobvisorError {
  return new JobvisorError('USER_EXISTS', `user ${username} already exists`);
}

/** Makes the database file 0600 (whatever its mode was) before SQLite opens it (SQLite gives -wal and -shm the same mode). */
function createPrivateFile(file: string): void {
  privateFile(file);
}

export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

function scryptAsync(password: string, salt: Buffer, keyLength: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = 256 * params.N * params.r;
    scrypt(password.normalize('NFC'), salt, keyLength, { ...params, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLength);
  const key = await scryptAsync(password, salt, SCRYPT.keyLength, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltB64, keyB64] = stored.split('$');
  if (scheme !== 'scrypt' || saltB64 === undefined || keyB64 === undefined) return false;
  const expected = Buffer.from(keyB64, 'base64');
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const actual = await scryptAsync(password, Buffer.from(saltB64, 'base64'), expected.length, params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
