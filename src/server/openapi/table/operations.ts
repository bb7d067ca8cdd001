/** Operating a site: liveness and readiness, Prometheus metrics, the templates folder, the worker bundle. */
import { LivenessAnswer, ReadinessAnswer } from '../../../shared/metricsApi.js';
import { AdminTemplatesAnswer, TemplatesReloadAnswer, TemplatesReloadBody } from '../../../shared/templatesApi.js';
import { op } from '../describe.js';

export const OPERATION_ROUTES = {
  'GET /api/health/live': op({ summary: 'Liveness: the server process answers', tags: ['health'], answers: { 200: LivenessAnswer }, local: true }),
  'GET /api/health/ready': op({
    summary: 'Readiness: the supervisor answers and its database works (503 with which part failed and why)',
    tags: ['health'],
    answers: { 200: ReadinessAnswer, 503: { description: 'Not ready: which part failed, and why.', schema: ReadinessAnswer } },
    local: true,
  }),
  'GET /metrics': op({
    summary: "Prometheus metrics of the server and the supervisor (text exposition format); access by the site's metricsAccess setting",
    description: 'Served at `/metrics` on the server\'s address (outside `/api`). With `metricsAccess: "token"`, send `Authorization: Bearer <metricsToken>`.',
    tags: ['health'],
    answers: { 200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } } },
    local: true,
  }),
  'GET /api/admin/templates': op({ summary: 'The templates folder: templates loaded, last reload, every problem with its file and field', tags: ['admin'], answers: { 200: AdminTemplatesAnswer } }),
  'POST /api/admin/templates/reload': op({
    summary: 'Reload the templates folder now (bad templates are reported and skipped)',
    tags: ['admin'],
    body: TemplatesReloadBody,
    answers: { 200: TemplatesReloadAnswer },
  }),
  'GET /api/admin/agent-bundle': op({
    summary: 'The agent bundle (jobvisor-agent.mjs) for machines without a checkout (enrolled workers)',
    tags: ['workers'],
    answers: { 200: { description: 'The bundled agent, one JavaScript file.', content: { 'text/javascript': { schema: { type: 'string' } } } } },
    errors: ['FILE_NOT_FOUND'],
    local: true,
  }),
} as const;
