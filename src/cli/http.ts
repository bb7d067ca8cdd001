/**
 * The CLI's HTTP client: it speaks the public API only, as any user's script would, with the
 * token as `authorization: Bearer`. An error answer becomes a CliError with the API's code;
 * a server that cannot be reached becomes CONNECTION_FAILED (exit code 4).
 */
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { CliError, EXIT, apiError } from './exitCodes.js';

export interface ClientOptions {
  url: string;
  token: string | undefined;
  /** Each request (not a stream or download) gives up after this long. */
  timeoutMs: number;
}

/** A file to send in a multipart request, under the form field `field`. */
export interface FilePart {
  field: string;
  file: string;
}

export class ApiClient {
  constructor(readonly options: ClientOptions) {}

  get url(): string {
    return this.options.url;
  }

  /** Throws NOT_LOGGED_IN when no token is known. */
  requireToken(): string {
    if (!this.options.token) throw new CliError('NOT_LOGGED_IN', `not logged in to ${this.url}: run \`jobvisor login\` (or give --token / JOBVISOR_TOKEN)`, EXIT.unauthenticated);
    return this.options.token;
  }

  async json<T>(method: string, apiPath: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.requireToken()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.send(apiPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.options.timeoutMs) });
    return (await readAnswer(res)) as T;
  }

  /** A request without a token (login). */
  async open<T>(method: string, apiPath: string, body: unknown): Promise<T> {
    const res = await this.send(apiPath, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.options.timeoutMs) });
    return (await readAnswer(res)) as T;
  }

  /** A multipart request: a `request` part holding `json`, then one streamed file part per file. */
  async multipart<T>(apiPath: string, json: unknown, files: FilePart[]): Promise<T> {
    const form = new FormData();
    form.append('request', JSON.stringify(json));
    for (const f of files) {
      const blob = await openAsBlob(f.file, { type: mediaTypeOf(f.file) }).catch((err: unknown) => {
        throw new CliError('USAGE', `--input ${f.field}=${f.file}: ${(err as Error).message}`, EXIT.usage);
      });
      form.append(f.field, blob, path.basename(f.file));
    }
    const res = await this.send(apiPath, { method: 'POST', headers: { authorization: `Bearer ${this.requireToken()}` }, body: form });
    return (await readAnswer(res)) as T;
  }

  /** A GET whose answer body is read as a stream by the caller (downloads, the event stream). */
  async stream(apiPath: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    const res = await this.send(apiPath, { method: 'GET', headers: { ...headers, authorization: `Bearer ${this.requireToken()}` }, signal });
    if (!res.ok) await readAnswer(res);
    return res;
  }

  private async send(apiPath: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + apiPath, init);
    } catch (err) {
      throw connectionError(this.url, err);
    }
  }
}

/** The parsed JSON of a 2xx answer (null for 204); a CliError with the API's code otherwise. */
async function readAnswer(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      if (res.ok) throw new CliError('BAD_ANSWER', `the server answered ${res.status} with a body that is not JSON (is this a jobvisor server?)`, EXIT.refused);
    }
  }
  if (res.ok) return body;
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string') return Promise.reject(apiError(res.status, error.code, String(error.message ?? ''), error.details));
  return Promise.reject(apiError(res.status, `HTTP_${res.status}`, `the server answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`));
}

export function connectionError(url: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError('CONNECTION_FAILED', `${url} did not answer in time`, EXIT.connection);
  const why = e.cause?.message ?? e.cause?.code ?? e.message;
  return new CliError('CONNECTION_FAILED', `cannot reach ${url}: ${why}`, EXIT.connection);
}

const MEDIA_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdb': 'chemical/x-pdb',
  '.cif': 'chemical/x-cif',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.zip': 'application/zip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/** A file's media type by its extension (the server checks extension and type against the input's `accept`). */
export function mediaTypeOf(file: string): string {
  return MEDIA_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}
