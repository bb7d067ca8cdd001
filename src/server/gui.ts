/**
 * Serves the web GUI: the static files Vite built into dist/gui, with index.html for every
 * other page path (the GUI routes itself), under a Content-Security-Policy that allows only
 * this origin's own scripts and styles (no inline script) and API calls to this origin.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Context, Next } from 'koa';
import { PACKAGE_ROOT } from '../shared/config.js';

export const GUI_DIR = path.join(PACKAGE_ROOT, 'dist', 'gui');

export const GUI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

function file(dir: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const full = path.resolve(dir, '.' + rel);
  if (full !== dir && !full.startsWith(dir + path.sep)) return undefined;
  return existsSync(full) && statSync(full).isFile() ? full : undefined;
}

export function serveGui(dir = GUI_DIR) {
  return async function gui(ctx: Context, next: Next): Promise<void> {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.path === '/api' || ctx.path.startsWith('/api/')) return next();
    const index = path.join(dir, 'index.html');
    const found = file(dir, ctx.path) ?? (path.extname(ctx.path) === '' && existsSync(index) ? index : undefined);
    if (!found) return next();
    ctx.set('Content-Security-Policy', GUI_CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', found.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.type = TYPES[path.extname(found)] ?? 'application/octet-stream';
    ctx.length = statSync(found).size;
    ctx.body = createReadStream(found);
  };
}
