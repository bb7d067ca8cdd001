/**
 * Upgrading while a 0.1 agent runs on a cluster: the agent of jobvisor 0.1 (its bundle, built
 * from 0.1's own sources: test/fixtures/v0.1) still follows a real Slurm job on the login node when the new
 * supervisor starts on 0.1's database. The agent is refused and ends by itself; its Slurm job
 * goes on; the run waits for a login, and the new agent that login starts follows the same job
 * to its end with every log line once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type ClusterInfo } from './helpers/cluster.js';
import { Jobvisor, ROOT, type Client } from './helpers/jobvisor.js';
import { freePort } from './helpers/net.js';
import { pidAlive, waitFor } from './helpers/wait.js';
import { clusterTarget, killAgentOnLoginNode, logInTo } from './schedulers/contract.js';

const V01 = path.join(ROOT, 'test', 'fixtures', 'v0.1');
const REMOTE_DIR = 'jobvisor-upgrade';
const TARGET = 'upgrade-hpc';
const JOB_ID = 'b0b0000000000001';

const asUser = (cluster: ClusterInfo, script: string) => execFileSync('runuser', ['-u', cluster.user, '--', 'bash', '-lc', script], { encoding: 'utf8' }).trim();

describe('upgrading from 0.1 with a cluster agent running', () => {
  let cluster: ClusterInfo;
  let jv: Jobvisor;
  let admin: Client;
  let agentPid: number;
  let slurmJob: string;

  beforeAll(async () => {
    cluster = startTestCluster('slurm');
    const bundle = path.join(V01, 'jobvisor-agent.mjs');
    const home = `/home/${cluster.user}/${REMOTE_DIR}`;
    const runDir = `${home}/runs/${JOB_ID}`;
    execFileSync('bash', ['-c', `rm -rf ${home} && mkdir -p ${runDir} && cp ${bundle} ${home}/jobvisor-agent.mjs && chown -R ${cluster.user}: ${home}`]);
    // A run as 0.1 submitted it: a batch script writing run.log in its run directory.
    const script = `#!/bin/bash\n#SBATCH --output=${runDir}/run.log\n#SBATCH --time=2\ncd ${runDir}\nfor i in $(seq 1 16); do echo "line $i"; sleep 1; done\n`;
    asUser(cluster, `cat > ${runDir}/job.sbatch <<'EOF'\n${script}EOF`);
    slurmJob = asUser(cluster, `cd ${runDir} && sbatch --parsable job.sbatch`).split(';')[0]!;

    // 0.1's database: the run, and the agent that follows it (its token's hash).
    const port = await freePort();
    const token = randomBytes(32).toString('base64url');
    const agentId = 'sbatch-admin-sbatch-0a0b0c0d';
    jv = new Jobvisor({ env: { JOBVISOR_SUPERVISOR_PORT: String(port), JOBVISOR_TARGETS: JSON.stringify([{ name: 'local', driver: 'local' }, clusterTarget('slurm', TARGET, cluster, { remoteDir: REMOTE_DIR })]) } });
    mkdirSync(jv.dataDir, { recursive: true });
    const db = new Database(path.join(jv.dataDir, 'jobs.sqlite'));
    db.exec(readFileSync(path.join(V01, 'schema.sql'), 'utf8'));
    const now = Date.now();
    db.prepare(`INSERT INTO jobs (id, user, job_key, template, run_mode, driver, serial, status, parameters, queued_at, started_at, updated_at, agent_id, sent, external_id, log_offset)
      VALUES (?, 'admin', 'on-hpc', 'sleep', 'sbatch', 'sbatch', 1, 'running', '{}', ?, ?, ?, ?, 1, ?, 0)`).run(JOB_ID, now, now, now, agentId, slurmJob);
    db.prepare(`INSERT INTO agents (id, token_hash, user, run_mode, driver, host, pid, last_seq, started_at) VALUES (?, ?, 'admin', 'sbatch', 'sbatch', ?, NULL, 0, ?)`)
      .run(agentId, createHash('sha256').update(token).digest('hex'), cluster.host, now);
    db.close();

    // The 0.1 agent, started as 0.1's driver started it, keeps trying to reach its supervisor.
    const env = `JOBVISOR_AGENT_ID=${agentId} JOBVISOR_AGENT_URL=ws://127.0.0.1:${port} JOBVISOR_SLURM_POLL_MS=1000 JOBVISOR_AGENT_LOG=${home}/agent.log`;
    const child = spawn('runuser', ['-u', cluster.user, '--', 'bash', '-c', `cd ${home} && exec env ${env} node jobvisor-agent.mjs >>agent.log 2>&1`], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(token + '\n');
    agentPid = child.pid!;
    jv.supervisorUrl = `http://127.0.0.1:${port}`; // the port 0.1's agent was told
    await jv.start();
    admin = await jv.login();
  }, 300_000);
  afterAll(async () => {
    await jv?.stop();
    if (cluster) {
      killAgentOnLoginNode(cluster, TARGET);
      execFileSync('bash', ['-c', `scancel ${slurmJob ?? ''} 2>/dev/null; pkill -u ${cluster.user} -f '${REMOTE_DIR}' ; true`]);
    }
  });

  it('refuses the 0.1 agent, which ends by itself and leaves its Slurm job running; a new login follows the job to its end', async () => {
    await waitFor(() => !pidAlive(agentPid), { timeoutMs: 30_000, what: 'the 0.1 agent to end' });
    const log = execFileSync('cat', [`/home/${cluster.user}/${REMOTE_DIR}/agent.log`], { encoding: 'utf8' });
    expect(log).toMatch(/refused/);
    expect(execFileSync('squeue', ['--noheader', '--jobs', slurmJob, '--format=%i'], { encoding: 'utf8' }).trim()).toBe(slurmJob);
    const waiting = await admin.waitJob(JOB_ID, (j) => /^login required/.test(j.waitingFor ?? ''), 30_000, 'the run to wait for a login');
    expect(waiting).toMatchObject({ status: 'running', target: TARGET, driver: 'slurm', externalId: slurmJob });
    const login = await logInTo(admin, TARGET, cluster);
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const done = await admin.waitJob(JOB_ID, (j) => j.status === 'completed', 120_000, 'the Slurm job to complete under the new agent');
    expect(done.logLines).toBe(16);
    const text = (await admin.get(`/api/jobs/${JOB_ID}/log?limit=100000`)).body.text as string;
    expect(text.split('\n').filter(Boolean)).toEqual(Array.from({ length: 16 }, (_, i) => `line ${i + 1}`));
  });

  it("keeps the 0.1 run's files (in the job's own folder) readable as an earlier run once the job runs again in its own run folder", async () => {
    const again = await admin.run({ template: 'sleep', target: TARGET, jobKey: 'on-hpc', parameters: { seconds: 0, lines: 2 } });
    expect(again).toMatchObject({ jobId: JOB_ID, serial: 2 });
    await admin.waitJob(JOB_ID, (j) => j.serial === 2 && j.status === 'completed', 120_000, 'the new run');
    expect(existsSync(`/home/${cluster.user}/${REMOTE_DIR}/runs/${JOB_ID}/2/done.txt`)).toBe(true);
    const old = await admin.get(`/api/jobs/${JOB_ID}/files?serial=1`);
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    // The 0.1 run's own files only: not the new run's folder inside the job's folder.
    const paths = old.body.files.map((f: { path: string }) => f.path) as string[];
    expect(paths).toEqual(expect.arrayContaining(['job.sbatch', 'run.log']));
    expect(paths.filter((p) => p.startsWith('2/'))).toEqual([]);
    const oldLog = (await admin.get(`/api/jobs/${JOB_ID}/log?serial=1&limit=100000`)).body.text as string;
    expect(oldLog.split('\n').filter(Boolean)).toHaveLength(16);
    expect((await admin.get(`/api/jobs/${JOB_ID}/log`)).body.text).toContain('line 2');
  }, 180_000);
});
