/**
 * Every route of the public API, called without a login, as a user and as an admin, against the
 * table of who may call it (src/server/access.ts). The router's own list of routes is compared
 * with the table first: a route missing from the table (or a table row without a route) fails.
 * An admin-only view of a user route (`GET /api/jobs?all=1`) is checked too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ACCESS, type Access } from '../src/server/access.js';
import { createRouter, type RouteDeps } from '../src/server/routes.js';
import { createMetricsRouter, type MetricsRouteDeps } from '../src/server/metricsRoutes.js';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

/** The routes the router has, as "METHOD /path" (HEAD goes with GET). */
function routerRoutes(): string[] {
  const router = createRouter({ config: { maxBodyBytes: 1024 } } as unknown as RouteDeps);
  const metrics = createMetricsRouter({ config: {} } as unknown as MetricsRouteDeps);
  return [...router.stack, ...metrics.stack].flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${layer.path}`)).sort();
}

// ':username' is bob, whom no token here belongs to: an admin's calls may reset his password or delete him.
const SAMPLE: Record<string, string> = { ':jobId': '0000000000000000', ':target': 'local', '*path': 'x.txt', ':asset': 'start.js', ':scheduleId': '0000000000000000', ':username': 'bob', ':tokenId': '0000000000000000' };
const concrete = (p: string) => p.replace(/:jobId|:target|:scheduleId|:asset|:username|:tokenId|\*path/g, (k) => SAMPLE[k] ?? k);

describe('who may call each route', () => {
  let jv: Jobvisor;
  let tokens: Record<'user' | 'admin', () => Promise<string>>;

  beforeAll(async () => {
    jv = await startJobvisor();
    const admin = await jv.login();
    await jv.addUser(admin, 'alice');
    await jv.addUser(admin, 'bob');
    // A fresh login per call: a logout revokes the token it is called with.
    tokens = {
      user: async () => (await jv.login('alice', 'alice-password')).token!,
      admin: async () => (await jv.login()).token!,
    };
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('has every route of the router in the table, and no row without a route', () => {
    expect(routerRoutes()).toEqual(Object.keys(ROUTE_ACCESS).sort());
  });

  async function call(route: string, token: string | undefined): Promise<number> {
    const [method, p] = route.split(' ') as [string, string];
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (method === 'POST') headers['content-type'] = 'application/json';
    const abort = new AbortController();
    const res = await fetch(jv.serverUrl + concrete(p), { method, headers, body: method === 'POST' ? '{}' : undefined, signal: abort.signal });
    abort.abort(); // event streams stay open otherwise
    return res.status;
  }

  it('answers each route by the table: open to all, 401 without a login, 403 to a user on admin routes', async () => {
    const seen: [string, string, number][] = [];
    for (const route of Object.keys(ROUTE_ACCESS)) {
      for (const who of ['nobody', 'user', 'admin'] as const) {
        const status = await call(route, who === 'nobody' ? undefined : await tokens[who]());
        seen.push([route, who, status]);
      }
    }
    const wrong = seen.filter(([route, who, status]) => {
      const access = ROUTE_ACCESS[route as keyof typeof ROUTE_ACCESS] as Access;
      if (who === 'nobody') return access === 'open' ? status === 401 || status === 403 : status !== 401;
      if (who === 'user') return access === 'admin' ? status !== 403 : status === 401 || status === 403;
      return status === 401 || status === 403;
    });
    expect(wrong).toEqual([]);
    expect(seen.length).toBe(Object.keys(ROUTE_ACCESS).length * 3);
  });

  it('lets only admins see every user\'s jobs', async () => {
    const get = async (token: string) => (await fetch(`${jv.serverUrl}/api/jobs?all=1`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect([await get(await tokens.user()), await get(await tokens.admin())]).toEqual([403, 200]);
  });
});
