/**
 * `fetch` over a Unix socket (the supervisor's `supervisorSocket`, when the server's
 * supervisorUrl is `unix:<path>`): Node's own fetch cannot take a socket path without the
 * undici package, so this speaks HTTP/1.1 with node:http and answers a WHATWG Response, with
 * the same body streaming and abort signal the SupervisorClient relies on.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** Statuses whose Response has no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

export function unixFetch(socketPath: string): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = http.request({ socketPath, method: init.method ?? 'GET', path: url.pathname + url.search, headers, signal: init.signal ?? undefined });
      req.once('error', reject);
      req.once('response', (res) => {
        const answered = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answered.append(name, v);
        }
        const status = res.statusCode ?? 502;
        if (NULL_BODY.has(status)) res.resume();
        const body = NULL_BODY.has(status) ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: answered }));
      });
      const body = init.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else if (body instanceof ReadableStream) Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>).once('error', (err) => req.destroy(err)).pipe(req);
      else reject(new TypeError('unixFetch sends string, bytes or stream bodies only'));
    });
}
