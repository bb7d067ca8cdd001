/**
 * Notifications and callbacks of runs on a Slurm cluster target (the local test cluster), against
 * a real SMTP server and a real HTTP receiver: a submission Slurm refuses is a system failure
 * admins are told of; a job whose command fails (Slurm FAILED) is the user's and tells them
 * nothing; the run's user is e-mailed and the gateway called back, signed, when a run ends.
 */
import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type SmtpReceiver } from './helpers/receivers.js';
import { waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const REMOTE_DIR = 'jobvisor-notify';
const SECRET = 'secret-for-slurm-notify-tests';
const ended = (status: string) => status !== 'pending' && status !== 'running';

describe('notifications of runs on a Slurm target', () => {
  let cluster: ClusterInfo;
  let smtp: SmtpReceiver;
  let http: HttpReceiver;
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    smtp = await startSmtpReceiver();
    http = await startHttpReceiver();
    const targets = [clusterTarget('slurm', 'nt-slurm', cluster, { remoteDir: REMOTE_DIR })];
    jv = await startJobvisor({
      env: {
        JOBVISOR_TARGETS: JSON.stringify(targets),
        JOBVISOR_SMTP: JSON.stringify({ host: '127.0.0.1', port: smtp.port, from: 'jobvisor@example.org' }),
        JOBVISOR_NOTIFY: JSON.stringify({ adminEmails: ['ops@example.org'], webhook: { url: `${http.url}/admin-hook`, secret: SECRET }, batchSeconds: 2 }),
        JOBVISOR_CALLBACKS: JSON.stringify({ url: `${http.url}/site`, secret: SECRET }),
      },
    });
    const admin = await jv.login();
    alice = await jv.addUser(admin, 'alice');
    expect((await alice.request('PUT', '/api/auth/me/settings', { email: 'alice@example.org', notifyOnEnd: 'always' })).status).toBe(200);
    expect((await logInTo(alice, 'nt-slurm', cluster)).status).toBe(200);
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    await smtp?.close();
    await http?.close();
    if (cluster) {
      killAgentOnLoginNode(cluster, 'nt-slurm', 'TERM', REMOTE_DIR);
      rmSync(`/home/${cluster.user}/${REMOTE_DIR}`, { recursive: true, force: true });
    }
  });

  const noticesOf = (jobId: string) =>
    http.posts.filter((p) => p.url === '/admin-hook').flatMap((p) => (JSON.parse(p.body) as { notices: { jobId: string; kind: string; reason: string }[] }).notices.filter((n) => n.jobId === jobId));

  it('tells admins of a submission Slurm refused (system), and not of a job whose command failed (user)', async () => {
    const refused = await alice.run({ template: 'sleep', target: 'nt-slurm', jobKey: 'refused', parameters: { seconds: 0, lines: 1 }, options: { partition: 'nosuchpartition' } });
    const failing = await alice.run({ template: 'fail', target: 'nt-slurm', jobKey: 'failing', parameters: { failAfterSteps: 1, stepSeconds: 0 } });
    const r = await alice.waitJob(refused.jobId, (j) => ended(j.status), 90_000, 'the refused run');
    expect([r.status, r.cause]).toEqual(['error', 'system']);
    expect(r.reason).toMatch(/partition/i);
    const f = await alice.waitJob(failing.jobId, (j) => ended(j.status), 90_000, 'the failing Slurm run');
    expect([f.status, f.cause]).toEqual(['error', 'user']);
    await waitFor(() => noticesOf(refused.jobId).length > 0, { timeoutMs: 20_000, what: 'the admin notice' });
    const post = http.posts.find((p) => p.url === '/admin-hook' && p.body.includes(refused.jobId))!;
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(post.headers['x-jobvisor-signature']))!;
    expect(createHmac('sha256', SECRET).update(`${t}.${post.body}`).digest('hex')).toBe(v1);
    await waitFor(() => smtp.mails.some((m) => m.to.includes('ops@example.org') && m.text.includes(refused.jobId)), { timeoutMs: 20_000, what: 'the admin e-mail' });
    // Both runs' ends reached their user; past a batch window, nothing names the failing one to admins.
    await waitFor(() => smtp.mails.filter((m) => m.to.includes('alice@example.org')).length >= 2, { timeoutMs: 20_000, what: 'alice’s e-mails' });
    await new Promise((res) => setTimeout(res, 3000));
    expect(noticesOf(failing.jobId)).toEqual([]);
    expect(smtp.mails.filter((m) => m.to.includes('ops@example.org') && m.text.includes(failing.jobId))).toEqual([]);
  }, 240_000);

  it('e-mails the user and calls the gateway back, signed, when a Slurm run completes', async () => {
    const job = await alice.run({ template: 'sleep', target: 'nt-slurm', jobKey: 'done', parameters: { seconds: 1, lines: 2 } });
    const done = await alice.waitJob(job.jobId, (j) => ended(j.status), 120_000, 'the Slurm run');
    expect([done.status, done.cause]).toEqual(['completed', null]);
    await waitFor(() => http.posts.some((p) => p.url === '/site' && p.body.includes(job.jobId)), { timeoutMs: 20_000, what: 'the callback' });
    const cb = http.posts.find((p) => p.url === '/site' && p.body.includes(job.jobId))!;
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(cb.headers['x-jobvisor-signature']))!;
    expect(createHmac('sha256', SECRET).update(`${t}.${cb.body}`).digest('hex')).toBe(v1);
    expect(JSON.parse(cb.body)).toMatchObject({ jobId: job.jobId, user: 'alice', status: 'completed', target: 'nt-slurm', template: 'sleep', serial: 1 });
    await waitFor(() => smtp.mails.some((m) => m.to.includes('alice@example.org') && m.text.includes(job.jobId)), { timeoutMs: 20_000, what: 'alice’s e-mail' });
  }, 240_000);
});
