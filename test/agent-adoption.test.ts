/**
 * A restarted supervisor re-adopts the agents of the previous one, one driver call at a time; an
 * agent whose websocket comes back while earlier agents are still being adopted must count as
 * connected once it is adopted (the soak found it left 'disconnected' for good: runs waiting
 * for it then ended with "agent did not connect within 20 s").
 */
import { describe, expect, it } from 'vitest';
import type { AgentHandle, Driver, SavedAgent } from '../src/drivers/driver.js';
import { createLogger } from '../src/shared/logger.js';
import { AgentManager } from '../src/supervisor/agents.js';
import { SqliteJobStore } from '../src/supervisor/store/sqlite.js';

function handle(host: string): AgentHandle {
  return { host, pool: 'local', pid: null, exited: new Promise(() => undefined), stop: async () => undefined, logTail: async () => '' };
}

describe('re-adopting the agents of a previous supervisor', () => {
  it('counts an agent that reconnected while an earlier one was still being adopted as connected', async () => {
    const store = new SqliteJobStore(':memory:', () => ({ target: 'fast', driver: 'local', size: 'sequential' }));
    const row = { tokenHash: '00', user: 'alice', size: 'sequential' as const, driver: 'local', host: 'vm', pid: 1, lastSeq: 0, startedAt: 0 };
    // Adopted in the order the store lists them (by id): the slow one first.
    store.saveAgent({ ...row, id: 'a-slow-agent', target: 'slow' });
    store.saveAgent({ ...row, id: 'b-fast-agent', target: 'fast' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const driver = (adopt: (a: SavedAgent) => Promise<AgentHandle>) => ({ info: { name: 'x' }, adoptAgent: adopt }) as unknown as Driver;
    const drivers = new Map<string, Driver>([
      ['slow', driver(async () => (await gate, handle('slow')))],
      ['fast', driver(async () => handle('fast'))],
    ]);
    const agents = new AgentManager({
      store,
      drivers,
      supervisorUrl: () => 'ws://127.0.0.1:9',
      freeSlots: () => 1,
      startTimeoutMs: 1000,
      idleMs: 60_000,
      lostAfterMs: 60_000,
      log: createLogger('test', 'silent'),
      sendShutdown: async () => undefined,
      onAgentGone: () => undefined,
      onChange: () => undefined,
    });
    const adopting = agents.adoptSaved();
    await new Promise((r) => setTimeout(r, 20));
    agents.onConnect('b-fast-agent'); // its websocket is back before its turn to be adopted
    release();
    await adopting;
    expect(agents.get('b-fast-agent')?.state).toBe('connected');
    expect(agents.get('a-slow-agent')?.state).toBe('disconnected');
    for (const id of ['a-slow-agent', 'b-fast-agent']) clearTimeout(agents.get(id)?.lostTimer ?? undefined);
    store.close();
  });
});
