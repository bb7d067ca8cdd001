/**
 * Notifications, completion callbacks, stale runs and lifetimes, on the local target, against a
 * real SMTP server (smtp-server) and a real HTTP receiver started by the test:
 *
 * - a burst of system-caused failures (the agent killed) makes one e-mail and one signed webhook
 *   holding all of them, with their log tails; a user-caused failure (the command exits non-zero)
 *   tells admins nothing;
 * - users are e-mailed when a run ends, by their settings (`long`, `never`) or the run's own
 *   `notify: {email: true}`;
 * - completion callbacks are signed, tried again after a 500, recorded, and resumed by a restarted
 *   supervisor; a run's own callbackUrl must be under an allowed prefix;
 * - a run over its template's expectedSeconds is flagged stale and admins are told once;
 * - the lifetimes view counts and measures runs of known durations.
 */
import { createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesUnder, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type ReceivedPost, type SmtpReceiver } from './helpers/receivers.js';
import { waitFor } from './helpers/wait.js';

const WEBHOOK_SECRET = 'webhook-secret-for-tests';
const CALLBACK_SECRET = 'callback-secret-for-tests';
const ended = (status: string) => status !== 'pending' && status !== 'running';

/** Checks `X-Jobvisor-Signature: t=<unix>,v1=<hmac>` over "t.body" with the secret, by hand. */
function signedBy(post: ReceivedPost, secret: string): boolean {
  const header = String(post.headers['x-jobvisor-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${post.body}`).digest('hex');
  return expected === m[2] && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

/** Copies the sleep template under another name, with extra fields. */
function sleepTemplateAs(dir: string, name: string, extra: Record<string, unknown>): void {
  const to = path.join(dir, name);
  cpSync(path.join(ROOT, 'templates', 'sleep'), to, { recursive: true });
  const t = JSON.parse(readFileSync(path.join(to, 'template.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(to, 'template.json'), JSON.stringify({ ...t, name, ...extra }, null, 2));
}

describe('notifications, callbacks, stale runs and lifetimes on the local target', () => {
  let smtp: SmtpReceiver;
  let http: HttpReceiver;
  let jv: Jobvisor;
  let admin: Client;
  let callbacksDown = true;
  const t0 = Date.now();

  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    http = await startHttpReceiver();
    http.answer = (n, p) => (p.startsWith('/run/fail-first') && n === 0 ? 500 : p.startsWith('/run/down') && callbacksDown ? 503 : 200);
    const templates = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-notify-templates-'));
    sleepTemplateAs(templates, 'slow', { expectedSeconds: { running: 1 } });
    sleepTemplateAs(templates, 'timed', {});
    jv = await startJobvisor({
      extraTemplates: templates,
      env: {
        JOBVISOR_SLOTS_SEQUENTIAL: '3',
        JOBVISOR_SMTP: JSON.stringify({ host: '127.0.0.1', port: smtp.port, from: 'jobvisor@example.org' }),
        JOBVISOR_NOTIFY: JSON.stringify({ adminEmails: ['ops@example.org'], webhook: { url: `${http.url}/admin-hook`, secret: WEBHOOK_SECRET }, batchSeconds: 3, longRunSeconds: 3 }),
        JOBVISOR_CALLBACKS: JSON.stringify({ url: `${http.url}/site`, secret: CALLBACK_SECRET, maxAttempts: 6, allowedPrefixes: [`${http.url}/run/`] }),
        JOBVISOR_STALE_CHECK_SECONDS: '0.5',
      },
    });
    admin = await jv.login();
  }, 60_000);
  afterAll(async () => {
    await jv?.stop();
    await smtp?.close();
    await http?.close();
  });

  const webhookNotices = () =>
    http.posts.filter((p) => p.url === '/admin-hook').map((p) => ({ post: p, notices: (JSON.parse(p.body) as { notices: { kind: string; jobId: string; reason: string; logTail: string[] }[] }).notices }));
  const adminMails = () => smtp.mails.filter((m) => m.to.includes('ops@example.org'));

  it('sends one e-mail and one signed webhook for a burst of three runs whose agent died, with their log tails', async () => {
    const jobs = await Promise.all([1, 2, 3].map((i) => admin.run({ template: 'sleep', jobKey: `burst-${i}`, parameters: { seconds: 600, lines: 1200 } })));
    for (const j of jobs) await admin.waitJob(j.jobId, (v) => v.status === 'running' && v.logLines > 0, 30_000, 'running with log lines');
    const agents = processesUnder(path.join(jv.dataDir, 'agents'));
    expect(agents).toHaveLength(1);
    process.kill(agents[0]!, 'SIGKILL');
    for (const j of jobs) {
      const done = await admin.waitJob(j.jobId, (v) => ended(v.status), 30_000, 'the run to end with its agent');
      expect([done.status, done.cause]).toEqual(['error', 'system']);
    }
    const ids = jobs.map((j) => j.jobId);
    await waitFor(() => adminMails().length >= 1 && webhookNotices().length >= 1, { timeoutMs: 20_000, what: 'the admin e-mail and webhook' });
    // The batch window is 3 s: nothing more about these runs arrives after it.
    await new Promise((r) => setTimeout(r, 4000));
    const mails = adminMails().filter((m) => ids.some((id) => m.text.includes(id)));
    expect(mails).toHaveLength(1);
    for (const id of ids) expect(mails[0]!.text).toContain(id);
    expect(mails[0]!.subject).toContain('3 runs failed');
    expect(mails[0]!.text).toMatch(/\| line \d+/);
    const hooks = webhookNotices().filter((h) => h.notices.some((n) => ids.includes(n.jobId)));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.notices.map((n) => n.jobId).sort()).toEqual([...ids].sort());
    expect(signedBy(hooks[0]!.post, WEBHOOK_SECRET)).toBe(true);
    expect(signedBy(hooks[0]!.post, 'some-other-secret-value')).toBe(false);
    for (const n of hooks[0]!.notices) {
      expect(n.kind).toBe('failure');
      expect(n.reason).toContain('agent');
      expect(n.logTail.length).toBeGreaterThan(0);
      expect(n.logTail.length).toBeLessThanOrEqual(20);
    }
  }, 120_000);

  it('tells admins nothing of a run that failed by its own command (cause user)', async () => {
    const job = await admin.run({ template: 'fail', jobKey: 'user-fault', parameters: { failAfterSteps: 2, stepSeconds: 0 } });
    const done = await admin.waitJob(job.jobId, (v) => ended(v.status), 30_000, 'the failing run');
    expect([done.status, done.cause]).toEqual(['error', 'user']);
    // Its callback arrives (every run's end is called back); past a whole batch window, no admin message names it.
    await waitFor(() => http.posts.some((p) => p.url === '/site' && p.body.includes(job.jobId)), { what: 'the callback of the failed run' });
    await new Promise((r) => setTimeout(r, 4000));
    expect(adminMails().filter((m) => m.text.includes(job.jobId))).toEqual([]);
    expect(webhookNotices().filter((h) => h.notices.some((n) => n.jobId === job.jobId))).toEqual([]);
  }, 60_000);

  it('e-mails users when their run ends, by their settings or the run request', async () => {
    const alice = await jv.addUser(admin, 'alice');
    const bob = await jv.addUser(admin, 'bob');
    const carol = await jv.addUser(admin, 'carol');
    expect((await alice.get('/api/auth/me/settings')).body.settings).toEqual({ email: null, notifyOnEnd: 'never' });
    const bad = await alice.request('PUT', '/api/auth/me/settings', { email: 'not an address' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    const set = await alice.request('PUT', '/api/auth/me/settings', { email: 'alice@example.org', notifyOnEnd: 'long' });
    expect(set.body.settings).toEqual({ email: 'alice@example.org', notifyOnEnd: 'long' });
    expect((await bob.request('PUT', '/api/auth/me/settings', { email: 'bob@example.org' })).status).toBe(200);

    // alice: "long" runs only (over 3 s here): the short run sends nothing, the long one a mail.
    const short = await alice.run({ template: 'sleep', jobKey: 'short', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(short.jobId, (v) => v.status === 'completed', 30_000, 'the short run');
    const long = await alice.run({ template: 'sleep', jobKey: 'long', parameters: { seconds: 4, lines: 2 } });
    await alice.waitJob(long.jobId, (v) => v.status === 'completed', 30_000, 'the long run');
    // bob: "never" in his settings, but this run asks.
    const asked = await bob.run({ template: 'sleep', jobKey: 'asked', parameters: { seconds: 0, lines: 1 }, notify: { email: true } });
    await bob.waitJob(asked.jobId, (v) => v.status === 'completed', 30_000, 'bob’s run');
    await waitFor(() => smtp.mails.some((m) => m.to.includes('alice@example.org')) && smtp.mails.some((m) => m.to.includes('bob@example.org')), { timeoutMs: 20_000, what: 'the users’ e-mails' });
    const toAlice = smtp.mails.filter((m) => m.to.includes('alice@example.org'));
    expect(toAlice).toHaveLength(1);
    expect(toAlice[0]!.subject).toContain('long ended: completed');
    expect(toAlice[0]!.text).toContain(long.jobId);
    expect(smtp.mails.filter((m) => m.to.includes('bob@example.org'))[0]!.text).toContain(asked.jobId);

    // carol has no address: a run that asks for e-mail is refused, and nothing is queued.
    const refused = await carol.post('/api/jobs', { template: 'sleep', parameters: { seconds: 0, lines: 0 }, notify: { email: true } });
    expect([refused.status, refused.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    expect((await carol.get('/api/jobs')).body.jobs).toEqual([]);
  }, 90_000);

  it('calls back signed, tries again after a 500, and records every attempt', async () => {
    const job = await admin.run({ template: 'sleep', jobKey: 'called-back', parameters: { seconds: 0, lines: 1 }, callbackUrl: `${http.url}/run/fail-first` });
    await admin.waitJob(job.jobId, (v) => v.status === 'completed', 30_000, 'the run');
    await waitFor(() => http.posts.filter((p) => p.url === '/run/fail-first').length >= 2, { timeoutMs: 20_000, what: 'the callback to be tried again' });
    const [first, second] = http.posts.filter((p) => p.url === '/run/fail-first');
    expect([first!.status, second!.status]).toEqual([500, 200]);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
    expect(signedBy(second!, CALLBACK_SECRET)).toBe(true);
    const body = JSON.parse(second!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ jobId: job.jobId, jobKey: 'called-back', user: 'admin', serial: 1, status: 'completed', cause: null, template: 'sleep', target: 'local' });
    expect((body.times as { endedAt: number }).endedAt).toBeGreaterThan(0);
    // The site's callback got it too.
    expect(http.posts.some((p) => p.url === '/site' && p.body.includes(job.jobId) && signedBy(p, CALLBACK_SECRET))).toBe(true);

    await waitFor(async () => (await admin.get(`/api/admin/deliveries?jobId=${job.jobId}`)).body.deliveries.every((d: { state: string }) => d.state === 'delivered'), { what: 'the deliveries to be recorded' });
    const deliveries = (await admin.get(`/api/admin/deliveries?jobId=${job.jobId}`)).body.deliveries as { url: string; state: string; attempts: { status: number | null }[] }[];
    const own = deliveries.find((d) => d.url.endsWith('/run/fail-first'))!;
    expect(own.attempts.map((a) => a.status)).toEqual([500, 200]);
    expect(deliveries.find((d) => d.url.endsWith('/site'))!.attempts.map((a) => a.status)).toEqual([200]);
    const alice = await jv.login('alice', 'alice-password');
    expect((await alice.get('/api/admin/deliveries')).status).toBe(403);
  }, 60_000);

  it('refuses a callbackUrl outside the allowed prefixes, changing nothing', async () => {
    const r = await admin.post('/api/jobs', { template: 'sleep', jobKey: 'bad-callback', parameters: { seconds: 0, lines: 0 }, callbackUrl: 'http://elsewhere.example.org/hook' });
    expect([r.status, r.body.error.code]).toEqual([400, 'CALLBACK_NOT_ALLOWED']);
    expect((await admin.get('/api/jobs')).body.jobs.map((j: { jobKey: string }) => j.jobKey)).not.toContain('bad-callback');
  });

  it('resumes a pending callback after a supervisor restart', async () => {
    callbacksDown = true;
    const job = await admin.run({ template: 'sleep', jobKey: 'resumed', parameters: { seconds: 0, lines: 1 }, callbackUrl: `${http.url}/run/down` });
    await admin.waitJob(job.jobId, (v) => v.status === 'completed', 30_000, 'the run');
    await waitFor(() => http.posts.filter((p) => p.url === '/run/down').length >= 1, { what: 'a first attempt' });
    await jv.stopSupervisor();
    const before = http.posts.filter((p) => p.url === '/run/down').length;
    callbacksDown = false;
    await jv.startSupervisor();
    await waitFor(() => http.posts.some((p) => p.url === '/run/down' && p.status === 200), { timeoutMs: 60_000, what: 'the callback delivered by the new supervisor' });
    expect(http.posts.filter((p) => p.url === '/run/down').length).toBeGreaterThan(before);
    const d = ((await admin.get(`/api/admin/deliveries?jobId=${job.jobId}`)).body.deliveries as { url: string; state: string; attempts: { status: number }[] }[]).find((x) => x.url.endsWith('/run/down'))!;
    expect(d.state).toBe('delivered');
    expect(d.attempts.length).toBeGreaterThanOrEqual(2);
    expect(d.attempts.slice(0, -1).every((a) => a.status === 503)).toBe(true);
    expect(d.attempts.at(-1)!.status).toBe(200);
  }, 120_000);

  it('flags a run over its expected running time as stale, and tells admins once', async () => {
    const job = await admin.run({ template: 'slow', jobKey: 'stale', parameters: { seconds: 8, lines: 4 } });
    const flagged = await admin.waitJob(job.jobId, (v) => v.stale !== null, 20_000, 'the stale flag');
    expect(flagged.status).toBe('running');
    expect(flagged.stale).toMatchObject({ state: 'running', expectedSeconds: 1, sinceMs: flagged.startedAt });
    await admin.waitJob(job.jobId, (v) => ended(v.status), 30_000, 'the run to end');
    await waitFor(() => webhookNotices().some((h) => h.notices.some((n) => n.jobId === job.jobId)), { timeoutMs: 20_000, what: 'the stale notice' });
    const notices = webhookNotices().flatMap((h) => h.notices.filter((n) => n.jobId === job.jobId));
    expect(notices.map((n) => n.kind)).toEqual(['stale']);
    expect(adminMails().filter((m) => m.text.includes(job.jobId))).toHaveLength(1);
    expect((await admin.job(job.jobId)).stale).toBeNull();
  }, 60_000);

  it('shows how long runs spent pending and running, per template and target', async () => {
    const a = await admin.run({ template: 'timed', jobKey: 'timed-1', parameters: { seconds: 1, lines: 0 } });
    const b = await admin.run({ template: 'timed', jobKey: 'timed-2', parameters: { seconds: 2, lines: 0 } });
    const done = [await admin.waitJob(a.jobId, (v) => v.status === 'completed'), await admin.waitJob(b.jobId, (v) => v.status === 'completed')];
    const r = await admin.get(`/api/admin/lifetimes?since=${t0}&until=${Date.now() + 1}`);
    expect(r.status).toBe(200);
    const rows = (r.body.lifetimes as { template: string; target: string; state: string; count: number; medianMs: number; p90Ms: number; maxMs: number }[]).filter((x) => x.template === 'timed');
    expect(rows.map((x) => [x.target, x.state, x.count])).toEqual([
      ['local', 'pending', 2],
      ['local', 'running', 2],
    ]);
    const running = rows.find((x) => x.state === 'running')!;
    const expected = done.map((j) => j.endedAt! - j.startedAt!).sort((x, y) => x - y);
    expect(running.maxMs).toBe(expected[1]);
    expect(running.p90Ms).toBe(expected[1]);
    expect(running.medianMs).toBe(Math.round((expected[0]! + expected[1]!) / 2));
    expect(expected[0]).toBeGreaterThanOrEqual(1000);
    expect(expected[1]).toBeGreaterThanOrEqual(2000);
    const empty = await admin.get(`/api/admin/lifetimes?since=${t0 - 10_000}&until=${t0}`);
    expect(empty.body.lifetimes.filter((x: { template: string }) => x.template === 'timed')).toEqual([]);
    const bad = await admin.get('/api/admin/lifetimes?since=10&until=5');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_INPUT']);
  }, 60_000);
});
