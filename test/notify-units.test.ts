/** Pure parts of notifications, callbacks, stale runs and lifetimes. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { slurmScheduler } from '../src/drivers/slurm/scheduler.js';
import { sgeScheduler } from '../src/drivers/sge/scheduler.js';
import { lifetimes, median, quantile } from '../src/supervisor/lifetimes.js';
import { causeOfExit, defaultCause } from '../src/supervisor/notify/cause.js';
import { checkCallbackUrl, runNotify } from '../src/supervisor/notify/runRequest.js';
import { signature, verifySignature } from '../src/supervisor/notify/sign.js';
import { staleFlag } from '../src/supervisor/staleRuns.js';
import type { JobRow } from '../src/supervisor/store.js';
import { SqliteDeliveries } from '../src/supervisor/store/deliveries.js';
import { createLogger } from '../src/shared/logger.js';
import { ConfigError, loadConfig } from '../src/shared/config.js';
import { AdminNotifier } from '../src/supervisor/notify/adminNotices.js';
import { startHttpReceiver } from './helpers/receivers.js';
import { waitFor } from './helpers/wait.js';

describe('whose fault a run end is', () => {
  it('reads an exit: a non-zero code is the user’s, a signal or no code the system’s, a cancel the user’s, an engine’s word wins', () => {
    expect(causeOfExit({ status: 'completed', exitCode: 0, signal: null })).toBeNull();
    expect(causeOfExit({ status: 'error', exitCode: 2, signal: null })).toBe('user');
    expect(causeOfExit({ status: 'error', exitCode: null, signal: 'SIGKILL' })).toBe('system');
    expect(causeOfExit({ status: 'error', exitCode: null, signal: null })).toBe('system');
    expect(causeOfExit({ status: 'canceled', exitCode: null, signal: 'SIGTERM' })).toBe('user');
    expect(causeOfExit({ status: 'error', exitCode: 0, signal: null, cause: 'system' })).toBe('system');
    expect([defaultCause('error'), defaultCause('canceled'), defaultCause('completed')]).toEqual(['system', 'user', null]);
  });

  it('reads scheduler end states: a failed command is the user’s, a node failure the system’s', () => {
    const cause = (s: { phaseOf: typeof slurmScheduler.phaseOf }, state: string, code: number | null) => {
      const p = s.phaseOf(state, '', code);
      return p.phase === 'ended' ? causeOfExit({ status: p.status, exitCode: code, signal: null, cause: p.cause }) : p.phase;
    };
    expect(cause(slurmScheduler, 'FAILED', 1)).toBe('user');
    expect(cause(slurmScheduler, 'NODE_FAIL', 0)).toBe('system');
    expect(cause(slurmScheduler, 'BOOT_FAIL', null)).toBe('system');
    expect(cause(slurmScheduler, 'TIMEOUT', null)).toBe('user');
    expect(cause(sgeScheduler, 'FAILED', 3)).toBe('user');
    expect(cause(sgeScheduler, 'FAILED_START', null)).toBe('system');
  });
});

describe('signatures', () => {
  it('signs "t.body" with HMAC-SHA256 and refuses another body, secret or an old time', () => {
    const h = signature('s3cret-s3cret-s3cret', '{"a":1}', 1_700_000_000);
    expect(h).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', h)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":2}', h)).toBe(false);
    expect(verifySignature('another-secret-value', '{"a":1}', h)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', h, 1_700_000_000 + 3600)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', 'garbage')).toBe(false);
  });
});

describe('run requests', () => {
  it('e-mails by the request or the settings, and refuses a request for e-mail without an address', () => {
    expect(runNotify({ notify: { email: true } }, { email: 'a@x.org', notifyOnEnd: 'never' })).toEqual({ email: 'a@x.org', when: 'always' });
    expect(runNotify({}, { email: 'a@x.org', notifyOnEnd: 'long' })).toEqual({ email: 'a@x.org', when: 'long' });
    expect(runNotify({ notify: { email: false } }, { email: 'a@x.org', notifyOnEnd: 'always' })).toBeNull();
    expect(runNotify({}, { email: 'a@x.org', notifyOnEnd: 'never' })).toBeNull();
    expect(runNotify({}, undefined)).toBeNull();
    expect(() => runNotify({ notify: { email: true } }, undefined)).toThrow(/no e-mail address/);
  });

  it('allows a callback URL only under an allowed prefix', () => {
    expect(checkCallbackUrl(undefined, [])).toBeNull();
    expect(checkCallbackUrl('https://gw.example.org/hooks/1', ['https://gw.example.org/hooks/'])).toBe('https://gw.example.org/hooks/1');
    expect(() => checkCallbackUrl('https://gw.example.org.evil.net/x', ['https://gw.example.org/'])).toThrow(expect.objectContaining({ code: 'CALLBACK_NOT_ALLOWED' }));
    expect(() => checkCallbackUrl('https://gw.example.org/x', [])).toThrow(expect.objectContaining({ code: 'CALLBACK_NOT_ALLOWED' }));
  });
});

describe('stale runs', () => {
  const row = (r: Partial<JobRow>) => ({ status: 'running', queuedAt: 0, startedAt: 10_000, ...r }) as JobRow;
  it('flags a run over the expectation of its state, and nothing without one', () => {
    const t = { expectedSeconds: { pending: 5, running: 60 } };
    expect(staleFlag(row({ status: 'pending' }), t, 6000)).toEqual({ state: 'pending', sinceMs: 0, expectedSeconds: 5 });
    expect(staleFlag(row({ status: 'pending' }), t, 4000)).toBeNull();
    expect(staleFlag(row({}), t, 70_001)).toEqual({ state: 'running', sinceMs: 10_000, expectedSeconds: 60 });
    expect(staleFlag(row({}), t, 69_000)).toBeNull();
    expect(staleFlag(row({}), { expectedSeconds: { pending: 1 } }, 1e9)).toBeNull();
    expect(staleFlag(row({}), {}, 1e9)).toBeNull();
    expect(staleFlag(row({ status: 'completed' }), t, 1e9)).toBeNull();
    const finishing = row({ phase: 'finishing', phaseTimes: { preparing: 9000, running: 10_000, finishing: 50_000 } });
    expect(staleFlag(finishing, { expectedSeconds: { finishing: 10 } }, 61_000)).toEqual({ state: 'finishing', sinceMs: 50_000, expectedSeconds: 10 });
  });
});

describe('lifetimes', () => {
  it('takes the median, the nearest-rank 90th percentile and the longest', () => {
    expect(median([1, 2, 3])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(3);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(quantile([5], 0.9)).toBe(5);
  });

  it('measures pending, running and finishing per template and target; runs that never started count nowhere', () => {
    const runs = [
      { template: 'a', target: 'local', queuedAt: 0, startedAt: 1000, endedAt: 11_000 },
      { template: 'a', target: 'local', queuedAt: 0, startedAt: 3000, endedAt: 33_000, finishingAt: 23_000 },
      { template: 'a', target: 'local', queuedAt: 0, startedAt: null, endedAt: 5000 },
      { template: 'b', target: 'hpc', queuedAt: 0, startedAt: 0, endedAt: 1 },
    ];
    expect(lifetimes(runs)).toEqual([
      { template: 'a', target: 'local', state: 'pending', count: 2, medianMs: 2000, p90Ms: 3000, maxMs: 3000 },
      { template: 'a', target: 'local', state: 'running', count: 2, medianMs: 15_000, p90Ms: 20_000, maxMs: 20_000 },
      { template: 'a', target: 'local', state: 'finishing', count: 1, medianMs: 10_000, p90Ms: 10_000, maxMs: 10_000 },
      { template: 'b', target: 'hpc', state: 'pending', count: 1, medianMs: 0, p90Ms: 0, maxMs: 0 },
      { template: 'b', target: 'hpc', state: 'running', count: 1, medianMs: 1, p90Ms: 1, maxMs: 1 },
    ]);
  });
});

describe('admin notifications, against a real HTTP receiver', () => {
  it('batches notices into one webhook and sends it again, unchanged, after the receiver failed', async () => {
    const receiver = await startHttpReceiver();
    receiver.answer = (n) => (n === 0 ? 500 : 200);
    const notifier = new AdminNotifier({
      mailer: null,
      adminEmails: [],
      webhook: { url: `${receiver.url}/hook`, secret: 'a-secret-of-16-chars' },
      batchMs: 200,
      log: createLogger('test', 'silent'),
      retry: { baseMs: 100, maxMs: 100, jitter: 0 },
    });
    try {
      const notice = (jobId: string) => ({ kind: 'failure' as const, jobId, serial: 1, user: 'u', template: 't', target: 'local', reason: 'agent died', logTail: ['a'], at: 1 });
      notifier.report(notice('j1'));
      notifier.report(notice('j2'));
      await new Promise((r) => setTimeout(r, 50));
      notifier.report(notice('j3'));
      await waitFor(() => receiver.posts.length >= 2, { what: 'the webhook and its retry' });
      await new Promise((r) => setTimeout(r, 400));
      expect(receiver.posts.map((p) => p.status)).toEqual([500, 200]);
      expect(receiver.posts[1]!.body).toBe(receiver.posts[0]!.body);
      expect((JSON.parse(receiver.posts[1]!.body) as { notices: { jobId: string }[] }).notices.map((n) => n.jobId)).toEqual(['j1', 'j2', 'j3']);
      expect(verifySignature('a-secret-of-16-chars', receiver.posts[1]!.body, String(receiver.posts[1]!.headers['x-jobvisor-signature']))).toBe(true);
    } finally {
      await notifier.close();
      await receiver.close();
    }
  });
});

describe('the deliveries tables', () => {
  it('records attempts in order and forgets only ended callbacks older than the cut', () => {
    const db = new Database(':memory:');
    const store = new SqliteDeliveries(db);
    const add = (createdAt: number) => store.add({ jobId: 'j', serial: 1, url: 'http://x/', body: '{}', nextAt: createdAt, createdAt });
    const oldDone = add(1000);
    const oldPending = add(1000);
    const newDone = add(5000);
    store.recordAttempt(oldDone, { at: 1001, status: 500, error: 'HTTP 500' }, 'pending', 2000);
    store.recordAttempt(oldDone, { at: 2001, status: 200, error: null }, 'delivered', null);
    store.recordAttempt(newDone, { at: 5001, status: 200, error: null }, 'delivered', null);
    expect(store.list('j', 10).find((d) => d.id === oldDone)!.attempts).toEqual([
      { at: 1001, status: 500, error: 'HTTP 500' },
      { at: 2001, status: 200, error: null },
    ]);
    expect(store.prune(3000)).toBe(1);
    expect(store.list(undefined, 10).map((d) => d.id).sort()).toEqual([oldPending, newDone].sort());
    expect(store.pending().map((d) => d.id)).toEqual([oldPending]);
    expect(db.prepare('SELECT count(*) AS n FROM delivery_attempts').get()).toEqual({ n: 1 });
    db.close();
  });
});

describe('callback settings', () => {
  it('refuses an allowed prefix that does not end with "/", and a callback secret under 16 characters', () => {
    const cb = (o: object) => loadConfig({ JOBVISOR_CALLBACKS: JSON.stringify({ secret: 'sixteen-chars-ok', ...o }) }, undefined);
    expect(cb({ allowedPrefixes: ['https://gw.example.org/hooks/'] }).callbacks?.allowedPrefixes).toEqual(['https://gw.example.org/hooks/']);
    expect(() => cb({ allowedPrefixes: ['https://gw.example.org'] })).toThrow(ConfigError);
    expect(() => cb({ allowedPrefixes: ['https://gw.example.org/hooks'] })).toThrow(/ends with/);
    expect(() => cb({ secret: 'short' })).toThrow(ConfigError);
    expect(cb({}).callbacks).toMatchObject({ maxAttempts: 8, keepDays: 30, allowedPrefixes: [] });
  });
});
