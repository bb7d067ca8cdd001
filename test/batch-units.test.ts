/** Units of batches: reading a batch body entry by entry. */
import { describe, expect, it } from 'vitest';
import { parseBatch } from '../src/shared/batch.js';
import { JobvisorError } from '../src/shared/errors.js';

function refusal(fn: () => unknown): JobvisorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof JobvisorError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('batch units', () => {
  it('reads every entry as a run request and names each bad one by its index', () => {
    expect(parseBatch({ runs: [{ template: 'a' }, { template: 'b', jobKey: 'k' }] }, 10).map((r) => r.template)).toEqual(['a', 'b']);
    const bad = refusal(() => parseBatch({ runs: [{ template: 'a' }, { template: 5 }, {}, { template: 'c', size: 'huge' }] }, 10));
    expect(bad.code).toBe('BATCH_INVALID');
    expect((bad.details as { errors: { index: number; code: string }[] }).errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'INVALID_INPUT'],
      [2, 'INVALID_INPUT'],
      [3, 'INVALID_INPUT'],
    ]);
    expect(refusal(() => parseBatch({ runs: [{ template: 'a' }, { template: 'a' }, { template: 'a' }] }, 2)).code).toBe('BATCH_TOO_LARGE');
    expect(refusal(() => parseBatch({ runs: [] }, 2)).code).toBe('INVALID_INPUT');
    expect(refusal(() => parseBatch({ runs: {} }, 2)).code).toBe('INVALID_INPUT');
    expect(refusal(() => parseBatch({ runs: [], more: 1 }, 2)).code).toBe('INVALID_INPUT');
  });
});
