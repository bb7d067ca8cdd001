import { describe, expect, it } from 'vitest';
import { ConfigError, envName, loadConfig } from '../src/shared/config.js';
import { delay } from '../src/shared/retry.js';
import { Slots } from '../src/supervisor/slots.js';

describe('slots', () => {
  it('serves waiters first in, first out, and tells each its place', async () => {
    const slots = new Slots('cpu', 1);
    const release = await slots.acquire();
    const positions: Record<string, number[]> = { a: [], b: [] };
    const order: string[] = [];
    const a = slots.acquire(undefined, (p) => positions.a!.push(p)).then((r) => (order.push('a'), r));
    const b = slots.acquire(undefined, (p) => positions.b!.push(p)).then((r) => (order.push('b'), r));
    release();
    (await a)();
    (await b)();
    expect(order).toEqual(['a', 'b']);
    expect(positions).toEqual({ a: [1], b: [2, 1] });
    expect(slots.used).toBe(0);
  });

  it('serves owners in turn (round-robin), each owner first in, first out, and tells each waiter its place in that order', async () => {
    const slots = new Slots('cpu', 1);
    const release = await slots.acquire(undefined, undefined, 1, 'alice');
    const order: string[] = [];
    const places: Record<string, number[]> = {};
    const wait = (owner: string, name: string) =>
      slots.acquire(undefined, (p) => (places[name] ??= []).push(p), 1, owner).then((r) => {
        order.push(name);
        r();
      });
    const waits = [wait('alice', 'a1'), wait('alice', 'a2'), wait('alice', 'a3'), wait('bob', 'b1'), wait('carol', 'c1'), wait('bob', 'b2')];
    // alice had the slot last: bob, then carol, then alice, then bob again ...
    expect([places.a1?.at(-1), places.b1?.at(-1), places.c1?.at(-1), places.a2?.at(-1), places.b2?.at(-1), places.a3?.at(-1)]).toEqual([3, 1, 2, 5, 4, 6]);
    release();
    await Promise.all(waits);
    expect(order).toEqual(['b1', 'c1', 'a1', 'b2', 'a2', 'a3']);
    expect(slots.used).toBe(0);
    expect(slots.waiting).toBe(0);
  });

  it('drops an aborted waiter from the queue and moves the others up', async () => {
    const slots = new Slots('cpu', 1);
    const release = await slots.acquire();
    const abort = new AbortController();
    const first = slots.acquire(abort.signal);
    const seen: number[] = [];
    const second = slots.acquire(undefined, (p) => seen.push(p));
    abort.abort(new Error('canceled'));
    await expect(first).rejects.toThrow('canceled');
    expect(seen).toEqual([2, 1]);
    release();
    (await second)();
    expect(slots.used).toBe(0);
  });

  it('releases a slot once however often release is called', async () => {
    const slots = new Slots('cpu', 2);
    const r = await slots.acquire();
    r();
    r();
    expect(slots.used).toBe(0);
  });
});

describe('retry delay', () => {
  const policy = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
  it('grows exponentially up to its cap, with jitter on both sides', () => {
    expect([0, 1, 2, 3, 10].map((n) => delay(n, policy, () => 0.5))).toEqual([100, 200, 400, 800, 1000]);
    expect(delay(1, policy, () => 0)).toBe(100);
    expect(delay(1, policy, () => 1)).toBe(300);
  });
});

describe('configuration', () => {
  it('names the setting and what it accepts when a value is wrong', () => {
    expect(() => loadConfig({ JOBVISOR_SUPERVISOR_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ JOBVISOR_SUPERVISOR_PORT: 'eighty' })).toThrow(/supervisorPort \(JOBVISOR_SUPERVISOR_PORT\).*TCP port from 0 to 65535/);
    expect(() => loadConfig({ JOBVISOR_SLOTS_PARALLEL: '0' })).toThrow(/slotsParallel.*positive integer/);
    expect(() => loadConfig({ JOBVISOR_LOG_LEVEL: 'loud' })).toThrow(/logLevel.*one of fatal/);
  });

  it('binds to loopback by default and reads environment variables', () => {
    const c = loadConfig({ JOBVISOR_SLOTS_SEQUENTIAL: '3' });
    expect(c.serverHost).toBe('127.0.0.1');
    expect(c.supervisorHost).toBe('127.0.0.1');
    expect(c.slotsSequential).toBe(3);
    expect(envName('agentStartTimeoutMs')).toBe('JOBVISOR_AGENT_START_TIMEOUT_MS');
  });
});

describe('configuration file', () => {
  it('reads settings from a JSON file, lets the environment win, and refuses unknown settings', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ slotsSequential: 2, serverPort: 9000 }));
    expect(loadConfig({}, file)).toMatchObject({ slotsSequential: 2, serverPort: 9000 });
    expect(loadConfig({ JOBVISOR_SERVER_PORT: '9001' }, file).serverPort).toBe(9001);
    writeFileSync(file, JSON.stringify({ slotSequential: 2 }));
    expect(() => loadConfig({}, file)).toThrow(/unknown setting "slotSequential"/);
    writeFileSync(file, '{ not json');
    expect(() => loadConfig({}, file)).toThrow(/is not valid JSON/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('weighted slots', () => {
  it('gives a waiter all the slots it asks for, in order, never more than the capacity', async () => {
    const slots = new Slots('cpu', 2);
    const one = await slots.acquire();
    const order: string[] = [];
    const big = slots.acquire(undefined, undefined, 2).then((r) => (order.push('big'), r));
    const small = slots.acquire().then((r) => (order.push('small'), r));
    await Promise.resolve();
    expect(order).toEqual([]);
    one();
    const releaseBig = await big;
    expect(slots.used).toBe(2);
    releaseBig();
    (await small)();
    expect(order).toEqual(['big', 'small']);
    const capped = await slots.acquire(undefined, undefined, 8);
    expect(slots.used).toBe(2);
    capped();
    expect(slots.used).toBe(0);
  });
});
