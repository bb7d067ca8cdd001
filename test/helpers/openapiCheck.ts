/**
 * Checks real answers against the OpenAPI document (src/server/openapi): the test client
 * (helpers/jobvisor.ts) hands every answer of a route of the document here, and a call whose
 * status the route does not list, or whose JSON body does not match the route's schema for that
 * status, fails with the route, the status and ajv's words. So every test that uses the client
 * checks the document too. Schemas are compiled on first use (ajv, JSON Schema 2020-12) and kept.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { ROUTE_ACCESS } from '../../src/server/access.js';
import { toOpenApiPath } from '../../src/server/openapi/describe.js';
import { openApiDocument } from '../../src/server/openapi/serve.js';

/**
 * Answers not checked, each with why (key: "METHOD /api/path status", the path as in access.ts).
 * Keep it short: an answer the document cannot describe is a bug of the document or the route.
 */
export const UNCHECKED_ANSWERS: Record<string, string> = {};

interface Route {
  key: string;
  method: string;
  openApiPath: string;
  pattern: RegExp;
  params: number;
}

let routes: Route[] | undefined;
/** The routes of the document as patterns, those with fewer parameters first (`/api/jobs/batch` before `/api/jobs/:jobId`). */
function routeList(): Route[] {
  routes ??= Object.keys(ROUTE_ACCESS)
    .map((key) => {
      const [method, koaPath] = key.split(' ') as [string, string];
      const source = koaPath.replace(/[.]/g, '\\.').replace(/\*[A-Za-z0-9_]+/g, '(.+)').replace(/:[A-Za-z0-9_]+/g, '([^/]+)');
      return { key, method, openApiPath: toOpenApiPath(koaPath), pattern: new RegExp(`^${source}/?$`), params: (koaPath.match(/[:*]/g) ?? []).length };
    })
    .sort((a, b) => a.params - b.params);
  return routes;
}

const DOCUMENT_ID = 'https://jobvisor.invalid/openapi.json';
let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/**
 * An ajv that knows the document's components (once, so each is compiled once), and compiles a
 * schema of the document with its `#/components/...` refs pointing there.
 */
export function compileDocumentSchema(schema: object, components: object = openApiDocument().components, into?: Ajv2020): ValidateFunction {
  const a = into ?? (ajv ??= new Ajv2020({ strict: false, validateFormats: false, allErrors: true }));
  if (!a.getSchema(DOCUMENT_ID)) a.addSchema({ $id: DOCUMENT_ID, components }, DOCUMENT_ID);
  const absolute = JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\/components\//g, `"$ref":"${DOCUMENT_ID}#/components/`)) as object;
  return a.compile(absolute);
}

function validatorFor(route: Route, status: string, schema: object): ValidateFunction {
  const id = `${route.key} ${status}`;
  let v = validators.get(id);
  if (!v) validators.set(id, (v = compileDocumentSchema(schema)));
  return v;
}

/** What is wrong with an answer by the document; undefined when nothing is (or the path is not a route of it). */
export function openApiProblem(method: string, url: string, status: number, contentType: string | null, text: string, body: unknown): string | undefined {
  const pathname = url.split('?')[0] ?? url;
  const route = routeList().find((r) => r.method === method && r.pattern.test(pathname));
  if (!route) return undefined;
  if (Object.hasOwn(UNCHECKED_ANSWERS, `${route.key} ${status}`)) return undefined;
  const operation = openApiDocument().paths[route.openApiPath]?.[method.toLowerCase()];
  if (!operation) return `OpenAPI: ${route.key} is not in the document`;
  const answer = operation.responses[String(status)] ?? (status >= 400 ? operation.responses.default : undefined);
  const where = `OpenAPI: ${method} ${pathname} (route ${route.key}) answered ${status}`;
  if (!answer) return `${where}, a status the document does not list for it (it lists ${Object.keys(operation.responses).join(', ')}); body: ${text.slice(0, 300)}`;
  const isJson = (contentType ?? '').startsWith('application/json');
  if (!answer.content) return text === '' ? undefined : `${where} with a body, where the document says no content; body: ${text.slice(0, 300)}`;
  const schema = answer.content['application/json']?.schema;
  if (!isJson) return undefined; // event streams, downloads, pages: their media type is described, not their bytes
  if (!schema) return `${where} with JSON, where the document lists ${Object.keys(answer.content).join(', ')}`;
  const validate = validatorFor(route, String(status), schema);
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`);
  return `${where} with a body that does not match the document: ${errors.join('; ')}; body: ${text.slice(0, 600)}`;
}
