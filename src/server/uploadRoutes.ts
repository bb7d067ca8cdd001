/**
 * Input files, server side: `POST /api/uploads` (multipart, one file part named `file`) and a
 * multipart `POST /api/jobs` (a part named `request` holding the JSON run request, first, then
 * one file part per template input, named after it). Each file is streamed on to the supervisor
 * as it arrives; when anything is refused, the uploads this request made are removed again.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { RunBody, type UploadView } from '../shared/api.js';
import { JobvisorError } from '../shared/errors.js';
import { parseInput } from '../shared/httpBody.js';
import { callerOf } from './auth.js';
import { readMultipart, type FilePart } from './multipart.js';
import type { RouteDeps } from './routes.js';

const UPLOAD_ID = /^[0-9a-f]{24}$/;

function limitsOf(deps: RouteDeps) {
  const c = deps.config;
  return { maxUploadBytes: c.maxUploadBytes, maxUploadParts: c.maxUploadParts, maxBodyBytes: c.maxBodyBytes };
}

async function sendFile(ctx: Context, deps: RouteDeps, part: FilePart, forInput?: { template: string; input: string }): Promise<UploadView> {
  const q = new URLSearchParams({ fileName: part.fileName || 'file', mediaType: part.mediaType });
  if (forInput) {
    q.set('template', forInput.template);
    q.set('input', forInput.input);
  }
  const answer = await deps.supervisor.upload({ path: `/uploads?${q.toString()}`, caller: callerOf(ctx) }, part.stream);
  return answer.body as UploadView;
}

/** Removes uploads a refused request made (best effort: what stays expires). */
async function removeAll(ctx: Context, deps: RouteDeps, ids: string[]): Promise<void> {
  for (const id of ids) {
    await deps.supervisor.request({ method: 'DELETE', path: `/uploads/${id}`, caller: callerOf(ctx) }).catch((err: unknown) => {
      deps.logger.warn({ uploadId: id, err: (err as Error).message }, 'upload of a refused request could not be removed');
    });
  }
}

export function addUploadRoutes(router: Router, deps: RouteDeps, auth: Middleware): void {
  router.post('/uploads', auth, async (ctx) => {
    let view: UploadView | undefined;
    try {
      await readMultipart(ctx, limitsOf(deps), {
        onField: (name) => {
          throw new JobvisorError('INVALID_MULTIPART', `unexpected field ${name}: send one file part named "file"`);
        },
        onFile: async (part) => {
          if (part.field !== 'file') throw new JobvisorError('INVALID_MULTIPART', `unexpected part ${part.field}: send one file part named "file"`);
          if (view) throw new JobvisorError('INVALID_MULTIPART', 'one file per upload');
          view = await sendFile(ctx, deps, part);
        },
      });
    } catch (err) {
      if (view) await removeAll(ctx, deps, [view.uploadId]);
      throw err;
    }
    if (!view) throw new JobvisorError('INVALID_MULTIPART', 'the request holds no file part named "file"');
    ctx.status = 201;
    ctx.body = view;
  });

  router.get('/uploads', auth, async (ctx) => {
    const answer = await deps.supervisor.request({ method: 'GET', path: '/uploads', caller: callerOf(ctx) });
    ctx.body = answer.body;
  });

  router.delete('/uploads/:uploadId', auth, async (ctx) => {
    const id = ctx.params.uploadId ?? '';
    if (!UPLOAD_ID.test(id)) throw new JobvisorError('UPLOAD_NOT_FOUND', `no upload ${id}`);
    await deps.supervisor.request({ method: 'DELETE', path: `/uploads/${id}`, caller: callerOf(ctx) });
    ctx.status = 204;
  });
}

/**
 * A multipart run request: the `request` part (the JSON run request) first, then the file
 * parts, each streamed to the supervisor as an upload for its input; then the run request with
 * those uploads as its `inputs`. Returns the run request to forward; on any refusal (then or
 * when the run is refused) `cleanup` removes the uploads made.
 */
export async function readRunWithFiles(ctx: Context, deps: RouteDeps): Promise<{ body: RunBody; cleanup: () => Promise<void> }> {
  let body: RunBody | undefined;
  const made: Record<string, string> = {};
  const cleanup = () => removeAll(ctx, deps, Object.values(made));
  try {
    await readMultipart(ctx, limitsOf(deps), {
      onField: (name, value) => {
        if (name !== 'request') throw new JobvisorError('INVALID_MULTIPART', `unexpected field ${name}: the run request goes in a part named "request", files in parts named after their inputs`);
        if (body) throw new JobvisorError('INVALID_MULTIPART', 'the request part is given twice');
        let json: unknown;
        try {
          json = JSON.parse(value);
        } catch (err) {
          throw new JobvisorError('BAD_JSON', `the request part is not valid JSON: ${(err as Error).message}`);
        }
        body = parseInput(RunBody, json, 'request part');
      },
      onFile: async (part) => {
        if (!body) throw new JobvisorError('INVALID_MULTIPART', 'the part named "request" (the JSON run request) must come before the files');
        if (part.fileName === '') return; // a form's file field left empty
        if (Object.hasOwn(made, part.field) || Object.hasOwn(body.inputs ?? {}, part.field)) throw new JobvisorError('INVALID_MULTIPART', `input ${part.field} is given twice`);
        const view = await sendFile(ctx, deps, part, { template: body.template, input: part.field });
        made[part.field] = view.uploadId;
      },
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  if (!body) throw new JobvisorError('INVALID_MULTIPART', 'the request holds no part named "request" (the JSON run request)');
  const withInputs = { ...body, inputs: { ...body.inputs, ...made } } as RunBody;
  return { body: withInputs, cleanup };
}
