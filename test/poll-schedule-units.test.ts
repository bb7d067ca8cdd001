/** Units of the batch engine's poll schedule (src/agent/engines/pollSchedule.ts): the delays between queue queries for a history of changes. */
import { describe, expect, it } from 'vitest';
import { nextPollDelay, pollDelays, pollPolicy } from '../src/agent/engines/pollSchedule.js';

const defaults = pollPolicy(5000);

describe('the poll schedule of cluster runs', () => {
  it('asks soon after a submission, then backs off x1.5 while nothing changes, up to the poll interval', () => {
    const quiet = [true, ...Array<boolean>(11).fill(false)];
    expect(pollDelays(quiet, defaults)).toEqual([200, 300, 450, 675, 1013, 1520, 2280, 3420, 5000, 5000, 5000, 5000]);
  });

  it('starts again from the short delay after each change (a state change, a job that started)', () => {
    expect(pollDelays([true, false, false, true, false, false, false], defaults)).toEqual([200, 300, 450, 200, 300, 450, 675]);
  });

  it('never waits past a run\'s expected end, nor less than the short delay for it', () => {
    expect(nextPollDelay(4000, false, defaults, 1200)).toBe(1200);
    expect(nextPollDelay(4000, false, defaults, 30)).toBe(200);
    expect(nextPollDelay(4000, false, defaults, 60_000)).toBe(5000);
    expect(nextPollDelay(null, true, defaults, 60_000)).toBe(200);
  });

  it('is a fixed interval with pollSoonMs at the interval or a backoff of 1', () => {
    expect(pollDelays([true, false, false], pollPolicy(1000, 5000))).toEqual([1000, 1000, 1000]);
    expect(pollDelays([true, false, false], pollPolicy(1000, 300, 1))).toEqual([300, 300, 300]);
    expect(pollDelays([true, false, false, false], pollPolicy(1000, 300, 2))).toEqual([300, 600, 1000, 1000]);
  });

  it('asks a quiet queue as few times as a fixed 5 s poll once the first seconds are past: 8 queries in the first 13 s, then one per 5 s', () => {
    const delays = pollDelays([true, ...Array<boolean>(40).fill(false)], defaults);
    const at = delays.map((_, i) => delays.slice(0, i + 1).reduce((a, b) => a + b, 0));
    expect(at.filter((t) => t <= 13_000)).toHaveLength(8);
    expect(at.filter((t) => t > 13_000 && t <= 63_000)).toHaveLength(10);
  });
});
