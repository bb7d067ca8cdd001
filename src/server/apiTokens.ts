/**
 * API tokens for scripts, in the accounts database: `jvt_` + 32 random bytes (base64url), shown
 * once; only their sha256 is stored (right for random tokens: nothing to guess). Each has a
 * name, a scope (`read`: GET routes only; `full`), an expiry, and the time and address it was
 * last used. That last use is written at most once a minute per token, not at every request.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { API_TOKEN_PREFIX, type TokenScope, type TokenView } from '../shared/accountsApi.js';
import { JobvisorError } from '../shared/errors.js';

export const API_TOKENS_SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  token_id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
  name TEXT NOT NULL,
  scope TEXT NOT NULL,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_used_at INTEGER,
  last_used_from TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(username);
`;

export interface ApiTokensOptions {
  maxDays: number;
  perUser: number;
  now: () => number;
}

/** Whose an API token is, and what it may do. */
export interface ApiTokenOwner {
  username: string;
  tokenId: string;
  scope: TokenScope;
}

interface TokenRow {
  token_id: string;
  username: string;
  name: string;
  scope: TokenScope;
  prefix: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_from: string | null;
}

const DAY_MS = 24 * 3600_000;
/** The last use is written when the stored one is older than this. */
const LAST_USED_WRITE_MS = 60_000;
const COLUMNS = 'token_id, username, name, scope, prefix, created_at, expires_at, last_used_at, last_used_from';

export function isApiToken(token: string): boolean {
  return token.startsWith(API_TOKEN_PREFIX);
}

export class ApiTokens {
  /** The two statements of authenticate(), run at every request with an API token: prepared once. */
  private readonly lookup: Database.Statement;
  private readonly noteUse: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly options: ApiTokensOptions,
  ) {
    db.exec(API_TOKENS_SCHEMA);
    this.lookup = db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = ?`);
    this.noteUse = db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_from = ? WHERE token_id = ?');
  }

  create(username: string, name: string, scope: TokenScope, expiresInDays?: number): { token: string; view: TokenView } {
    const days = expiresInDays ?? this.options.maxDays;
    if (days > this.options.maxDays) throw new JobvisorError('INVALID_INPUT', `expiresInDays may be at most ${this.options.maxDays} here (setting apiTokenMaxDays)`, { maxDays: this.options.maxDays });
    const held = (this.db.prepare('SELECT count(*) AS n FROM api_tokens WHERE username = ? AND expires_at > ?').get(username, this.options.now()) as { n: number }).n;
    if (held >= this.options.perUser) throw new JobvisorError('TOKEN_LIMIT', `you hold ${held} API tokens, the most one user may (setting apiTokensPerUser); revoke one first`, { limit: this.options.perUser });
    this.db.prepare('DELETE FROM api_tokens WHERE username = ? AND expires_at <= ?').run(username, this.options.now());
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = this.options.now();
    const row: TokenRow = {
      token_id: randomBytes(8).toString('hex'),
      username,
      name,
      scope,
      prefix: token.slice(0, API_TOKEN_PREFIX.length + 4),
      created_at: now,
      expires_at: now + days * DAY_MS,
      last_used_at: null,
      last_used_from: null,
    };
    this.db
      .prepare('INSERT INTO api_tokens (token_id, token_hash, username, name, scope, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(row.token_id, sha256(token), username, name, scope, row.prefix, row.created_at, row.expires_at);
    return { token, view: toView(row) };
  }

  /** The owner of a valid token (not revoked, not expired); notes its use. The caller checks that the user is enabled. */
  authenticate(token: string, address: string | undefined): ApiTokenOwner | undefined {
    const row = this.lookup.get(sha256(token)) as TokenRow | undefined;
    const now = this.options.now();
    if (!row || row.expires_at <= now) return undefined;
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_WRITE_MS) {
      this.noteUse.run(now, address ?? row.last_used_from, row.token_id);
    }
    return { username: row.username, tokenId: row.token_id, scope: row.scope };
  }

  /** A user's tokens that have not expired, newest first. */
  list(username: string): TokenView[] {
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE username = ? AND expires_at > ? ORDER BY created_at DESC`).all(username, this.options.now()) as TokenRow[];
    return rows.map(toView);
  }

  /** Revokes one of `username`'s tokens; TOKEN_NOT_FOUND when they have no such token. */
  revoke(username: string, tokenId: string): TokenView {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE token_id = ? AND username = ?`).get(tokenId, username) as TokenRow | undefined;
    if (!row) throw new JobvisorError('TOKEN_NOT_FOUND', `${username} has no API token ${tokenId}`);
    this.db.prepare('DELETE FROM api_tokens WHERE token_id = ?').run(tokenId);
    return toView(row);
  }

  /** Revokes the token itself (a logout with it). */
  revokeToken(token: string): void {
    this.db.prepare('DELETE FROM api_tokens WHERE token_hash = ?').run(sha256(token));
  }
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toView(row: TokenRow): TokenView {
  return {
    tokenId: row.token_id,
    user: row.username,
    name: row.name,
    scope: row.scope,
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    lastUsedFrom: row.last_used_from,
  };
}
