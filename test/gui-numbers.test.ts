/**
 * The GUI's number formatting (gui/src/numbers.ts, no DOM): axis tick labels that show the
 * ticks' true values whatever the step (1, 2, 2.5, 5 × 10^k), and durations rounded sensibly.
 */
import { describe, expect, it } from 'vitest';
import { decimalsOf, formatDuration, tickLabels } from '../gui/src/numbers.js';

/** Ticks as uPlot makes them: multiples of the step, with its floating-point noise. */
const ticks = (from: number, step: number, n: number) => Array.from({ length: n }, (_, i) => from + i * step);

describe('axis tick labels', () => {
  it('shows 2.5-steps with the decimal they need, evenly spaced (not "0 3 5 8 10 13")', () => {
    expect(tickLabels(ticks(0, 2.5, 6), 2.5)).toEqual(['0.0', '2.5', '5.0', '7.5', '10.0', '12.5']);
  });

  it('shows 0.25-steps with two decimals (not "3.3 3.0 2.8")', () => {
    expect(tickLabels(ticks(2.75, 0.25, 3), 0.25)).toEqual(['2.75', '3.00', '3.25']);
    expect(tickLabels(ticks(0, 0.025, 5), 0.025)).toEqual(['0.000', '0.025', '0.050', '0.075', '0.100']);
  });

  it('shows whole steps without decimals, and small and large steps as they are', () => {
    expect(tickLabels(ticks(20, 5, 6), 5)).toEqual(['20', '25', '30', '35', '40', '45']);
    expect(tickLabels(ticks(-0.2, 0.1, 5), 0.1)).toEqual(['-0.2', '-0.1', '0.0', '0.1', '0.2']);
    expect(tickLabels(ticks(3.36, 0.02, 4), 0.02)).toEqual(['3.36', '3.38', '3.40', '3.42']);
    expect(tickLabels([0, 2.5e6, 5e6], 2.5e6)).toEqual(['0', '2.5e6', '5.0e6']);
    expect(tickLabels([0, 2e-5, 4e-5], 2e-5)).toEqual(['0', '2e-5', '4e-5']);
  });

  it('labels every tick differently, for every nice step from 1e-3 to 1e4', () => {
    for (let k = -3; k <= 4; k++) {
      for (const m of [1, 2, 2.5, 5]) {
        const step = m * 10 ** k;
        const splits = ticks(step * 7, step, 8);
        const labels = tickLabels(splits, step);
        expect(new Set(labels).size, `step ${step}: ${labels.join(' ')}`).toBe(labels.length);
        labels.forEach((l, i) => expect(Math.abs(Number(l) - (splits[i] ?? NaN)), `step ${step}: ${l}`).toBeLessThan(step * 1e-6));
      }
    }
  });

  it('counts the decimals a step needs', () => {
    expect([decimalsOf(5), decimalsOf(2.5), decimalsOf(0.25), decimalsOf(0.1 + 0.2), decimalsOf(1e-7)]).toEqual([0, 1, 2, 1, 7]);
  });
});

describe('durations', () => {
  it('says "1 s" for a 1 s run and tenths under 10 s', () => {
    expect(formatDuration(1000)).toBe('1 s');
    expect(formatDuration(980)).toBe('1 s');
    expect(formatDuration(1400)).toBe('1.4 s');
    expect(formatDuration(400)).toBe('0.4 s');
    expect(formatDuration(20)).toBe('< 0.1 s');
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(9990)).toBe('10 s');
  });

  it('rounds to whole seconds from 10 s, then minutes and seconds, hours and minutes, days and hours', () => {
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(59_600)).toBe('1 min');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(3_600_000)).toBe('1 h');
    expect(formatDuration(3_780_000)).toBe('1 h 3 min');
    expect(formatDuration(76 * 3_600_000)).toBe('3 d 4 h');
  });

  it('counts whole seconds for a clock that ticks while a run goes on', () => {
    expect(formatDuration(1400, true)).toBe('1 s');
    expect(formatDuration(999, true)).toBe('0 s');
    expect(formatDuration(125_900, true)).toBe('2 min 5 s');
  });
});
