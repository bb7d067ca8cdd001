/**
 * Faults: the event stream across restarts. Events carry their journal number as their SSE id;
 * a client that reconnects with `Last-Event-ID` gets every event it missed, from the server's
 * memory or, after a server restart, from the supervisor's journal; and the server resumes its
 * own stream from the supervisor after a supervisor restart, so no client needs a `resync`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resumingEventReader } from './helpers/events.js';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';
import { waitFor } from './helpers/wait.js';

const expectedLines = (n: number) => Array.from({ length: n }, (_, i) => [`line ${i + 1}`, `PROGRESS ${((i + 1) / n).toFixed(6)}`]).flat();

describe('event streams across restarts', () => {
  let jv: Jobvisor | undefined;
  afterEach(async () => {
    await jv?.stop();
    jv = undefined;
  });

  /** Runs `sleep` with `lines` lines over `seconds`, does `fault` while it runs, and checks what a resuming reader saw. */
  async function survive(fault: (jv: Jobvisor, moreLines: () => Promise<void>) => Promise<void>, restarts: number) {
    jv = await startJobvisor();
    const admin = await jv.login();
    const reader = resumingEventReader(() => jv!.serverUrl, admin.token!);
    await waitFor(() => reader.types().includes('hello'), { what: 'the stream to open' });
    const lines = 40;
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 6, lines } });
    await waitFor(() => reader.lines(job.jobId).length >= 6, { what: 'some log lines on the stream' });
    // Resolves once the stream has brought log lines of the job that came after the call (or all
    // of them: under load, a restart may take longer than the rest of the run).
    const moreLines = async () => {
      const seen = reader.lines(job.jobId).length;
      const all = expectedLines(lines).length;
      await waitFor(() => reader.lines(job.jobId).length > seen || reader.lines(job.jobId).length >= all, { timeoutMs: 30_000, what: 'more log lines on the stream' });
    };
    for (let i = 0; i < restarts; i++) await fault(jv, moreLines);
    await admin.waitJob(job.jobId, (j) => j.status === 'completed', 40_000, 'completed');
    await waitFor(() => reader.seen.some((e) => e.event === 'job' && e.data.job.jobId === job.jobId && e.data.job.status === 'completed'), {
      timeoutMs: 20_000,
      what: 'the completed event on the stream',
    });
    reader.stop();
    expect(reader.lines(job.jobId)).toEqual(expectedLines(lines));
    expect(reader.types()).not.toContain('resync');
    const ids = reader.seen.filter((e) => e.id !== undefined).map((e) => e.id!);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    const statuses = reader.seen.filter((e) => e.event === 'job' && e.data.job.jobId === job.jobId).map((e) => e.data.job.status as string);
    expect(statuses[statuses.length - 1]).toBe('completed');
    return reader;
  }

  it('a client that reconnects after a server restart (SIGKILL) gets every event it missed, once, in order', async () => {
    const reader = await survive(async (jv, moreLines) => {
      await jv.stopServer('SIGKILL');
      // Events go on while the server is down (an outage of 700 ms): the restarted server knows none of them.
      await new Promise((r) => setTimeout(r, 700));
      await jv.startServer();
      await moreLines();
    }, 2);
    expect(reader.state.connections).toBeGreaterThanOrEqual(3);
  });

  it('the server resumes the supervisor stream after a supervisor restart (SIGKILL): no event lost, no resync', async () => {
    const reader = await survive(async (jv, moreLines) => {
      await jv.stopSupervisor('SIGKILL');
      await new Promise((r) => setTimeout(r, 300)); // an outage of 300 ms, while the agent goes on
      await jv.startSupervisor();
      await moreLines();
    }, 2);
    // The client's own stream to the server never broke.
    expect(reader.state.connections).toBe(1);
  });

  it('answers an id it no longer has, or never gave, with resync, then goes on live', async () => {
    jv = await startJobvisor();
    const admin = await jv.login();
    const res = await fetch(`${jv.serverUrl}/api/events`, { headers: { authorization: `Bearer ${admin.token}`, 'last-event-id': '999999999' } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: resync')) text += Buffer.from((await reader.read()).value ?? []).toString();
    const job = await admin.run({ template: 'sleep', parameters: { seconds: 0, lines: 1 } });
    while (!text.includes(job.jobId)) text += Buffer.from((await reader.read()).value ?? []).toString();
    expect(text).toMatch(/id: \d+\nevent: job\n/);
    await reader.cancel();
  });
});
