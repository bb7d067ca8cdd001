/**
 * Numbers as the GUI shows them, with no DOM (so unit tests run them in Node): axis tick labels
 * that show the ticks' true values, and durations rounded as a person reads them.
 */

/** How many decimals `step` needs to be written exactly (0.25 → 2, 2.5 → 1, 5 → 0), at most 12. */
export function decimalsOf(step: number): number {
  if (!Number.isFinite(step) || step <= 0) return 0;
  for (let d = 0; d <= 12; d++) {
    const scaled = step * 10 ** d;
    const whole = Math.round(scaled);
    if (whole >= 1 && Math.abs(scaled - whole) <= 1e-6 * scaled) return d;
  }
  return 12;
}

/** A value in exponent notation with as many mantissa decimals as the step needs there: 2.5e5, 1.00e6. */
function exponentLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const e = Math.floor(Math.log10(Math.abs(v)) + 1e-12);
  const digits = Math.min(6, decimalsOf(step / 10 ** e));
  return v.toExponential(digits).replace('e+', 'e');
}

/**
 * Tick labels of an axis whose ticks are `step` apart (a nice step: 1, 2, 2.5 or 5 × 10^k):
 * every label shows its tick's true value, with the decimals the step needs (step 2.5: 0.0 2.5
 * 5.0 7.5; step 0.25: 2.75 3.00 3.25), in exponent notation for very large or very small values.
 */
export function tickLabels(splits: number[], step: number): string[] {
  const big = splits.some((v) => Math.abs(v) >= 1e6);
  const tiny = step > 0 && step < 1e-4;
  if (big || tiny) return splits.map((v) => exponentLabel(Math.abs(v) < step * 1e-9 ? 0 : v, step));
  const decimals = decimalsOf(step);
  return splits.map((v) => {
    const text = v.toFixed(decimals);
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text; // no "-0.0"
  });
}

/**
 * A duration as a person reads it: "< 0.1 s", "0.4 s", "1 s", "1.4 s" under 10 s; "12 s"; "2 min 5 s";
 * "1 h 3 min"; "3 d 4 h". `wholeSeconds`: no tenths (a clock that ticks once a second).
 */
export function formatDuration(ms: number, wholeSeconds = false): string {
  const v = Math.max(0, Number.isFinite(ms) ? ms : 0);
  if (v > 0 && v < 50 && !wholeSeconds) return '< 0.1 s';
  if (v < 9950 && !wholeSeconds) {
    const tenths = Math.round(v / 100) / 10;
    return `${Number.isInteger(tenths) ? tenths.toFixed(0) : tenths.toFixed(1)} s`;
  }
  const s = wholeSeconds ? Math.floor(v / 1000) : Math.round(v / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const join = (a: number, ua: string, b: number, ub: string) => (b === 0 ? `${a} ${ua}` : `${a} ${ua} ${b} ${ub}`);
  if (m < 60) return join(m, 'min', s % 60, 's');
  const hours = Math.floor(m / 60);
  if (hours < 48) return join(hours, 'h', m % 60, 'min');
  return join(Math.floor(hours / 24), 'd', hours % 24, 'h');
}
