/**
 * `jobvisor download JOB PATH [-o FILE] [--serial N]`: one file of a run, streamed from
 * GET /api/jobs/:jobId/files/<path> to FILE (default: the file's name in the current folder;
 * `-o -`: stdout). The bytes go to a temporary file renamed into place once whole, so a failed
 * download leaves nothing behind.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Option, type Command } from 'commander';
import { act, clientCommand, positiveInt, resolveJob, type Context } from '../context.js';
import { CliError, EXIT, usageError } from '../exitCodes.js';
import { connectionError } from '../http.js';

interface DownloadOptions {
  output?: string;
  serial?: number;
}

async function download(ctx: Context, ref: string, filePath: string, opts: DownloadOptions): Promise<void> {
  const parts = filePath.split('/').filter((p) => p !== '');
  if (parts.length === 0 || parts.some((p) => p === '..')) throw usageError(`PATH ${JSON.stringify(filePath)}: a path inside the run folder (see \`jobvisor files\`)`);
  const jobId = await resolveJob(ctx.client, ref);
  const apiPath = `/api/jobs/${jobId}/files/${parts.map(encodeURIComponent).join('/')}${opts.serial ? `?serial=${opts.serial}` : ''}`;
  const res = await ctx.client.stream(apiPath);
  if (!res.body) throw new CliError('BAD_ANSWER', 'the answer has no body', EXIT.refused);
  const body = Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  if (opts.output === '-') {
    try {
      for await (const chunk of body) {
        bytes += (chunk as Buffer).length;
        if (!process.stdout.write(chunk as Buffer)) await once(process.stdout, 'drain');
      }
    } catch (err) {
      throw connectionError(ctx.client.url, err);
    }
    ctx.out.note(`${bytes} bytes of ${parts.join('/')}`);
    return;
  }
  const target = path.resolve(opts.output ?? (parts.at(-1) as string));
  const tmp = `${target}.${process.pid}.part`;
  try {
    await pipeline(body, counter, createWriteStream(tmp, { flags: 'wx' }));
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code) && code !== 'ECONNRESET') throw new CliError('CANNOT_WRITE', `cannot write ${target}: ${(err as Error).message}`, EXIT.usage);
    throw connectionError(ctx.client.url, err);
  }
  ctx.out.result({ jobId, path: parts.join('/'), file: target, bytes }, () => `${parts.join('/')}: ${bytes} bytes saved to ${target}`);
}

export function downloadCommand(): Command {
  return clientCommand('download', 'download a file of a run (streamed)')
    .argument('<job>', 'a job id or job key')
    .argument('<path>', 'the file\'s path in the run folder (see `jobvisor files`)')
    .addOption(new Option('-o, --output <file>', 'where to write it (default: its name in the current folder; - for stdout)'))
    .addOption(new Option('--serial <n>', 'the run to download from (default: the current run)').argParser(positiveInt('--serial')))
    .action(act((ctx, ref: string, filePath: string, opts: DownloadOptions) => download(ctx, ref, filePath, opts)));
}
