/**
 * The supervisor's upload routes (the server forwards to them, streaming): `POST /uploads`
 * takes the raw file as the request body, named by the query (`fileName`, `mediaType`, and for
 * a file of a multipart run request `template` and `input`); `GET /uploads`; `DELETE /uploads/:uploadId`.
 */
import type Router from '@koa/router';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { z } from 'zod';
import { JobvisorError } from '../shared/errors.js';
import { parseInput } from '../shared/httpBody.js';
import type { Template } from '../shared/template.js';
import type { Caller } from '../shared/types.js';
import type { UploadService } from './uploads.js';

export const UploadQuery = z.object({
  fileName: z.string().min(1).max(1024),
  mediaType: z.string().max(200).default('application/octet-stream'),
  template: z.string().min(1).max(64).optional(),
  input: z.string().min(1).max(64).optional(),
});

/** Reads a request body to its end, dropping it (at once when it has ended already). */
function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

export function addUploadRoutes(router: Router, uploads: UploadService, caller: (ctx: Context) => Caller, template: (name: string) => Template | undefined): void {
  router.post('/uploads', async (ctx) => {
    try {
      const c = caller(ctx);
      const q = parseInput(UploadQuery, ctx.query, 'query');
      let t: Template | undefined;
      if (q.template !== undefined) {
        t = template(q.template);
        if (!t) throw new JobvisorError('UNKNOWN_TEMPLATE', `no template named "${q.template}"`);
      }
      const view = await uploads.receive(c, ctx.req, { fileName: q.fileName, mediaType: q.mediaType, ...(t ? { template: t } : {}), ...(q.input !== undefined ? { input: q.input } : {}) });
      ctx.status = 201;
      ctx.body = view;
    } catch (err) {
      // Refused before (or while) reading the file: the answer goes once the body was read to its end,
      // as the server streaming it may not read an answer while it is still sending.
      await drain(ctx.req);
      throw err;
    }
  });
  router.get('/uploads', (ctx) => {
    ctx.body = { uploads: uploads.list(caller(ctx)) };
  });
  router.delete('/uploads/:uploadId', async (ctx) => {
    await uploads.remove(caller(ctx), ctx.params.uploadId ?? '');
    ctx.status = 204;
  });
}
