/**
 * Limits on failed logins, per account and per client address, kept in memory
 * (rate-limiter-flexible's RateLimiterMemory: a counter per key that expires by itself; a
 * restart of the server forgets them).
 *
 * An attempt is counted before its password is checked, so that guesses sent at once cannot
 * slip past the limit while scrypt works, and is given back when the password was right; a
 * success also forgets the account's failures. A key with `limit` failures within
 * `windowSeconds` is locked: the first lock lasts the window, each further lock of the same key
 * twice as long as the one before (up to a day; the count of locks is kept for a day). A locked
 * key is refused before any password is checked, so a flood costs no scrypt work and does not
 * slow the logins of others.
 */
import { isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { JobvisorError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface LoginLimitsOptions {
  /** Failed logins of one account within the window before it is locked. */
  perAccount: number;
  /** Failed logins from one client address within the window before it is locked. */
  perAddress: number;
  windowSeconds: number;
  logger: Logger;
}

/** What begin() counted: say how the password check ended. */
export interface LoginAttempt {
  /** The password was right: the attempt is given back and the account's failures forgotten. */
  succeeded(): Promise<void>;
  /** It was wrong (or the user unknown): a failure, which may lock the account or the address. */
  failed(): Promise<void>;
  /** The check ended neither way (an error): the attempt is given back. */
  cancel(): Promise<void>;
}

type Scope = 'account' | 'address';

const DAY_SECONDS = 24 * 3600;

/** How long lock number `n` (1, 2, 3, ...) of a key lasts: the window, then twice as long each time, at most a day (or the window, if longer). */
export function lockSeconds(n: number, windowSeconds: number): number {
  return Math.min(Math.max(DAY_SECONDS, windowSeconds), windowSeconds * 2 ** Math.max(0, n - 1));
}

/**
 * The key of a client address: IPv4 as it is (also when written as IPv4-mapped IPv6), IPv6 by
 * its /64 prefix, since one client usually holds a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
}

function ipv6Groups(ip: string): string[] {
  const [head = '', tail] = (ip.split('%')[0] ?? '').split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16));
}

/** The failures of one scope (accounts or addresses) and how often each key was locked. */
class FailureCounter {
  private readonly failures: RateLimiterMemory;
  private readonly locks = new RateLimiterMemory({ points: Number.MAX_SAFE_INTEGER, duration: DAY_SECONDS });

  constructor(
    readonly scope: Scope,
    readonly limit: number,
    readonly windowSeconds: number,
  ) {
    this.failures = new RateLimiterMemory({ points: limit, duration: windowSeconds });
  }

  /** Counts an attempt: its number within the window, or the seconds until the key may try again. */
  async reserve(key: string): Promise<{ number: number } | { retryAfterSeconds: number }> {
    try {
      return { number: (await this.failures.consume(key)).consumedPoints };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      await this.failures.reward(key); // a refused attempt is not a failure
      return { retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
    }
  }

  /** Gives a counted attempt back. */
  async release(key: string): Promise<void> {
    const current = await this.failures.get(key);
    if (current && current.msBeforeNext > 0 && current.consumedPoints > 0) await this.failures.reward(key);
  }

  async forget(key: string): Promise<void> {
    await this.failures.delete(key);
    await this.locks.delete(key);
  }

  /** After attempt `number` failed: when it was the one that reached the limit, locks the key. */
  async failed(key: string, number: number): Promise<number | undefined> {
    if (number !== this.limit) return undefined;
    const current = await this.failures.get(key);
    if (!current || current.consumedPoints < this.limit) return undefined; // a success reset it meanwhile
    const n = (await this.locks.penalty(key)).consumedPoints;
    const seconds = lockSeconds(n, this.windowSeconds);
    await this.failures.block(key, seconds);
    return seconds;
  }
}

export class LoginLimits {
  private readonly accounts: FailureCounter;
  private readonly addresses: FailureCounter;

  constructor(private readonly options: LoginLimitsOptions) {
    this.accounts = new FailureCounter('account', options.perAccount, options.windowSeconds);
    this.addresses = new FailureCounter('address', options.perAddress, options.windowSeconds);
  }

  /** Counts a login attempt of `username` from `ip`; throws TOO_MANY_ATTEMPTS when either is locked. */
  async begin(username: string, ip: string): Promise<LoginAttempt> {
    const address = addressKey(ip);
    const byAddress = await this.addresses.reserve(address);
    if ('retryAfterSeconds' in byAddress) throw this.refuse(this.addresses, username, ip, byAddress.retryAfterSeconds);
    const byAccount = await this.accounts.reserve(username);
    if ('retryAfterSeconds' in byAccount) {
      await this.addresses.release(address);
      throw this.refuse(this.accounts, username, ip, byAccount.retryAfterSeconds);
    }
    return {
      succeeded: async () => {
        await this.addresses.release(address);
        await this.accounts.forget(username);
      },
      cancel: async () => {
        await this.addresses.release(address);
        await this.accounts.release(username);
      },
      failed: async () => {
        this.options.logger.info({ user: username, address: ip }, 'login failed');
        for (const [counter, key, number] of [[this.addresses, address, byAddress.number], [this.accounts, username, byAccount.number]] as const) {
          const locked = await counter.failed(key, number);
          if (locked !== undefined) this.options.logger.warn({ user: username, address: ip, scope: counter.scope, key, lockSeconds: locked }, 'login locked: too many failed attempts');
        }
      },
    };
  }

  private refuse(counter: FailureCounter, username: string, ip: string, retryAfterSeconds: number): JobvisorError {
    this.options.logger.warn({ user: username, address: ip, scope: counter.scope, retryAfterSeconds }, 'login refused: too many failed attempts');
    const who = counter.scope === 'account' ? `for user ${username}` : 'from this address';
    return new JobvisorError(
      'TOO_MANY_ATTEMPTS',
      `too many failed logins ${who} (at most ${counter.limit} in ${formatSeconds(counter.windowSeconds)}); try again in ${retryAfterSeconds} s`,
      { scope: counter.scope, limit: counter.limit, windowSeconds: counter.windowSeconds, retryAfterSeconds },
    );
  }
}

/** 45 s, 15 min, 2 h. */
function formatSeconds(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
