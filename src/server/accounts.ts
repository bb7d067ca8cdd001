/**
 * User accounts and login tokens, in their own SQLite file `<dataDir>/accounts.sqlite`.
 *
 * Passwords are hashed with scrypt (random salt per password, parameters stored with the hash).
 * A token is 32 random bytes (base64url) given to the client once; only its sha256 is stored,
 * so the database alone does not let anyone log in.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { privateDir, privateFile } from '../shared/secret.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AccountSettings, NotifyOnEnd } from '../shared/api.js';
import type { Config } from '../shared/config.js';
import { JobvisorError } from '../shared/errors.js';
import { NAME_PATTERN, type Role } from '../shared/types.js';

export interface User {
  username: string;
  role: Role;
  createdAt: number;
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
}

export const ACCOUNTS_FILE_NAME = 'accounts.sqlite';
export const INITIAL_ADMIN_PASSWORD_FILE_NAME = 'initial-admin-password';
const PRUNE_INTERVAL_MS = 10 * 60_000;
const MAX_TOKEN_LENGTH = 200;

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
}

export class Accounts {
  private readonly db: Database.Database;
  private readonly tokenTtlMs: number;
  private readonly now: () => number;
  private lastPruneAt = 0;
  /** A hash of a random password, so that logins of unknown users cost the same scrypt work. */
  private readonly dummyHash: Promise<string>;

  constructor(file: string, options: AccountsOptions) {
    this.tokenTtlMs = options.tokenTtlMs;
    this.now = options.now ?? Date.now;
    this.dummyHash = hashPassword(randomBytes(16).toString('hex'));
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.dropRoleCheck();
    this.addMissingColumns();
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
  }

  /** A user's e-mail address and when they want to be e-mailed of a run's end. */
  settings(username: string): AccountSettings {
    const row = this.db.prepare('SELECT email, notify_on_end FROM users WHERE username = ?').get(username) as { email: string | null; notify_on_end: NotifyOnEnd } | undefined;
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
  static open(config: Pick<Config, 'dataDir' | 'tokenTtlHours'>, now?: () => number): Accounts {
    privateDir(config.dataDir);
    return new Accounts(path.join(config.dataDir, ACCOUNTS_FILE_NAME), { tokenTtlMs: config.tokenTtlHours * 3600_000, now });
  }

  /**
   * On a first start (no users at all), creates the admin account: with `config.adminPassword`,
   * or with a generated password written to `<dataDir>/initial-admin-password` (mode 0600).
   */
  async ensureAdmin(config: Pick<Config, 'dataDir' | 'adminUser' | 'adminPassword'>): Promise<CreatedAdmin | undefined> {
    if (this.countUsers() > 0) return undefined;
    if (config.adminPassword !== undefined) {
      await this.createUser(config.adminUser, config.adminPassword, 'admin');
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
    const passwordHash = await hashPassword(password);
    const createdAt = this.now();
    try {
      this.db.prepare('INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)').run(username, passwordHash, role, createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw userExists(username);
      throw err;
    }
    return { username, role, createdAt };
  }

  /** Checks a password and issues a token. Unknown user and wrong password fail alike, in about the same time. */
  async login(username: string, password: string): Promise<LoginResult> {
    const row = this.findUser(username);
    const storedHash = row?.password_hash ?? (await this.dummyHash);
    const matches = await verifyPassword(password, storedHash);
    if (!row || !matches) throw new JobvisorError('INVALID_CREDENTIALS', 'user name or password is wrong');
    this.pruneExpiredTokens();
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + this.tokenTtlMs;
    this.db.prepare('INSERT INTO tokens (token_hash, username, expires_at, created_at) VALUES (?, ?, ?, ?)').run(hashToken(token), row.username, expiresAt, now);
    return { token, expiresAt, user: toUser(row) };
  }

  /** The user a token belongs to; undefined when the token is unknown, revoked or expired. */
  authenticate(token: string): User | undefined {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const row = this.db
      .prepare('SELECT u.username, u.password_hash, u.role, u.created_at, t.expires_at FROM tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = ?')
      .get(hashToken(token)) as (UserRow & { expires_at: number }) | undefined;
    if (!row) return undefined;
    if (row.expires_at <= this.now()) {
      this.db.prepare('DELETE FROM tokens WHERE token_hash = ?').run(hashToken(token));
      return undefined;
    }
    return toUser(row);
  }

  logout(token: string): void {
    this.db.prepare('DELETE FROM tokens WHERE token_hash = ?').run(hashToken(token));
  }

  listUsers(): User[] {
    const rows = this.db.prepare('SELECT username, password_hash, role, created_at FROM users ORDER BY username').all() as UserRow[];
    return rows.map(toUser);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private countUsers(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  private findUser(username: string): UserRow | undefined {
    return this.db.prepare('SELECT username, password_hash, role, created_at FROM users WHERE username = ?').get(username) as UserRow | undefined;
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
  return { username: row.username, role: row.role, createdAt: row.created_at };
}

function userExists(username: string): JobvisorError {
  return new JobvisorError('USER_EXISTS', `user ${username} already exists`);
}

/** Makes the database file 0600 (whatever its mode was) before SQLite opens it (SQLite gives -wal and -shm the same mode). */
function createPrivateFile(file: string): void {
  privateFile(file);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
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
