/**
 * `jobvisor logs JOB [--serial N] [--follow]`: the run's log (`run.log`, stdout and stderr),
 * read in byte ranges from GET /api/jobs/:jobId/log. With --follow it goes on reading as the
 * event stream says new lines came (and every few seconds regardless), and ends once the run
 * has ended and the log is read to its end. With --json: one chunk `{serial, offset,
 * nextOffset, size, text}` per line.
 */
import { Option, type Command } from 'commander';
import type { LogChunk } from '../../shared/api.js';
import { sleep } from '../../shared/retry.js';
import { act, clientCommand, getJob, positiveInt, resolveJob, type Context } from '../context.js';
import type { StreamEvent } from '../events.js';
import { isActive, openEvents } from '../watchRun.js';

const CHUNK = 1024 * 1024;
/** With --follow, the log is read at least this often (the event stream wakes it sooner). */
const FOLLOW_POLL_MS = 5000;

interface LogsOptions {
  serial?: number;
  follow?: boolean;
}

class LogReader {
  offset = 0;
  constructor(
    private readonly ctx: Context,
    private readonly jobId: string,
    private readonly serial: number,
  ) {}

  /** Reads and prints what is new, to the log's current end. */
  async drain(): Promise<void> {
    for (;;) {
      const q = new URLSearchParams({ offset: String(this.offset), limit: String(CHUNK), serial: String(this.serial) });
      const chunk = await this.ctx.client.json<LogChunk>('GET', `/api/jobs/${this.jobId}/log?${q.toString()}`);
      if (chunk.text !== '') this.ctx.out.result(chunk, () => chunk.text);
      const moved = chunk.nextOffset > this.offset;
      this.offset = chunk.nextOffset;
      if (!moved || this.offset >= chunk.size) return;
    }
  }
}

async function logs(ctx: Context, ref: string, opts: LogsOptions): Promise<void> {
  const jobId = await resolveJob(ctx.client, ref);
  const job = await getJob(ctx.client, jobId);
  const serial = opts.serial ?? job.serial;
  const reader = new LogReader(ctx, jobId, serial);
  if (!opts.follow || serial !== job.serial || !isActive(job.status)) return reader.drain();

  let ended = false;
  let wake = () => undefined as void;
  const onEvent = (e: StreamEvent) => {
    if (e.type === 'job' && e.job.jobId === jobId && (e.job.serial > serial || (e.job.serial === serial && !isActive(e.job.status)))) ended = true;
    if ((e.type === 'job' || e.type === 'log' || e.type === 'deleted') && (e.type === 'job' ? e.job.jobId : e.jobId) === jobId) wake();
    if (e.type === 'deleted' && e.jobId === jobId) ended = true;
    if (e.type === 'resync' || e.type === 'reconnected') wake();
  };
  // The stream is open before the first read, so no line and no end falls between them.
  const stream = await openEvents(ctx.client, onEvent);
  let failed: unknown;
  stream?.ended.catch((err: unknown) => {
    failed = err;
    wake();
  });
  try {
    for (;;) {
      await reader.drain();
      if (failed !== undefined) throw failed;
      if (ended) return reader.drain();
      const pause = new AbortController();
      wake = () => pause.abort();
      await sleep(stream ? FOLLOW_POLL_MS : 1000, pause.signal);
      if (!ended && !pause.signal.aborted) {
        // No event for a while (or no stream): ask whether the run is still going.
        const now = await getJob(ctx.client, jobId);
        if (now.serial !== serial || !isActive(now.status)) ended = true;
      }
    }
  } finally {
    stream?.close();
  }
}

export function logsCommand(): Command {
  return clientCommand('logs', 'print a run\'s log (with --follow: as it grows, until the run ends)')
    .argument('<job>', 'a job id or job key')
    .addOption(new Option('--serial <n>', 'the run whose log to print (default: the current run)').argParser(positiveInt('--serial')))
    .addOption(new Option('-f, --follow', 'keep printing new lines until the run ends'))
    .action(act((ctx, ref: string, opts: LogsOptions) => logs(ctx, ref, opts)));
}
