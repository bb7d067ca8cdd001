/**
 * Login limits: failed logins are counted per account and per client address; past the limit
 * the server answers 429 TOO_MANY_ATTEMPTS with Retry-After before it checks any password.
 * Client addresses are real: requests leave from different loopback addresses (127.0.0.x).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { addressKey, lockSeconds } from '../src/server/loginLimits.js';
import { loginFrom, runCleanups, startTestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

afterEach(runCleanups);

function logRecords(logs: string[]): Record<string, unknown>[] {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('login limits', () => {
  it('refuses an account after too many failed logins with 429, Retry-After and the limit in the message, and logs it without the password', async () => {
    const s = await startTestServer({ JOBVISOR_LOGIN_FAILURES_PER_ACCOUNT: '3', JOBVISOR_LOGIN_WINDOW_SECONDS: '600' }, { captureLogs: true });
    for (let i = 0; i < 3; i++) {
      const wrong = await loginFrom(s.base, 'alice', 'wrong-password-1');
      expect([i, wrong.status, wrong.body.error.code]).toEqual([i, 401, 'INVALID_CREDENTIALS']);
    }
    const refused = await loginFrom(s.base, 'alice', 'alice-password');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(refused.body.error.message).toMatch(/^too many failed logins for user alice \(at most 3 in 10 min\); try again in \d+ s$/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(590);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(refused.body.error.details).toMatchObject({ retryAfterSeconds: retryAfter, limit: 3, windowSeconds: 600, scope: 'account' });
    expect(refused.headers['set-cookie']).toBeUndefined();

    const otherAccount = await loginFrom(s.base, 'admin', 'admin-password');
    expect(otherAccount.status).toBe(200);

    const records = logRecords(s.logs);
    const refusals = records.filter((r) => r.msg === 'login refused: too many failed attempts');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ user: 'alice', address: '127.0.0.1', scope: 'account', retryAfterSeconds: retryAfter });
    expect(records.filter((r) => r.msg === 'login failed')).toHaveLength(3);
    expect(s.logs.join('\n')).not.toMatch(/wrong-password-1|alice-password/);
  });

  it('forgets the failures of an account when it logs in successfully', async () => {
    const s = await startTestServer({ JOBVISOR_LOGIN_FAILURES_PER_ACCOUNT: '3' });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expect((await loginFrom(s.base, 'alice', 'wrong-password')).status).toBe(401);
      expect((await loginFrom(s.base, 'alice', 'alice-password')).status).toBe(200);
    }
  });

  it('refuses a client address after too many failed logins across accounts, and not other addresses', async () => {
    const s = await startTestServer({ JOBVISOR_LOGIN_FAILURES_PER_ADDRESS: '4' });
    for (const user of ['nobody1', 'nobody2', 'nobody3', 'alice']) {
      expect((await loginFrom(s.base, user, 'wrong-password', '127.0.0.2')).status).toBe(401);
    }
    const refused = await loginFrom(s.base, 'admin', 'admin-password', '127.0.0.2');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(refused.body.error.message).toMatch(/^too many failed logins from this address \(at most 4 in 15 min\); try again in \d+ s$/);
    expect(refused.body.error.details).toMatchObject({ scope: 'address', limit: 4, windowSeconds: 900 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    expect((await loginFrom(s.base, 'admin', 'admin-password', '127.0.0.3')).status).toBe(200);
    expect((await loginFrom(s.base, 'alice', 'alice-password', '127.0.0.3')).status).toBe(200);
  });

  it('locks an account again, for twice as long, when it fails again after its lock ended', async () => {
    const s = await startTestServer({ JOBVISOR_LOGIN_FAILURES_PER_ACCOUNT: '2', JOBVISOR_LOGIN_WINDOW_SECONDS: '1' });
    for (let i = 0; i < 2; i++) expect((await loginFrom(s.base, 'alice', 'wrong-password')).status).toBe(401);
    const first = await loginFrom(s.base, 'alice', 'wrong-password');
    expect([first.status, first.headers['retry-after']]).toEqual([429, '1']);
    // Guessing on: the first answer that is not 429 is a counted failure again.
    let answer = first;
    await waitFor(async () => (answer = await loginFrom(s.base, 'alice', 'wrong-password')).status !== 429, { timeoutMs: 5000, what: 'the first lock to end' });
    expect(answer.status).toBe(401);
    expect((await loginFrom(s.base, 'alice', 'wrong-password')).status).toBe(401);
    const second = await loginFrom(s.base, 'alice', 'alice-password');
    expect([second.status, second.headers['retry-after']]).toEqual([429, '2']);
  });

  it('while one address floods wrong passwords for one account, another account logs in from another address', async () => {
    const s = await startTestServer();
    let next = 0;
    const statuses: number[] = [];
    const flood = async () => {
      while (next++ < 200) statuses.push((await loginFrom(s.base, 'alice', `guess-${next}`, '127.0.0.2')).status);
    };
    const flooding = Promise.all(Array.from({ length: 10 }, flood));
    const meanwhile: number[] = [];
    for (let i = 0; i < 5; i++) meanwhile.push((await loginFrom(s.base, 'admin', 'admin-password', '127.0.0.3')).status);
    await flooding;
    expect(meanwhile).toEqual([200, 200, 200, 200, 200]);
    expect(statuses).toHaveLength(200);
    // 5 failures per account by default: the rest is refused before any password is checked.
    expect(statuses.filter((x) => x === 401)).toHaveLength(5);
    expect(statuses.filter((x) => x === 429)).toHaveLength(195);
  });
});

describe('login limit keys and locks', () => {
  it('counts IPv4 addresses one by one (also IPv4-mapped) and IPv6 addresses by their /64', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:aa:bb:1:2:3:4')).toBe('2001:db8:aa:bb::/64');
    expect(addressKey('2001:0DB8:00aa:bb::9')).toBe('2001:db8:aa:bb::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('makes each lock twice as long as the one before, up to a day', () => {
    expect([1, 2, 3, 4].map((n) => lockSeconds(n, 900))).toEqual([900, 1800, 3600, 7200]);
    expect(lockSeconds(8, 900)).toBe(86400);
    expect(lockSeconds(30, 900)).toBe(86400);
    expect(lockSeconds(3, 2 * 86400)).toBe(2 * 86400);
  });
});
