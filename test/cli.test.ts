import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/jobvisor.js';

describe('the jobvisor command', () => {
  it('stops at start-up with a message naming a wrong setting and what it accepts', () => {
    for (const command of ['server', 'supervisor']) {
      const r = spawnSync(process.execPath, [CLI, command], { env: { PATH: process.env.PATH, JOBVISOR_SLOTS_PARALLEL: 'lots' }, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('setting slotsParallel (JOBVISOR_SLOTS_PARALLEL) = "lots" is not valid: expected a positive integer');
    }
  });

  it('says how to use it when the subcommand is unknown', () => {
    const r = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: jobvisor <start\|server\|supervisor\|agent>/);
  });
});
