import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

describe('the server serves the built GUI', () => {
  let jv: Jobvisor;
  beforeAll(async () => {
    jv = await startJobvisor();
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('answers pages with index.html under a CSP that forbids inline scripts', async () => {
    for (const path of ['/', '/jobs/abc', '/admin']) {
      const r = await fetch(jv.serverUrl + path);
      expect([path, r.status]).toEqual([path, 200]);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(await r.text()).toContain('<div id="app">');
    }
  });

  it('serves bundled assets with a long cache, and never a file outside the GUI folder', async () => {
    const html = await (await fetch(jv.serverUrl + '/')).text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const r = await fetch(jv.serverUrl + asset);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toContain('immutable');
    for (const path of ['/..%2F..%2Fpackage.json', '/assets/..%2F..%2F..%2Fpackage.json', '/missing.js']) {
      const bad = await fetch(jv.serverUrl + path);
      expect([path, bad.status]).toEqual([path, 404]);
    }
  });

  it('leaves the API to the API: unknown API routes answer JSON 404', async () => {
    const r = await fetch(jv.serverUrl + '/api/nothing-here');
    expect(r.status).toBe(404);
    expect((await r.json()).error.code).toBe('ROUTE_NOT_FOUND');
  });
});
