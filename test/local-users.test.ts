/**
 * What the local driver means for several users, said plainly: their commands all run as the
 * supervisor's own OS user, so the supervisor warns once a second user runs there. And the
 * data folder is jobvisor's alone, whatever mode it had: 0700, databases and secret 0600.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jobvisor, type Client } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

describe('the local driver and the data folder', () => {
  let jv: Jobvisor;
  let admin: Client;
  beforeAll(async () => {
    jv = new Jobvisor();
    // A data folder someone made readable to all, with databases to match.
    mkdirSync(jv.dataDir, { recursive: true, mode: 0o755 });
    chmodSync(jv.dataDir, 0o755);
    for (const f of ['jobs.sqlite', 'accounts.sqlite', 'supervisor-secret']) writeFileSync(path.join(jv.dataDir, f), f === 'supervisor-secret' ? 'a-secret-of-more-than-sixteen-characters\n' : '', { mode: 0o644 });
    await jv.start();
    admin = await jv.login();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('keeps the data folder 0700 and its databases and secret 0600, whatever their mode was', () => {
    const mode = (f: string) => (statSync(path.join(jv.dataDir, f)).mode & 0o777).toString(8);
    expect([mode('.'), mode('jobs.sqlite'), mode('accounts.sqlite'), mode('supervisor-secret')]).toEqual(['700', '600', '600', '600']);
  });

  it('warns once a second user runs on a local target: their commands share one OS user', async () => {
    const warning = 'this local target runs the commands of several jobvisor users as one OS user';
    const one = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    await admin.waitJob(one.jobId, (j) => j.status === 'completed', 30_000, 'the admin run');
    expect(jv.logs()).not.toContain(warning);
    const alice = await jv.addUser(admin, 'alice');
    const two = await alice.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    await alice.waitJob(two.jobId, (j) => j.status === 'completed', 30_000, "alice's run");
    await waitFor(() => jv.logs().includes(warning), { timeoutMs: 5000, what: 'the warning' });
    expect(jv.logs().split(warning).length - 1).toBe(1);
  });
});
