/**
 * The OpenAPI 3.1 document (src/server/openapi): it has every route of the router and nothing
 * else; it holds together (refs resolve, path parameters match, every schema compiles with ajv
 * 2020); the server serves it and a reference page that works offline under a self-only CSP;
 * and the answer check every test's client runs (helpers/openapiCheck.ts) catches a wrong answer.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type RouteDeps } from '../src/server/routes.js';
import { createMetricsRouter, type MetricsRouteDeps } from '../src/server/metricsRoutes.js';
import { buildOpenApiDocument } from '../src/server/openapi/document.js';
import { toOpenApiPath } from '../src/server/openapi/describe.js';
import { ROUTE_ACCESS } from '../src/server/access.js';
import { launchBrowser, newPage, screenshot } from './helpers/browser.js';
import { compileDocumentSchema, openApiProblem } from './helpers/openapiCheck.js';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

const doc = buildOpenApiDocument('0.0.0-test');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** The routes the Koa router has, as "METHOD /openapi/{path}" (HEAD goes with GET). */
function routerOperations(): string[] {
  const router = createRouter({ config: { maxBodyBytes: 1024 } } as unknown as RouteDeps);
  const metrics = createMetricsRouter({ config: {} } as unknown as MetricsRouteDeps);
  return [...new Set([...router.stack, ...metrics.stack].flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${toOpenApiPath(String(layer.path))}`)))].sort();
}

function documentOperations(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([p, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
}

/** Resolves a local `$ref` (`#/components/schemas/X`) in the document. */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

/** Every schema of every operation: parameters, bodies, answers, with where it is. */
function operationSchemas(): [string, object][] {
  const out: [string, object][] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      const where = `${m.toUpperCase()} ${p}`;
      for (const param of (op.parameters ?? []) as { name: string; schema: object }[]) out.push([`${where} parameter ${param.name}`, param.schema]);
      const body = op.requestBody as { content: Record<string, { schema: object }> } | undefined;
      for (const [type, c] of Object.entries(body?.content ?? {})) out.push([`${where} body ${type}`, c.schema]);
      for (const [status, r] of Object.entries(op.responses)) for (const [type, c] of Object.entries(r.content ?? {})) out.push([`${where} ${status} ${type}`, c.schema]);
    }
  }
  return out;
}

describe('the OpenAPI document', () => {
  it('has every route of the router, with the same methods, and nothing else', () => {
    const router = routerOperations();
    const documented = documentOperations();
    const missing = router.filter((r) => !documented.includes(r));
    const extra = documented.filter((d) => !router.includes(d));
    expect({ missing, extra }, 'routes of the router missing from the OpenAPI document (describe them in src/server/openapi/table/), and operations of no route').toEqual({ missing: [], extra: [] });
    expect(documented.length).toBe(Object.keys(ROUTE_ACCESS).length);
  });

  it('is OpenAPI 3.1 that holds together: refs resolve, path parameters match, operation ids are unique', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    const unresolved = refsIn(doc).filter((r) => resolve(r) === undefined);
    expect(unresolved).toEqual([]);
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [p, ops] of Object.entries(doc.paths)) {
      const inPath = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [m, op] of Object.entries(ops)) {
        const declared = ((op.parameters ?? []) as { in: string; name: string; required: boolean }[]).filter((x) => x.in === 'path');
        expect(declared.map((x) => x.name).sort(), `${m} ${p}`).toEqual(inPath);
        expect(declared.every((x) => x.required)).toBe(true);
        expect(Object.keys(op.responses).length, `${m} ${p} answers`).toBeGreaterThan(0);
        for (const [status, r] of Object.entries(op.responses)) expect(r.description, `${m} ${p} ${status}`).toBeTruthy();
        expect(op.security, `${m} ${p} security`).toBeDefined();
      }
    }
    for (const tag of Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((o) => o.tags))) {
      expect((doc.tags as { name: string }[]).map((t) => t.name)).toContain(tag);
    }
  });

  it('has schemas that all compile as JSON Schema 2020-12 (ajv)', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const failed: string[] = [];
    const all: [string, object][] = [...Object.entries(doc.components.schemas).map(([k, s]) => [`component ${k}`, s] as [string, object]), ...operationSchemas()];
    for (const [where, schema] of all) {
      try {
        compileDocumentSchema(schema, doc.components, ajv);
      } catch (err) {
        failed.push(`${where}: ${(err as Error).message}`);
      }
    }
    expect(failed).toEqual([]);
    expect(all.length).toBeGreaterThan(150);
  });

  it('says who may call each route, from the access table', () => {
    for (const [key, access] of Object.entries(ROUTE_ACCESS)) {
      const [method, p] = key.split(' ') as [string, string];
      const op = doc.paths[toOpenApiPath(p)]?.[method.toLowerCase()];
      expect(op?.['x-access'], key).toBe(access);
      expect(op?.security, key).toEqual(access === 'open' ? [] : [{ bearerAuth: [] }, { cookieAuth: [] }]);
      if (access !== 'open') expect(Object.keys(op?.responses ?? {}), key).toContain('401');
    }
  });

  it('describes bodies as the server reads them and error answers with their codes', () => {
    const run = doc.paths['/api/jobs']!.post!;
    const body = run.requestBody as { content: Record<string, { schema: { required?: string[]; properties?: Record<string, unknown> } }> };
    expect(Object.keys(body.content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(body.content['application/json']!.schema.required).toEqual(['template']);
    expect(run['x-error-codes']).toEqual(expect.arrayContaining(['UNKNOWN_TEMPLATE', 'UNAUTHENTICATED', 'INVALID_INPUT', 'SUPERVISOR_UNAVAILABLE']));
    expect(run.responses['400']!.description).toContain('UNKNOWN_TEMPLATE');
    expect(doc.paths['/api/events']!.get!.responses['200']!.content).toHaveProperty(['text/event-stream']);
    expect(doc.paths['/api/jobs/{jobId}/files/{path}']!.get!.responses['200']!.content).toHaveProperty(['application/octet-stream']);
  });
});

