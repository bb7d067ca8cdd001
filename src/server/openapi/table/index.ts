/**
 * Every route of the public API, described (describe.ts). Keyed like the access table
 * (src/server/access.ts): a route added there and not here fails `npm run typecheck` on the
 * `satisfies` below, naming the route; test/openapi.test.ts compares this with the router.
 */
import type { RouteKey } from '../../access.js';
import type { RouteDoc } from '../describe.js';
import { ACCOUNT_ROUTES } from './accounts.js';
import { JOB_ROUTES } from './jobs.js';
import { OPERATION_ROUTES } from './operations.js';
import { PLACE_ROUTES } from './places.js';
import { PLAN_ROUTES } from './plans.js';
import { STREAM_ROUTES } from './stream.js';

export const ROUTE_DOCS = {
  ...ACCOUNT_ROUTES,
  ...JOB_ROUTES,
  ...OPERATION_ROUTES,
  ...PLACE_ROUTES,
  ...PLAN_ROUTES,
  ...STREAM_ROUTES,
} satisfies Record<RouteKey, RouteDoc>;
