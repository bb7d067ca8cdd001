/** OpAbandoned (supervisor/opLoop.ts) is made without a stack, and leaves every other error's stack as it was. */
import { describe, expect, it } from 'vitest';
import { OpAbandoned } from '../src/supervisor/opLoop.js';

describe('OpAbandoned', () => {
  it('is an Error with its message and name, and no stack frames', () => {
    const e = new OpAbandoned('the run is no longer pending');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(OpAbandoned);
    expect([e.name, e.message]).toEqual(['OpAbandoned', 'the run is no longer pending']);
    expect(e.stack ?? '').not.toMatch(/\n\s+at /);
  });

  it('leaves the stacks of other errors alone', () => {
    const limit = Error.stackTraceLimit;
    void new OpAbandoned('x');
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('y').stack).toMatch(/\n\s+at /);
  });
});
