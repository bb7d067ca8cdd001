/**
 * The sbatch driver against a real single-node Slurm cluster behind a real sshd that asks for
 * a password and a TOTP code (sbatch/test-cluster.sh). One file: every login of the cluster
 * user needs a one-time code later than the last one used.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSbatchDriver } from '../src/drivers/sbatch.js';
import { createLogger } from '../src/shared/logger.js';
import { SbatchConfig } from '../src/shared/sbatchConfig.js';
import { completeSbatchOp, loadScriptTemplate } from '../src/supervisor/sbatchScript.js';
import { driverContract } from './drivers/contract.js';
import { nextCode, startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';
import path from 'node:path';

const cluster: ClusterInfo = startTestCluster();
const settings = (extra: Record<string, unknown> = {}) => ({
  host: cluster.host,
  port: cluster.port,
  knownHosts: [cluster.knownHosts],
  pollIntervalMs: 1000,
  lostAfterMs: 3000,
  ...extra,
});
const login = (otp = nextCode(cluster)) => ({ username: cluster.user, password: cluster.password, otp });
const inQueue = (slurmJobId: string) => execFileSync('squeue', ['--noheader', '--jobs', slurmJobId, '--format=%i'], { encoding: 'utf8' }).trim() === slurmJobId;
const agentsOnLoginNode = () => Number(execFileSync('bash', ['-c', `pgrep -u ${cluster.user} -fc jobvisor-agent.mjs || true`], { encoding: 'utf8' }).trim());

driverContract(
  'sbatch',
  async () => {
    const config = SbatchConfig.parse(settings());
    const driver = createSbatchDriver({ settings: config, templatesDir: path.join(ROOT, 'templates'), logLevel: 'info', log: createLogger('sbatch-contract', 'silent') });
    const script = loadScriptTemplate(config);
    return {
      driver,
      templatesDir: driver.templatesDir(),
      credentials: () => login(),
      completeRunOp: (op) => completeSbatchOp(config, script, { jobId: op.jobId, serial: op.serial, slurm: null }, op),
      // The driver cannot signal agents on the login node (no login kept): end them as the cluster user's own admin would.
      cleanup: async () => void execFileSync('bash', ['-c', `pkill -u ${cluster.user} -f jobvisor-agent.mjs; scancel --user=${cluster.user}; true`]),
    };
  },
  'contract',
  'sbatch',
);

describe('sbatch runs through the HTTP API', () => {
  let jv: Jobvisor;
  let admin: Client;
  let tooLong: string;

  beforeAll(async () => {
    jv = await startJobvisor({ env: { JOBVISOR_SBATCH: JSON.stringify(settings()), JOBVISOR_MAX_TIME_SBATCH: '60' } });
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
    execFileSync('bash', ['-c', `pkill -u ${cluster.user} -f jobvisor-agent.mjs; scancel --user=${cluster.user}; true`]);
  });

  it('answers "login required" to a cluster run without a live agent, and says so in the login status', async () => {
    const r = await admin.post('/api/jobs', { template: 'sleep', runMode: 'sbatch' });
    expect([r.status, r.body.error.code]).toEqual([428, 'LOGIN_REQUIRED']);
    expect((await admin.get('/api/cluster/status')).body).toMatchObject({ configured: true, loggedIn: false });
  });

  it('refuses a wrong password, a wrong code and a wrong host key, starting nothing', async () => {
    const before = agentsOnLoginNode();
    const wrongPassword = await admin.post('/api/cluster/login', { ...login(), password: 'not-the-password' });
    expect([wrongPassword.status, wrongPassword.body.error]).toEqual([403, { code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' }]);
    const wrongCode = await admin.post('/api/cluster/login', login('000000'));
    expect(wrongCode.body.error).toEqual({ code: 'CLUSTER_CREDENTIALS_REFUSED', message: 'invalid credentials' });
    const other = await startJobvisor({ env: { JOBVISOR_SBATCH: JSON.stringify(settings({ knownHosts: [`[127.0.0.1]:${cluster.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyCVZrGkpsBRtjZrFSnt1vwIpYXOTvGr1BjYc5CMWtM`] })) } });
    try {
      const a = await other.login();
      const wrongKey = await a.post('/api/cluster/login', login());
      expect([wrongKey.status, wrongKey.body.error.code]).toEqual([502, 'HOST_KEY_MISMATCH']);
    } finally {
      await other.stop();
    }
    expect(agentsOnLoginNode()).toBe(before);
    expect((await admin.get('/api/cluster/status')).body.loggedIn).toBe(false);
  });

  it('logs in with password and a fresh code, then runs the example simulation through sbatch to completed, with progress', async () => {
    const r = await admin.post('/api/cluster/login', login());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ loggedIn: true, state: 'connected' });
    const long = await admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: 'too-long', parameters: { seconds: 200, lines: 200 } });
    tooLong = long.jobId;
    const job = await admin.run({ template: 'heat1d', runMode: 'sbatch', parameters: { nx: 101, frames: 10, endTime: 2, paceSeconds: 4 } });
    const queued = await admin.waitJob(job.jobId, (j) => /^Slurm job \d+/.test(j.waitingFor ?? '') || j.status !== 'pending', 30_000, 'Slurm job id');
    expect(queued.status === 'running' || /Slurm job \d+/.test(queued.waitingFor ?? '')).toBe(true);
    const running = await admin.waitJob(job.jobId, (j) => j.status === 'running' && (j.progress ?? 0) > 0, 90_000, 'running with progress');
    expect(running.progress).toBeLessThan(1);
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'completed');
    expect(done.progress).toBe(1);
    const files = (await admin.get(`/api/jobs/${job.jobId}/files`)).body.files.map((f: any) => f.path);
    expect(files).toEqual(expect.arrayContaining(['summary.json', 'temperature.csv', 'job.sbatch', 'run.log']));
    const frame = await admin.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'temperature', index: 9 });
    expect(frame.body.data.x).toHaveLength(101);
    const script = (await admin.get(`/api/jobs/${job.jobId}/files/job.sbatch`)).body as string;
    expect(script).toMatch(/^#SBATCH --time=1$/m);
  });

  it('keeps no credentials: not in logs, databases, the agent\'s environment or its files; the Slurm job id is kept on both sides', async () => {
    const secrets = [cluster.password];
    const agentPid = execFileSync('bash', ['-c', `pgrep -u ${cluster.user} -f jobvisor-agent.mjs | head -1`], { encoding: 'utf8' }).trim();
    const places: [string, string][] = [
      ['logs', jv.logs()],
      ['jobs.sqlite', readFileSync(path.join(jv.dataDir, 'jobs.sqlite')).toString('latin1')],
      ['accounts.sqlite', readFileSync(path.join(jv.dataDir, 'accounts.sqlite')).toString('latin1')],
      ['agent environment', readFileSync(`/proc/${agentPid}/environ`).toString('latin1')],
      ['agent folder', execFileSync('bash', ['-c', `cat /home/${cluster.user}/jobvisor/*.log /home/${cluster.user}/jobvisor/*.sha256 /home/${cluster.user}/jobvisor/agent.pid`], { encoding: 'latin1' })],
    ];
    for (const [where, text] of places) for (const secret of secrets) expect([where, text.includes(secret)]).toEqual([where, false]);
    const jobs = (await admin.get('/api/jobs')).body.jobs as { jobId: string; template: string; externalId: string | null }[];
    const heat = jobs.find((j) => j.template === 'heat1d')!;
    expect(readFileSync(`/home/${cluster.user}/jobvisor/runs/${heat.jobId}/slurm-job-id`, 'utf8').trim()).toBe(heat.externalId);
  });

  it('ends a failing run as error with its message, and sbatch errors reach the user verbatim', async () => {
    const job = await admin.run({ template: 'fail', runMode: 'sbatch', parameters: { failAfterSteps: 2, stepSeconds: 0 } });
    const ended = await admin.waitJob(job.jobId, (j) => j.status === 'error', 90_000, 'error');
    expect(ended.reason).toMatch(/solver diverged at step/);
    expect(ended.reason).toMatch(/Slurm job ended FAILED/);
    const bad = await admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: 'bad-partition', parameters: { seconds: 1, lines: 1 }, slurm: { partition: 'nosuchpartition' } });
    const refused = await admin.waitJob(bad.jobId, (j) => j.status === 'error', 30_000, 'sbatch error');
    expect(refused.reason).toMatch(/invalid partition specified: nosuchpartition/);
  });

  it('refuses a newline (or a quote) injected into a parameter or a Slurm option', async () => {
    for (const body of [
      { template: 'sleep', runMode: 'sbatch', parameters: { seconds: '1\n#SBATCH --x' } },
      { template: 'sleep', runMode: 'sbatch', slurm: { account: 'x\n#SBATCH --qos=high' } },
      { template: 'sleep', runMode: 'sbatch', slurm: { partition: "debug'; rm -rf ~; '" } },
      { template: 'sleep', runMode: 'sbatch', slurm: { nodes: 5 } },
    ]) {
      const r = await admin.post('/api/jobs', body);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), 400]);
      expect(['INVALID_INPUT', 'RESOURCES_EXCEED_LIMIT']).toContain(r.body.error.code);
    }
  });

  it('cancels a run with scancel, confirmed by Slurm', async () => {
    const job = await admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: 'to-cancel', parameters: { seconds: 120, lines: 120 } });
    const running = await admin.waitJob(job.jobId, (j) => j.status === 'running', 90_000, 'running');
    const id = running.externalId as string;
    expect(inQueue(id)).toBe(true);
    const r = await admin.post(`/api/jobs/${job.jobId}/cancel`, {});
    expect(r.body.job).toMatchObject({ status: 'canceled', reason: 'canceled by user' });
    expect(inQueue(id)).toBe(false);
    expect(running.startedAt).not.toBeNull();
  });

  it('keeps Slurm jobs when the agent dies: "login required", then the same Slurm job is re-attached after a new login and completes', async () => {
    const job = await admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: 're-attach', parameters: { seconds: 12, lines: 24 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running' && j.logLines > 2, 90_000, 'running');
    const id = (await admin.job(job.jobId)).externalId as string;
    execFileSync('bash', ['-c', `pkill -KILL -u ${cluster.user} -f jobvisor-agent.mjs`]);
    const detached = await admin.waitJob(job.jobId, (j) => /^login required/.test(j.waitingFor ?? ''), 30_000, 'login required');
    expect(detached.status).toBe('running');
    expect((await admin.get('/api/cluster/status')).body.loggedIn).toBe(false);
    expect(inQueue(id)).toBe(true);
    expect((await admin.post('/api/cluster/login', login())).status).toBe(200);
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 90_000, 'completed after re-attach');
    expect(done.logLines).toBe(48);
    expect(done.externalId).toBe(id);
  });

  it('keeps a run in its state, marked unconfirmed, while Slurm cannot be asked, and follows it again once Slurm answers', async () => {
    const job = await admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: 'unconfirmed', parameters: { seconds: 10, lines: 10 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'running', 90_000, 'running');
    execFileSync('bash', ['-c', 'pkill -x slurmctld; while pgrep -x slurmctld >/dev/null; do sleep 0.1; done']);
    try {
      const unknown = await admin.waitJob(job.jobId, (j) => /state unconfirmed/.test(j.waitingFor ?? ''), 60_000, 'unconfirmed');
      expect(unknown.status).toBe('running');
    } finally {
      execFileSync('slurmctld');
    }
    const done = await admin.waitJob(job.jobId, (j) => j.status === 'completed', 120_000, 'completed once Slurm answers');
    expect(done.waitingFor).toBeNull();
  });

  it('ends a run whose time limit is too small as canceled (Slurm TIMEOUT), with the reason', async () => {
    const ended = await admin.waitJob(tooLong, (j) => j.status !== 'pending' && j.status !== 'running', 240_000, 'the too-long run to end');
    expect(ended.status).toBe('canceled');
    expect(ended.reason).toBe('Slurm ended the job at its time limit (TIMEOUT)');
  });

  it('asks Slurm once per interval for all of a user\'s runs: counts the commands for 20 concurrent runs over one minute', async () => {
    const before = (await admin.get('/api/cluster/agent-log')).body.slurmCommands as Record<string, number>;
    const started = Date.now();
    const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => admin.run({ template: 'sleep', runMode: 'sbatch', jobKey: `many-${i}`, parameters: { seconds: 50, lines: 5 } })));
    await waitFor(() => Date.now() - started >= 60_000, { timeoutMs: 70_000, intervalMs: 1000, what: 'a minute' });
    const after = (await admin.get('/api/cluster/agent-log')).body.slurmCommands as Record<string, number>;
    const used = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
    console.log(`Slurm commands for 20 concurrent runs over ${Math.round((Date.now() - started) / 1000)} s (poll interval 1 s):`, JSON.stringify(used));
    expect(used.sbatch).toBe(20);
    expect(used.squeue).toBeLessThanOrEqual(70);
    expect(used.squeue).toBeGreaterThan(10);
    await Promise.all(jobs.map((j) => admin.post(`/api/jobs/${j.jobId}/cancel`, {})));
  });
});
