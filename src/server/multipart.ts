/**
 * Reading `multipart/form-data` requests with busboy, streaming: each part is handed on in
 * order, a file part as a stream that is read while it arrives (never held whole). Limits:
 * parts and files (`maxUploadParts`), a field's size (`maxBodyBytes`), a file's size
 * (`maxUploadBytes`: the file stream stops one byte past it, so whoever reads it sees it is too
 * large). After a refusal the rest of the request is still read (and dropped), so the client
 * gets the answer.
 */
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Context } from 'koa';
import { JobvisorError } from '../shared/errors.js';

export interface MultipartLimits {
  maxUploadBytes: number;
  maxUploadParts: number;
  maxBodyBytes: number;
}

export interface FilePart {
  field: string;
  /** As the client named it (busboy keeps the last path element only); '' when none. */
  fileName: string;
  mediaType: string;
  stream: Readable;
}

export interface MultipartHandlers {
  onField(name: string, value: string): void;
  onFile(part: FilePart): Promise<void>;
}

export function isMultipart(ctx: Context): boolean {
  return ctx.request.is('multipart/form-data') === 'multipart/form-data';
}

const invalid = (why: string) => new JobvisorError('INVALID_MULTIPART', why);

/** Handles parts one after another; after the first failure (kept) later parts are only drained. */
class PartQueue {
  failed: unknown;
  private chain: Promise<void> = Promise.resolve();

  readonly fail = (err: unknown): void => {
    this.failed ??= err;
  };

  /** Runs `fn` after the parts before it (unless one failed), then `after` in any case. */
  add(fn: () => Promise<void> | void, after?: () => void): void {
    this.chain = this.chain
      .then(async () => {
        if (this.failed === undefined) await fn();
      })
      .catch(this.fail)
      .finally(after);
  }

  /** Resolves once every part was handled; rejects with the first failure. */
  settled(): Promise<void> {
    return this.chain.then(() => {
      if (this.failed !== undefined) throw this.failed;
    });
  }
}

function parser(ctx: Context, limits: MultipartLimits): busboy.Busboy {
  if (!isMultipart(ctx)) throw new JobvisorError('UNSUPPORTED_MEDIA_TYPE', 'request body must be multipart/form-data');
  try {
    return busboy({
      headers: ctx.req.headers,
      limits: { fileSize: limits.maxUploadBytes + 1, files: limits.maxUploadParts, parts: limits.maxUploadParts, fields: limits.maxUploadParts, fieldSize: limits.maxBodyBytes, fieldNameSize: 200 },
    });
  } catch (err) {
    throw invalid(`the multipart request cannot be read: ${(err as Error).message}`);
  }
}

export function readMultipart(ctx: Context, limits: MultipartLimits, handlers: MultipartHandlers): Promise<void> {
  const bb = parser(ctx, limits);
  const req = ctx.req;
  const queue = new PartQueue();
  bb.on('field', (name, value, info) => {
    if (info.valueTruncated) queue.fail(new JobvisorError('BODY_TOO_LARGE', `field ${name} is larger than ${limits.maxBodyBytes} bytes`));
    queue.add(() => handlers.onField(name, value));
  });
  bb.on('file', (field, stream, info) => {
    let cut = false;
    stream.on('error', () => {
      cut = true;
    });
    const part = { field, fileName: info.filename ?? '', mediaType: info.mimeType || 'application/octet-stream', stream };
    queue.add(
      () => handlers.onFile(part).catch((err: unknown) => {
        throw cut ? invalid(`file part ${field} was cut off before its end`) : err;
      }),
      () => stream.resume(),
    );
  });
  const tooMany = () => queue.fail(invalid(`a multipart request holds at most ${limits.maxUploadParts} parts (maxUploadParts)`));
  for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) bb.on(limit, tooMany);
  return new Promise((resolve, reject) => {
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      queue.settled().then(resolve, reject);
    };
    bb.on('error', (err: Error) => {
      queue.fail(invalid(`the multipart request is malformed: ${err.message}`));
      req.unpipe(bb);
      req.resume();
      done();
    });
    bb.on('close', done);
    req.on('close', () => {
      if (req.complete) return;
      queue.fail(invalid('the request was cut off before its end'));
      bb.destroy(invalid('the request was cut off before its end'));
      done();
    });
    req.pipe(bb);
  });
}
