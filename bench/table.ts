/**
 * The one table `npm run bench` prints: a row per measure, with the floor or peer measured in
 * the same run, jobvisor's figure, their ratio, the target and whether it passed. Each part of
 * the bench (bench/parts/*.ts) measures its own rows; bench/main.ts runs them and prints this.
 */

export interface BenchRow {
  /** The issue's target number (1-8) this row checks, then a short name: "1. /bin/true jobs, 8 clients, 2 slots". */
  measure: string;
  /** The floor or peer as measured in this run, with its unit: "spawn 812/s; BullMQ 480/s". */
  peer: string;
  /** jobvisor's figure, with its unit: "760 jobs/s". */
  jobvisor: string;
  /** The figure the target is about, e.g. jobvisor / floor (0.94) or p99 minus the floor's (3.1 ms). */
  ratio: string;
  /** The target in words: ">= 0.90 x spawn and >= 1.00 x BullMQ". */
  target: string;
  /** true / false, or 'skipped' when a service it needs is not up (say why in `note`). */
  pass: boolean | 'skipped';
  /** Anything a reader needs to trust the row: sample counts, CPU, memory, why skipped. */
  note?: string;
}

export interface BenchContext {
  /** Repeat count: each part takes the median of this many runs of its measure (default 3). */
  repeats: number;
  /** A short run (fewer jobs, clients, repeats) to check that a part works, not to judge it. */
  quick: boolean;
  /** Writes one progress line to stderr (the table itself goes to stdout). */
  log: (line: string) => void;
}

export interface BenchPart {
  /** Short name used by `--only`: "throughput", "get", "lists", "sse", "agents", "docker", "cluster". */
  name: string;
  run: (ctx: BenchContext) => Promise<BenchRow[]>;
}

/** The median of some numbers (the mean of the middle two for an even count); NaN for none. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The nearest-rank percentile `p` (0-100) of some numbers; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

const HEADER = ['measure', 'floor / peer', 'jobvisor', 'ratio', 'target', 'pass'];

/** The rows as a Markdown table (so it pastes into an issue note or the README as is), then the notes. */
export function formatTable(rows: BenchRow[]): string {
  const cells = rows.map((r) => [r.measure, r.peer, r.jobvisor, r.ratio, r.target, r.pass === 'skipped' ? 'skipped' : r.pass ? 'pass' : 'FAIL']);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(HEADER), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)];
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.measure}: ${r.note}`);
  return [...out, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}
