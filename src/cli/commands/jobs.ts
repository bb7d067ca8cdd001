/**
 * `jobvisor jobs` (the list, `--all` for admins), `status JOB`, `files JOB` and `cancel JOB`:
 * one API request each (after looking a job key up), the answer as text or, with --json, as
 * the API gave it.
 */
import { Option, type Command } from 'commander';
import { JOB_PAGE_DEFAULT, JOB_PAGE_MAX, type JobPage, type JobView } from '../../shared/api.js';
import { act, clientCommand, getJob, positiveInt, resolveJob, wholeNumber, type Context } from '../context.js';
import { formatBytes, formatTime, table } from '../output.js';
import { statusLine } from '../progress.js';

interface FileEntry {
  path: string;
  size: number;
  mtimeMs: number;
  result: boolean;
}

function describeJob(j: JobView): string {
  const rows: [string, string][] = [
    ['job', `${j.jobId} (${j.jobKey}) of ${j.user}`],
    ['run', `serial ${j.serial}: ${j.template} on ${j.target}/${j.size} (${j.driver})`],
    ['status', statusLine(j)],
    ['parameters', JSON.stringify(j.parameters)],
    ['queued', formatTime(j.queuedAt)],
    ['started', formatTime(j.startedAt)],
    ['ended', formatTime(j.endedAt)],
  ];
  if (j.queuePosition !== null) rows.push(['queue', `position ${j.queuePosition}`]);
  if (j.externalId) rows.push(['scheduler', `${j.scheduler?.name ?? ''} job ${j.externalId}${j.scheduler ? `: ${j.scheduler.state}${j.scheduler.reason ? ` (${j.scheduler.reason})` : ''}` : ''}`]);
  if (j.inputs && j.inputs.length > 0) rows.push(['inputs', j.inputs.map((i) => `${i.name}=${i.fileName} (${formatBytes(i.size)})`).join(', ')]);
  if (j.history.length > 0) rows.push(['earlier', j.history.map((h) => `${h.serial} ${h.status}`).join(', ')]);
  return table(rows.map(([k, v]) => [`${k}:`, v]));
}

async function status(ctx: Context, ref: string): Promise<void> {
  const job = await getJob(ctx.client, await resolveJob(ctx.client, ref));
  ctx.out.result({ job }, () => describeJob(job));
}

interface JobsOptions {
  all?: boolean;
  limit: number;
  status?: string;
  template?: string;
  target?: string;
  since?: string;
  until?: string;
}

/** Jobs a page at a time (500, the most a page holds) until `limit` (0: every one); the server checks the filters. */
async function listJobs(ctx: Context, opts: JobsOptions): Promise<{ jobs: JobView[]; nextCursor?: string }> {
  const out: JobView[] = [];
  let cursor: string | undefined;
  for (;;) {
    const want = opts.limit === 0 ? JOB_PAGE_MAX : Math.min(JOB_PAGE_MAX, opts.limit - out.length);
    const q = new URLSearchParams({ limit: String(want) });
    for (const key of ['status', 'template', 'target', 'since', 'until'] as const) if (opts[key] !== undefined) q.set(key, opts[key]);
    if (opts.all) q.set('all', '1');
    if (cursor) q.set('cursor', cursor);
    const page = await ctx.client.json<JobPage>('GET', `/api/jobs?${q.toString()}`);
    out.push(...page.jobs);
    cursor = page.nextCursor;
    if (!cursor || (opts.limit !== 0 && out.length >= opts.limit)) return { jobs: out, ...(cursor ? { nextCursor: cursor } : {}) };
  }
}

async function jobs(ctx: Context, opts: JobsOptions): Promise<void> {
  const answer = await listJobs(ctx, opts);
  ctx.out.result(answer, () => {
    if (answer.jobs.length === 0) return 'no jobs';
    const head = ['JOB', 'KEY', ...(opts.all ? ['USER'] : []), 'TEMPLATE', 'TARGET', 'SERIAL', 'QUEUED', 'STATUS'];
    const rows = answer.jobs.map((j) => [j.jobId, j.jobKey, ...(opts.all ? [j.user] : []), j.template, `${j.target}/${j.size}`, String(j.serial), formatTime(j.queuedAt), statusLine(j)]);
    const more = answer.nextCursor ? `\n(the ${answer.jobs.length} most recent; more with --limit N, or --limit 0 for every one)` : '';
    return table([head, ...rows]) + more;
  });
}

async function files(ctx: Context, ref: string, opts: { serial?: number }): Promise<void> {
  const jobId = await resolveJob(ctx.client, ref);
  const answer = await ctx.client.json<{ serial: number; files: FileEntry[]; truncated: boolean }>('GET', `/api/jobs/${jobId}/files${opts.serial ? `?serial=${opts.serial}` : ''}`);
  ctx.out.result(answer, () => {
    const width = Math.max(5, ...answer.files.map((f) => String(f.size).length));
    const rows = answer.files.map((f) => [f.result ? 'result' : '', String(f.size).padStart(width), formatTime(f.mtimeMs), f.path]);
    const text = table([['', 'BYTES'.padStart(width), 'MODIFIED', 'PATH'], ...rows]);
    return `run ${answer.serial}: ${answer.files.length} files${answer.truncated ? ' (the list was cut short)' : ''}\n${text}`;
  });
}

async function cancel(ctx: Context, ref: string, opts: { serial?: number }): Promise<void> {
  const jobId = await resolveJob(ctx.client, ref);
  const { job } = await ctx.client.json<{ job: JobView }>('POST', `/api/jobs/${jobId}/cancel`, opts.serial ? { serial: opts.serial } : {});
  ctx.out.result({ job }, () => `job ${job.jobId} serial ${job.serial}: ${statusLine(job)}`);
}

const serialOption = (what: string) => new Option('--serial <n>', `${what} (default: the current run)`).argParser(positiveInt('--serial'));

export function jobsCommands(): Command[] {
  return [
    clientCommand('jobs', 'list your jobs, the most recently queued first')
      .addOption(new Option('--all', 'every user\'s jobs (admins)'))
      .addOption(new Option('--limit <n>', 'list at most this many, the most recent first (0: every one, fetched 500 at a time)').default(JOB_PAGE_DEFAULT).argParser(wholeNumber('--limit')))
      .addOption(new Option('--status <statuses>', 'only jobs in these statuses (comma-separated: running,pending)'))
      .addOption(new Option('--template <name>', 'only jobs of this template'))
      .addOption(new Option('--target <name>', 'only jobs on this target'))
      .addOption(new Option('--since <date>', 'only jobs whose run was queued at or after this ISO 8601 date (2026-12-01, 2026-12-01T09:00:00Z)'))
      .addOption(new Option('--until <date>', 'only jobs whose run was queued before this ISO 8601 date'))
      .action(act((ctx, opts: JobsOptions) => jobs(ctx, opts))),
    clientCommand('status', 'show a job and its current run')
      .argument('<job>', 'a job id or job key')
      .action(act((ctx, ref: string) => status(ctx, ref))),
    clientCommand('files', 'list the files of a run')
      .argument('<job>', 'a job id or job key')
      .addOption(serialOption('the run whose files to list'))
      .action(act((ctx, ref: string, opts: { serial?: number }) => files(ctx, ref, opts))),
    clientCommand('cancel', 'cancel a job\'s run')
      .argument('<job>', 'a job id or job key')
      .addOption(serialOption('cancel only if this is still the current run'))
      .action(act((ctx, ref: string, opts: { serial?: number }) => cancel(ctx, ref, opts))),
  ];
}