describe('the answer check of the test client', () => {
  it('fails an answer that does not match, naming the route, the status and what is wrong', () => {
    const problem = openApiProblem('GET', '/api/jobs/abc', 200, 'application/json', '{"job":{"jobId":3}}', { job: { jobId: 3 } });
    expect(problem).toMatch(/GET \/api\/jobs\/abc \(route GET \/api\/jobs\/:jobId\) answered 200 with a body that does not match/);
    expect(problem).toMatch(/\/job/);
  });

  it('fails a status the route does not list, and an error code its status does not have', () => {
    expect(openApiProblem('GET', '/api/jobs', 201, 'application/json', '{}', {})).toMatch(/answered 201, a status the document does not list/);
    const wrongCode = { error: { code: 'USER_EXISTS', message: 'x' } };
    expect(openApiProblem('GET', '/api/jobs/abc', 404, 'application/json', JSON.stringify(wrongCode), wrongCode)).toMatch(/does not match/);
    const rightCode = { error: { code: 'JOB_NOT_FOUND', message: 'no job abc' } };
    expect(openApiProblem('GET', '/api/jobs/abc', 404, 'application/json', JSON.stringify(rightCode), rightCode)).toBeUndefined();
  });

  it('leaves alone what is not a route of the API', () => {
    expect(openApiProblem('GET', '/api/nothing-here', 404, 'application/json', '{}', {})).toBeUndefined();
    expect(openApiProblem('GET', '/index.html', 200, 'text/html', '<html>', '<html>')).toBeUndefined();
  });
});

describe('serving the document and its reference page', () => {
  let jv: Jobvisor;
  let browser: Browser | undefined;
  beforeAll(async () => {
    jv = await startJobvisor();
  });
  afterAll(async () => {
    await browser?.close();
    await jv?.stop();
  });

  it('serves the document at /api/openapi.json to anyone', async () => {
    const res = await fetch(`${jv.serverUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const served = (await res.json()) as typeof doc;
    expect(served.openapi).toBe('3.1.0');
    expect(Object.keys(served.paths).sort()).toEqual(Object.keys(doc.paths).sort());
    expect(served.info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('serves the reference page and its files from this server, under a CSP that allows only this origin', async () => {
    const page = await fetch(`${jv.serverUrl}/api/docs`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/https?:|unsafe-inline|unsafe-eval/);
    const html = await page.text();
    expect(html).not.toMatch(/<script>|https?:\/\//);
    for (const asset of ['swagger-ui.css', 'swagger-ui-bundle.js', 'start.js']) {
      const res = await fetch(`${jv.serverUrl}/api/docs/${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(50);
    }
    const none = await fetch(`${jv.serverUrl}/api/docs/..%2Fpackage.json`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('shows every tag and operation in a real browser, with nothing blocked and nothing fetched from elsewhere', async () => {
    browser = await launchBrowser();
    const { page, context, errors } = await newPage(browser, jv.serverUrl);
    const elsewhere: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(jv.serverUrl) && !r.url().startsWith('data:')) elsewhere.push(r.url());
    });
    await page.goto('/api/docs');
    await page.locator('.opblock-tag').first().waitFor();
    await page.getByText('jobvisor API').first().waitFor();
    const operations = await page.locator('.opblock').count();
    expect(operations).toBe(documentOperations().length);
    await page.locator('.opblock-summary', { hasText: '/api/jobs/{jobId}/log' }).first().click();
    await page.getByText('nextOffset').first().waitFor();
    const full = await screenshot(page, 'openapi-docs');
    await page.screenshot({ path: full.replace(/\.png$/, '-top.png') });
    expect(errors).toEqual([]);
    expect(elsewhere).toEqual([]);
    await context.close();
  }, 90_000);
});
