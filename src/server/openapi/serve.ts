/**
 * `GET /api/openapi.json` (the document, built once) and the reference page `GET /api/docs`:
 * swagger-ui from the swagger-ui-dist package, served from this server (no CDN: works offline),
 * under a Content-Security-Policy that allows only this origin (and `data:` images, which
 * swagger-ui's style sheet holds its icons as). The page's own script is a file, not inline.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Router from '@koa/router';
import { PACKAGE_ROOT } from '../../shared/config.js';
import { JobvisorError } from '../../shared/errors.js';
import { buildOpenApiDocument, type OpenApiDocument } from './document.js';

export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SWAGGER_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The page's files: swagger-ui's own, by name, and its start script. */
const ASSETS: Record<string, { file?: string; text?: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
  'favicon-16x16.png': { file: 'favicon-16x16.png', type: 'image/png' },
  // validatorUrl null: swagger-ui would otherwise send the document to validator.swagger.io.
  'start.js': {
    text: "window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout' });\n",
    type: 'text/javascript; charset=utf-8',
  },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jobvisor API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
`;

let cached: OpenApiDocument | undefined;
/** The document, built on first use. */
export function openApiDocument(): OpenApiDocument {
  cached ??= buildOpenApiDocument((JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  return cached;
}

export function addOpenApiRoutes(router: Router): void {
  router.get('/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = openApiDocument();
  });
  router.get('/docs', (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
  });
  router.get('/docs/:asset', (ctx) => {
    const name = ctx.params.asset ?? '';
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new JobvisorError('ROUTE_NOT_FOUND', `no file ${name} of the reference page`);
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    if (asset.text !== undefined) {
      ctx.body = asset.text;
      return;
    }
    const file = path.join(SWAGGER_DIR, asset.file ?? name);
    ctx.length = statSync(file).size;
    ctx.body = createReadStream(file);
  });
}
