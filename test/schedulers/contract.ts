/**
 * The batch-scheduler contract: what every cluster target (Slurm, Grid Engine) promises, tried
 * through the HTTP API of a real jobvisor against a real cluster behind a real sshd asking for
 * a password and a one-time code. A scheduler's test file calls `schedulerContract` with what
 * differs: the target's settings, how to see the scheduler's queue, its words.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextCode, schedulerDaemon, startTestCluster, withLoginLock, type ClusterInfo, type ClusterKind } from '../helpers/cluster.js';
import { startJobvisor, type Answer, type Client, type Jobvisor } from '../helpers/jobvisor.js';
import { waitFor } from '../helpers/wait.js';

export interface SchedulerCase {
  kind: ClusterKind;
  /** The scheduler's name as job views say it ("Slurm job 12: ..."). */
  title: string;
  /** Whether the scheduler still lists a job (asked as root). */
  inQueue(externalId: string): boolean;
  /** The file name of the batch script in the run directory. */
  scriptName: string;
  /** The script's time-limit line for a one-minute run. */
  oneMinuteLine: RegExp;
  /** The command that asks for every job of the user, and the one that submits. */
  statusCommand: string;
  submitCommand: string;
  /** Options the scheduler refuses at submission, and what it says (verbatim). */
  refusedOptions: Record<string, string | number>;
  refusedText: RegExp;
  /** Options jobvisor itself refuses: injected directives or shell, over the site's limits. */
  injections: Record<string, string | number>[];
  /** How an error run's reason names the scheduler's verdict and exit code. */
  failedReason: RegExp;
  timeLimitReason: RegExp;
}

export const loginOf = (cluster: ClusterInfo) => ({ username: cluster.user, password: cluster.password, otp: nextCode(cluster) });

/**
 * Logs `client` in to `target` as the cluster's test user with a fresh one-time code, one test
 * process at a time (see withLoginLock); a code refused all the same (one typed into a browser
 * by another test file meanwhile) is tried again with a new one.
 */
export async function logInTo(client: Client, target: string, cluster: ClusterInfo): Promise<Answer> {
  return withLoginLock(async () => {
    for (let attempt = 1; ; attempt++) {
      const r = await client.post(`/api/targets/${target}/login`, loginOf(cluster));
      // A refused code (403) is tried again with a fresh one; so is an agent that did not connect
      // in time (503, as a user would try again) under the whole suite's load.
      if ((r.status !== 403 && r.status !== 503) || attempt === 3) return r;
    }
  });
}

/** The target object of the config for a test cluster. */
export function clusterTarget(kind: ClusterKind, name: string, cluster: ClusterInfo, extra: Record<string, unknown> = {}) {
  return {
    name,
    driver: kind,
    title: `Test ${kind} cluster`,
    host: cluster.host,
    port: cluster.port,
    knownHosts: [cluster.knownHosts],
    pollIntervalMs: 1000,
    lostAfterMs: 3000,
    sizes: { sequential: { maxTimeSeconds: 60 }, parallel: { maxTimeSeconds: 60 } },
    ...extra,
  };
}

/** The agent of a test target on the login node (its pid file), as the cluster user sees it. */
export function agentPidOnLoginNode(cluster: ClusterInfo, target: string, remoteDir = 'jobvisor'): string {
  return execFileSync('bash', ['-c', `cat /home/${cluster.user}/${remoteDir}/agent-${target}.pid 2>/dev/null || true`], { encoding: 'utf8' }).trim();
}

export function killAgentOnLoginNode(cluster: ClusterInfo, target: string, signal = 'TERM', remoteDir = 'jobvisor'): void {
  const pid = agentPidOnLoginNode(cluster, target, remoteDir);
  if (pid) execFileSync('bash', ['-c', `kill -${signal} ${pid} 2>/dev/null; true`]);
}

