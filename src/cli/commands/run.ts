/**
 * `jobvisor run TEMPLATE` (a new run: POST /api/jobs, multipart when it has `--input` files) and
 * `jobvisor watch JOB`. With `--wait`, and always for watch, it follows the run until it ends
 * (a live progress bar on a terminal, plain lines otherwise) and exits by how it ended:
 * 0 completed, 10 error, 11 canceled, 12 otherwise.
 */
import { Option, type Command } from 'commander';
import type { JobView } from '../../shared/api.js';
import type { PublicTemplate } from '../../shared/template.js';
import { act, clientCommand, getJob, resolveJob, type Context } from '../context.js';
import { EXIT, usageError } from '../exitCodes.js';
import { formatDuration } from '../output.js';
import { buildInputs, buildParameters } from '../params.js';
import { runDisplay, statusLine } from '../progress.js';
import { EarlyEvents, exitCodeOf, followRun, isActive, type RunEnd } from '../watchRun.js';

interface RunOptions {
  set: string[];
  params?: string;
  input: string[];
  target?: string;
  size?: string;
  jobKey?: string;
  wait?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function submitted(job: JobView): string {
  return `job ${job.jobId} (${job.jobKey}) serial ${job.serial}: ${statusLine(job)} on ${job.target}/${job.size}`;
}

function ended(end: RunEnd, jobId: string): string {
  const j = end.job.serial === end.serial ? end.job : undefined;
  const took = j?.startedAt && j.endedAt ? ` after running ${formatDuration(j.endedAt - j.startedAt)}` : '';
  return `job ${jobId} serial ${end.serial} ${end.status}${took}${end.reason ? `: ${end.reason}` : ''}`;
}

/** Follows the run on screen; Ctrl-C stops watching (exit 130), not the run. */
async function follow(ctx: Context, job: JobView, early?: EarlyEvents): Promise<number> {
  const display = runDisplay(ctx.out, `${job.jobKey} #${job.serial}`);
  const onSigint = () => {
    display.stop();
    ctx.out.note(`stopped watching; the run goes on (jobvisor watch ${job.jobId}, jobvisor cancel ${job.jobId})`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    const end = await followRun(ctx.client, job.jobId, job.serial, display, early);
    display.stop();
    if (!ctx.out.json) ctx.out.raw(ended(end, job.jobId) + '\n');
    return exitCodeOf(end.status);
  } finally {
    display.stop();
    process.off('SIGINT', onSigint);
  }
}

async function run(ctx: Context, templateName: string, opts: RunOptions): Promise<number> {
  if (opts.size !== undefined && opts.size !== 'sequential' && opts.size !== 'parallel') throw usageError(`--size must be sequential or parallel, not ${JSON.stringify(opts.size)}`);
  const { templates } = await ctx.client.json<{ templates: PublicTemplate[] }>('GET', '/api/templates');
  const template = templates.find((t) => t.name === templateName);
  const body: Record<string, unknown> = { template: templateName, parameters: buildParameters(template, opts.params, opts.set) };
  if (opts.target !== undefined) body.target = opts.target;
  if (opts.size !== undefined) body.size = opts.size;
  if (opts.jobKey !== undefined) body.jobKey = opts.jobKey;
  const files = buildInputs(template, opts.input);

  // Open the event stream before asking for the run, so that no change of the run is missed.
  const early = opts.wait ? await EarlyEvents.open(ctx.client) : undefined;
  let job: JobView;
  try {
    job = (files.length > 0 ? await ctx.client.multipart<{ job: JobView }>('/api/jobs', body, files) : await ctx.client.json<{ job: JobView }>('POST', '/api/jobs', body)).job;
  } catch (err) {
    early?.close();
    throw err;
  }
  ctx.out.result({ job }, () => submitted(job));
  if (!opts.wait) return EXIT.ok;
  return follow(ctx, job, early);
}

async function watch(ctx: Context, ref: string): Promise<number> {
  const jobId = await resolveJob(ctx.client, ref);
  const job = await getJob(ctx.client, jobId);
  if (!isActive(job.status)) {
    ctx.out.result({ job }, () => `job ${job.jobId} (${job.jobKey}) serial ${job.serial}: ${statusLine(job)}`);
    return exitCodeOf(job.status);
  }
  return follow(ctx, job);
}

export function runCommand(): Command {
  return clientCommand('run', 'start a new run of a template (with --wait: follow it until it ends)')
    .argument('<template>', 'the template (see `jobvisor templates`)')
    .addOption(new Option('--set <name=value>', 'a parameter, read by its type in the template (repeat for more)').argParser(collect).default([]))
    .addOption(new Option('--params <file.json>', 'parameters from a JSON object (--set values go on top)'))
    .addOption(new Option('--input <name=path>', 'an input file of the template, uploaded with the request (repeat for more)').argParser(collect).default([]))
    .addOption(new Option('--target <target>', 'where the run goes (default: the first target the template allows)'))
    .addOption(new Option('--size <size>', 'sequential or parallel (default: the template\'s first)'))
    .addOption(new Option('--job-key <key>', 'which of your jobs this run belongs to (default: the template\'s name)'))
    .addOption(new Option('--wait', 'follow the run until it ends (a live progress bar on a terminal) and exit by its outcome'))
    .action(act((ctx, template: string, opts: RunOptions) => run(ctx, template, opts)));
}

export function watchCommand(): Command {
  return clientCommand('watch', 'follow a job\'s current run live until it ends, and exit by its outcome')
    .argument('<job>', 'a job id or job key')
    .action(act((ctx, ref: string) => watch(ctx, ref)));
}
