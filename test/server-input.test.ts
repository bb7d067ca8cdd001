/**
 * Bad JSON shapes through the whole stack (server and a real supervisor): answered 400 by the
 * server before anything is forwarded, and nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

describe('bad JSON shapes with a real supervisor', () => {
  let jv: Jobvisor;
  let alice: Client;

  beforeAll(async () => {
    jv = await startJobvisor();
    alice = await jv.addUser(await jv.login(), 'alice');
  });
  afterAll(async () => {
    await jv?.stop();
  });

  it('answers 400 INVALID_INPUT to 50,000-deep parameters, a __proto__ key and a lone surrogate, and queues nothing', async () => {
    const deep = '['.repeat(50_000) + ']'.repeat(50_000);
    const cases: [string, RegExp][] = [
      [`{"template":"quick","parameters":{"samples":${deep}}}`, /nested more than 64 levels deep/],
      ['{"template":"quick","parameters":{"__proto__":{"samples":1000}}}', /key "__proto__" is not allowed/],
      ['{"template":"quick","jobKey":"k1","parameters":{"samples":1000,"batches":1},"options":{"note":"\\ud800"}}', /lone UTF-16 surrogate/],
    ];
    for (const [body, message] of cases) {
      const r = await alice.post('/api/jobs', body);
      expect([body.slice(0, 60), r.status, r.body.error?.code]).toEqual([body.slice(0, 60), 400, 'INVALID_INPUT']);
      expect(r.body.error.message).toMatch(message);
    }
    expect((await alice.get('/api/jobs')).body.jobs).toEqual([]);
    expect((await alice.get('/api/health')).body).toEqual({ ok: true, supervisor: 'up' });
  });
});
