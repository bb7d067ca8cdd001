/**
 * How the agent's process engine batches a run's log lines and progress (by counts and content,
 * not timing): the first line after a quiet spell goes at once, later ones wait for the run's
 * interval or its end, and a run's lines never come as more batches than the interval allows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CmdGroups } from '../src/agent/cmdGroups.js';
import { ProcessEngine } from '../src/agent/engines/process.js';
import { createLogger } from '../src/shared/logger.js';
import type { Update } from '../src/shared/protocol.js';
import { waitFor } from './helpers/wait.js';

const log = createLogger('test', 'silent');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function engine(flushMs: number) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-batches-'));
  dirs.push(root);
  const updates: Update[] = [];
  let seq = 0;
  const processes = new ProcessEngine({
    push: (_jobId, _serial, update) => {
      updates.push(update);
      return ++seq;
    },
    env: { PATH: process.env.PATH },
    groups: new CmdGroups(path.join(root, 'groups'), log),
    log,
    flushMs,
  });
  const start = (script: string) =>
    processes.start({ kind: 'run', jobId: 'j1', serial: 1, runDir: path.join(root, 'run'), argv: ['sh', '-c', script], parameters: {}, progress: { kind: 'stdout', pattern: '^PROGRESS\\s+([0-9.eE+-]+)' }, timeLimitSeconds: 30 });
  const exited = () => updates.some((u) => u.kind === 'exit');
  return { processes, updates, start, exited };
}

const logs = (updates: Update[]) => updates.flatMap((u) => (u.kind === 'log' ? [u.lines] : []));

describe('process engine log batches', () => {
  it('sends the first line of a quiet run at once, not at the end of its interval', async () => {
    const e = engine(60_000);
    await e.start('echo first; sleep 1; echo second');
    await waitFor(() => logs(e.updates).length > 0 || e.exited(), { timeoutMs: 10_000, what: 'the first line' });
    expect(e.exited()).toBe(false);
    expect(logs(e.updates)).toEqual([['first']]);
    await waitFor(e.exited, { timeoutMs: 10_000, what: 'the run to end' });
    // The second line came within the interval: it waited, and went with the run's end.
    expect(logs(e.updates)).toEqual([['first'], ['second']]);
    expect(e.updates.at(-1)?.kind).toBe('exit');
  });

  it('sends lines that follow each other closely as one batch per interval, progress with them', async () => {
    const e = engine(60_000);
    await e.start('echo a; sleep 0.5; for i in 1 2 3 4 5; do echo "PROGRESS 0.$i"; sleep 0.05; done; echo z');
    await waitFor(e.exited, { timeoutMs: 10_000, what: 'the run to end' });
    expect(logs(e.updates)).toEqual([['a'], ['PROGRESS 0.1', 'PROGRESS 0.2', 'PROGRESS 0.3', 'PROGRESS 0.4', 'PROGRESS 0.5', 'z']]);
    expect(e.updates.filter((u) => u.kind === 'progress')).toEqual([{ kind: 'progress', value: 0.5 }]);
  });
});
