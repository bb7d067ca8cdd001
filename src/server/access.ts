/**
 * Who may call each route of the public API: `open` (anyone), `user` (any logged-in user; the
 * supervisor then lets each see only their own jobs), `admin`. This table is the reference the
 * access test (test/routes-access.test.ts) calls every route with every role against; a route
 * the router has and this table lacks (or the other way round) fails it.
 */
export type Access = 'open' | 'user' | 'admin';

export const ROUTE_ACCESS = {
  'GET /api/health': 'open',
  'POST /api/auth/login': 'open',
  'POST /api/auth/logout': 'user',
  'GET /api/auth/me': 'user',
  'GET /api/users': 'admin',
  'POST /api/users': 'admin',
  'GET /api/templates': 'user',
  'POST /api/jobs': 'user',
  'POST /api/jobs/batch': 'user',
  'GET /api/jobs': 'user',
  'GET /api/jobs/:jobId': 'user',
  'DELETE /api/jobs/:jobId': 'user',
  'POST /api/jobs/:jobId/cancel': 'user',
  'GET /api/jobs/:jobId/log': 'user',
  'POST /api/jobs/:jobId/analysis': 'user',
  'GET /api/jobs/:jobId/files': 'user',
  'GET /api/jobs/:jobId/files/*path': 'user',
  'POST /api/session': 'user',
  'GET /api/agents': 'admin',
  'GET /api/slots': 'admin',
  'GET /api/events': 'user',
  'GET /api/targets': 'user',
  'POST /api/targets/:target/login': 'user',
  'GET /api/targets/:target/status': 'user',
  'GET /api/targets/:target/agent-log': 'user',
  'POST /api/cluster/login': 'user',
  'GET /api/cluster/status': 'user',
  'GET /api/cluster/agent-log': 'user',
  'POST /api/uploads': 'user',
  'GET /api/uploads': 'user',
  'DELETE /api/uploads/:uploadId': 'user',
  'GET /api/auth/me/settings': 'user',
  'PUT /api/auth/me/settings': 'user',
  'GET /api/admin/deliveries': 'admin',
  'GET /api/admin/lifetimes': 'admin',
  'GET /api/usage': 'user',
  'GET /api/admin/usage': 'admin',
  'POST /api/admin/retention/sweep': 'admin',
  // Schedules (server/scheduleRoutes.ts): a user's own; admins also others' (the supervisor checks whose).
  'POST /api/schedules': 'user',
  'GET /api/schedules': 'user',
  'GET /api/schedules/:scheduleId': 'user',
  'GET /api/schedules/:scheduleId/firings': 'user',
  'PATCH /api/schedules/:scheduleId': 'user',
  'POST /api/schedules/:scheduleId/pause': 'user',
  'POST /api/schedules/:scheduleId/resume': 'user',
  'DELETE /api/schedules/:scheduleId': 'user',
  'POST /api/pipelines': 'user',
  'GET /api/pipelines': 'user',
  'GET /api/pipelines/:pipelineId': 'user',
  'POST /api/pipelines/:pipelineId/cancel': 'user',
  'POST /api/pipelines/:pipelineId/resume': 'user',
  'DELETE /api/pipelines/:pipelineId': 'user',
  'POST /api/admin/enrollments': 'admin',
  'GET /api/admin/enrollments': 'admin',
  'DELETE /api/admin/enrollments/:enrollmentId': 'admin',
  'GET /api/admin/workers': 'admin',
  // The API's own description (server/openapi/): the OpenAPI document and its reference page.
  'GET /api/openapi.json': 'open',
  'GET /api/docs': 'open',
  'GET /api/docs/:asset': 'open',
} as const satisfies Record<string, Access>;

export type RouteKey = keyof typeof ROUTE_ACCESS;
