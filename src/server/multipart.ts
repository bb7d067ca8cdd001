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

export function readMultipart(ctx: Context, limits: MultipartLimits, handlers: MultipartHandlers): Promise<void> {
  if (!isMultipart(ctx)) throw new JobvisorError('UNSUPPORTED_MEDIA_TYPE', 'request body must be multipart/form-data');
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: ctx.req.headers,
      limits: { fileSize: limits.maxUploadBytes + 1, files: limits.maxUploadParts, parts: limits.maxUploadParts, fields: limits.maxUploadParts, fieldSize: limits.maxBodyBytes, fieldNameSize: 200 },
    });
  } catch (err) {
    throw invalid(`the multipart request cannot be read: ${(err as Error).message}`);
  }
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    let failed: unknown;
    let chain: Promise<void> = Promise.resolve();
    let closed = false;
    const fail = (err: unknown) => {
      failed ??= err;
    };
    const step = (fn: () => Promise<void> | void) => {
      chain = chain.then(async () => {
        if (failed === undefined) await fn();
      }).catch(fail);
    };
    const done = () => {
      if (closed) return;
      closed = true;
      void chain.then(() => (failed === undefined ? resolve() : reject(failed)));
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new JobvisorError('BODY_TOO_LARGE', `field ${name} is larger than ${limits.maxBodyBytes} bytes`));
      step(() => handlers.onField(name, value));
    });
    bb.on('file', (field, stream, info) => {
      let cut = false;
      stream.on('error', () => {
        cut = true;
      });
      chain = chain
        .then(async () => {
          if (failed !== undefined) return;
          try {
            await handlers.onFile({ field, fileName: info.filename ?? '', mediaType: info.mimeType || 'application/octet-stream', stream });
          } catch (err) {
            throw cut ? invalid(`file part ${field} was cut off before its end`) : err;
          }
        })
        .catch(fail)
        .finally(() => stream.resume());
    });
    const tooMany = () => fail(invalid(`a multipart request holds at most ${limits.maxUploadParts} parts (maxUploadParts)`));
    bb.on('partsLimit', tooMany);
    bb.on('filesLimit', tooMany);
    bb.on('fieldsLimit', tooMany);
    bb.on('error', (err: Error) => {
      fail(invalid(`the multipart request is malformed: ${err.message}`));
      req.unpipe(bb);
      req.resume();
      done();
    });
    bb.on('close', done);
    req.on('close', () => {
      if (!req.complete) {
        fail(invalid('the request was cut off before its end'));
        bb.destroy(invalid('the request was cut off before its end'));
        done();
      }
    });
    req.pipe(bb);
  });
}
