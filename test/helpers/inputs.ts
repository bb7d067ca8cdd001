/** Input files in tests: multipart run requests and uploads over real HTTP, and what the data folder holds of uploads. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Answer, Client } from './jobvisor.js';

export interface FileGiven {
  field: string;
  name: string;
  data: string | Buffer;
  type?: string;
}

async function send(client: Client, method: string, url: string, body: FormData | string, headers: Record<string, string> = {}): Promise<Answer> {
  const h: Record<string, string> = { ...headers };
  if (client.token) h.authorization = `Bearer ${client.token}`;
  const res = await fetch(client.baseUrl + url, { method, headers: h, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function form(request: unknown | undefined, files: FileGiven[], requestLast = false): FormData {
  const f = new FormData();
  if (request !== undefined && !requestLast) f.append('request', JSON.stringify(request));
  for (const file of files) f.append(file.field, new Blob([typeof file.data === 'string' ? file.data : new Uint8Array(file.data)], { type: file.type ?? 'text/plain' }), file.name);
  if (request !== undefined && requestLast) f.append('request', JSON.stringify(request));
  return f;
}

/** `POST /api/jobs` as multipart: the run request, then the files. */
export function runWithFiles(client: Client, request: unknown, files: FileGiven[]): Promise<Answer> {
  return send(client, 'POST', '/api/jobs', form(request, files));
}

export function postForm(client: Client, url: string, body: FormData): Promise<Answer> {
  return send(client, 'POST', url, body);
}

/** A raw multipart body (for malformed ones). */
export function postRaw(client: Client, url: string, body: string, contentType: string): Promise<Answer> {
  return send(client, 'POST', url, body, { 'content-type': contentType });
}

/** `POST /api/uploads` with one file. */
export function upload(client: Client, name: string, data: string | Buffer, type = 'text/plain'): Promise<Answer> {
  return postForm(client, '/api/uploads', form(undefined, [{ field: 'file', name, data, type }]));
}

/** Every file under `<dataDir>/uploads` (temp files included). */
export function uploadFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'uploads');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

export const PDB = ['HEADER    TEST', 'ATOM      1  N   MET A   1      11.104  13.207   2.100  1.00  0.00           N', 'ATOM      2  CA  MET A   1      12.560  13.207   2.100  1.00  0.00           C', 'END', ''].join('\n');