export function schedulerContract(c: SchedulerCase): void {
  const target = `${c.kind}-api`;
  describe(`batch-scheduler contract: ${c.kind}, through the HTTP API`, () => {
    let cluster: ClusterInfo;
    let jv: Jobvisor;
    let admin: Client;
    let tooLong: string;
    const run = (body: Record<string, unknown>) => admin.run({ target, ...body });

    beforeAll(async () => {
      cluster = startTestCluster(c.kind);
      jv = await startJobvisor({ env: { JOBVISOR_TARGETS: JSON.stringify([{ name: 'local', driver: 'local' }, clusterTarget(c.kind, target, cluster)]) } });
      admin = await jv.login();
    }, 600_000);
    afterAll(async () => {
      const jobs = admin ? ((await admin.get('/api/jobs')).body.jobs as { status: string; jobId: string }[]) : [];
      await Promise.all(jobs.filter((j) => j.status === 'pending' || j.status === 'running').map((j) => admin.post(`/api/jobs/${j.jobId}/cancel`, {})));
      await jv?.stop();
      if (cluster) killAgentOnLoginNode(cluster, target);
    });

    it('answers "login required" to a run without a live agent there, and says so in the target\'s status', async () => {
      const r = await admin.post('/api/jobs', { template: 'sleep', target });
      expect([r.status, r.body.error.code]).toEqual([428, 'LOGIN_REQUIRED']);
      const targets = (await admin.get('/api/targets')).body.targets;
      expect(targets.map((t: any) => [t.name, t.driver, t.needsLogin, t.login?.loggedIn ?? null])).toEqual([
        ['local', 'local', false, null],
        [target, c.kind, true, false],
      ]);
      expect((await admin.get(`/api/targets/${target}/status`)).body).toMatchObject({ target, driver: c.kind, needsLogin: true, loggedIn: false });
    });

    it('refuses a wrong password and a wrong code, starting nothing', async () => {
      const before = agentPidOnLoginNode(cluster, target);
      const wrongPassword = await admin.post(`/api/targets/${target}/login`, { ...loginOf(cluster), password: 'not-the-password' });
      expect([wrongPassword.status, wrongPassword.body.error]).toEqual([403, { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' }]);
      const wrongCode = await admin.post(`/api/targets/${target}/login`, { ...loginOf(cluster), otp: '000000' });
      expect(wrongCode.body.error).toEqual({ code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' });
      expect(agentPidOnLoginNode(cluster, target)).toBe(before);
      expect((await admin.get(`/api/targets/${target}/status`)).body.loggedIn).toBe(false);
    });

    it('logs in, then runs the example simulation to completed, with progress, files and analysis', async () => {
      const r = await logInTo(admin, target, cluster);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ loggedIn: true, state: 'connected' });
      tooLong = (await run({ template: 'sleep', jobKey: 'too-long', parameters: { seconds: 200, lines: 200 } })).jobId;
      const job = await run({ template: 'heat1d', parameters: { nx: 101, frames: 10, endTime: 2, paceSeconds: 3 } });
      expect(job).toMatchObject({ target, driver: c.kind, size: 'sequential' });
      const queued = await admin.waitJob(job.jobId, (j) => j.externalId !== null, 30_000, 'a scheduler job id');
      expect(queued.scheduler?.name).toBe(c.title);
      const running = await admin.waitJob(job.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 90_000, 'running with progress');
      expect(running.progress).toBeLessThan(1);
      const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'completed');
      expect(done.progress).toBe(1);
      expect(done.externalId).toBe(queued.externalId);
      const files = (await admin.get(`/api/jobs/${job.jobId}/files`)).body.files.map((f: any) => f.path);
      expect(files).toEqual(expect.arrayContaining(['summary.json', 'temperature.csv', c.scriptName, 'run.log', 'external-id']));
      const frame = await admin.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'temperature', index: 9 });
      expect(frame.body.data.x).toHaveLength(101);
      const script = (await admin.get(`/api/jobs/${job.jobId}/files/${c.scriptName}`)).body as string;
      expect(script).toMatch(c.oneMinuteLine);
    });

    it('keeps no credentials: not in logs, databases, the agent\'s environment or its files; the job id is kept on both sides', async () => {
      const pid = agentPidOnLoginNode(cluster, target);
      const home = `/home/${cluster.user}/jobvisor`;
      const places: [string, string][] = [
        ['logs', jv.logs()],
        ['jobs.sqlite', readFileSync(path.join(jv.dataDir, 'jobs.sqlite')).toString('latin1')],
        ['accounts.sqlite', readFileSync(path.join(jv.dataDir, 'accounts.sqlite')).toString('latin1')],
        ['agent environment', readFileSync(`/proc/${pid}/environ`).toString('latin1')],
        ['agent folder', execFileSync('bash', ['-c', `cat ${home}/agent-${target}.log ${home}/*.sha256 ${home}/agent-${target}.pid`], { encoding: 'latin1' })],
      ];
      for (const [where, text] of places) expect([where, text.includes(cluster.password)]).toEqual([where, false]);
      const jobs = (await admin.get('/api/jobs')).body.jobs as { jobId: string; template: string; serial: number; externalId: string | null }[];
      const heat = jobs.find((j) => j.template === 'heat1d')!;
      expect(readFileSync(`${home}/runs/${heat.jobId}/${heat.serial}/external-id`, 'utf8').trim()).toBe(heat.externalId);
    });

    it('ends a failing run as error with its message and the scheduler\'s exit code; the scheduler\'s refusals reach the user verbatim', async () => {
      const job = await run({ template: 'fail', parameters: { failAfterSteps: 2, stepSeconds: 0 } });
      const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 90_000, 'error');
      expect(ended.reason).toMatch(/solver diverged at step 2/);
      expect(ended.reason).toMatch(c.failedReason);
      const bad = await run({ template: 'sleep', jobKey: 'refused', parameters: { seconds: 1, lines: 1 }, options: c.refusedOptions });
      const refused = await admin.waitJob(bad.jobId, (j) => j.status === 'error', 30_000, 'a refused submission');
      expect(refused.reason).toMatch(c.refusedText);
    });

    it('refuses a newline or a quote injected into a parameter or an option, and options over the site\'s limits', async () => {
      const bodies = [{ template: 'sleep', target, parameters: { seconds: '1\n#x' } }, ...c.injections.map((options) => ({ template: 'sleep', target, options }))];
      for (const body of bodies) {
        const r = await admin.post('/api/jobs', body);
        expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), 400]);
        expect(['INVALID_INPUT', 'RESOURCES_EXCEED_LIMIT']).toContain(r.body.error.code);
      }
    });

    it('cancels a run in the scheduler, confirmed by it: the job is gone from the queue', async () => {
      const job = await run({ template: 'sleep', jobKey: 'to-cancel', parameters: { seconds: 120, lines: 120 } });
      const running = await admin.waitJob(job.jobId, (j) => j.status === 'running', 90_000, 'running');
      const id = running.externalId as string;
      expect(c.inQueue(id)).toBe(true);
      const r = await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
      expect(r.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user' });
      await waitFor(() => !c.inQueue(id), { timeoutMs: 30_000, what: `${c.title} job ${id} to leave the queue` });
    });

    it('keeps scheduler jobs when the agent dies: "login required", then the same job is re-attached after a new login and completes with every log line once', async () => {
      const job = await run({ template: 'sleep', jobKey: 're-attach', parameters: { seconds: 12, lines: 24 } });
      await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines > 2, 90_000, 'running');
      const id = (await admin.job(job.jobId)).externalId as string;
      killAgentOnLoginNode(cluster, target, 'KILL');
      const detached = await admin.waitJob(job.jobId, (j) => /^login required/.test(j.waitingFor ?? ''), 30_000, 'login required');
      expect(detached.status).toBe('running');
      expect(detached.waitingFor).toContain(`${c.title} job ${id}`);
      expect((await admin.get(`/api/targets/${target}/status`)).body.loggedIn).toBe(false);
      expect(c.inQueue(id)).toBe(true);
      expect((await logInTo(admin, target, cluster)).status).toBe(200);
      const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'completed after re-attach');
      expect(done.logLines).toBe(48);
      expect(done.externalId).toBe(id);
      const log = (await admin.get(`/api/jobs/${job.jobId}/log?limit=100000`)).body.text as string;
      expect(log.split('\n').filter((l) => l.startsWith('line ')).length).toBe(24);
    });

    it('keeps a run in its state, marked unconfirmed, while the scheduler cannot be asked, and follows it again once it answers', async () => {
      const job = await run({ template: 'sleep', jobKey: 'unconfirmed', parameters: { seconds: 10, lines: 10 } });
      await admin.waitJob(job.jobId, (j) => j.status === 'running', 90_000, 'running');
      await schedulerDaemon(c.kind, 'stop');
      try {
        const unknown = await admin.waitJob(job.jobId, (j) => /state unconfirmed/.test(j.waitingFor ?? ''), 60_000, 'unconfirmed');
        expect(unknown.status).toBe('running');
        expect(unknown.scheduler?.unconfirmed).toBe(true);
      } finally {
        await schedulerDaemon(c.kind, 'start');
      }
      const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 120_000, 'completed once the scheduler answers');
      expect(done.waitingFor).toBeNull();
    });

    it('ends a run whose time limit is too small as canceled, with the scheduler\'s reason', async () => {
      const ended = await admin.waitJob(tooLong, (j) => j.status !== 'pending' && j.status !== 'running', 240_000, 'the too-long run to end');
      expect(ended.status).toBe('canceled');
      expect(ended.reason).toMatch(c.timeLimitReason);
    });

    it('asks the scheduler once per interval for all of a user\'s runs: counts the commands for 20 runs over one minute', async () => {
      const before = (await admin.get(`/api/targets/${target}/agent-log`)).body.schedulerCommands as Record<string, number>;
      const started = Date.now();
      const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => run({ template: 'sleep', jobKey: `many-${i}`, parameters: { seconds: 50, lines: 5 } })));
      await waitFor(() => Date.now() - started >= 60_000, { timeoutMs: 70_000, intervalMs: 1000, what: 'a minute' });
      const after = (await admin.get(`/api/targets/${target}/agent-log`)).body.schedulerCommands as Record<string, number>;
      const used = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
      console.log(`${c.title} commands for 20 concurrent runs over ${Math.round((Date.now() - started) / 1000)} s (poll interval 1 s):`, JSON.stringify(used));
      expect(used[c.submitCommand]).toBe(20);
      expect(used[c.statusCommand]).toBeLessThanOrEqual(70);
      expect(used[c.statusCommand]).toBeGreaterThan(10);
      await Promise.all(jobs.map((j) => admin.post(`/api/jobs/${j.jobId}/cancel`, {})));
    });
  });
}
