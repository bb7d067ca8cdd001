/** Reading the README in tests: its sections, tables, anchors and marked examples. */

/** Lines of README outside fenced code blocks, with their index. */
function proseLines(md: string): { line: string; i: number }[] {
  const out: { line: string; i: number }[] = [];
  let fence = false;
  md.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) fence = !fence;
    else if (!fence) out.push({ line, i });
  });
  return out;
}

/**
 * The text of the heading `heading` (e.g. "### Routes") that comes after `within` (e.g. "## HTTP API"),
 * up to the next heading of the same or a higher level.
 */
export function section(md: string, heading: string, within?: string): string {
  const lines = md.split('\n');
  const prose = proseLines(md);
  const from = within ? (prose.find((p) => p.line === within)?.i ?? -1) : 0;
  if (from < 0) throw new Error(`README has no heading ${within}`);
  const start = prose.find((p) => p.i > from && p.line === heading);
  if (!start) throw new Error(`README has no heading ${heading}${within ? ` under ${within}` : ''}`);
  const level = /^#+/.exec(heading)![0].length;
  const end = prose.find((p) => p.i > start.i && /^#+ /.test(p.line) && /^#+/.exec(p.line)![0].length <= level);
  return lines.slice(start.i + 1, end?.i ?? lines.length).join('\n');
}

/** The cells of a text's Markdown table rows (header and separator rows left out). */
export function tableRows(text: string): string[][] {
  const rows = text
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  return rows.filter((r, i) => i > 0 && !r.every((c) => /^:?-+:?$/.test(c)));
}

/** GitHub's anchor of a heading's text. */
export function slug(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor the README's headings make (a repeated heading gets -1, -2, ...). */
export function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(md)) {
    const m = /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every `](#anchor)` link outside code blocks. */
export function linkedAnchors(md: string): string[] {
  return proseLines(md).flatMap(({ line }) => [...line.matchAll(/\]\(#([^)\s]+)\)/g)].map((m) => m[1]!));
}

/** One command of a marked example and the output lines the README shows for it (`# ` lines). */
export interface ExampleStep {
  line: number;
  /** The `## ` section it is in: each section's examples run in a session of their own. */
  section: string;
  command: string;
  expected: string[];
}

export const EXAMPLE_MARKER = '<!-- example -->';

/**
 * The ```sh blocks right after a `<!-- example -->` line: each step (the lines up to the next
 * `# ` output line or blank line) with the output lines below it.
 */
export function examples(md: string): ExampleStep[][] {
  const lines = md.split('\n');
  const blocks: ExampleStep[][] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('## ')) section = lines[i]!.slice(3);
    if (lines[i]!.trim() !== EXAMPLE_MARKER) continue;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    if (!/^```(sh|bash)\s*$/.test(lines[j] ?? '')) throw new Error(`README line ${i + 1}: ${EXAMPLE_MARKER} is not followed by a \`\`\`sh block`);
    const steps: ExampleStep[] = [];
    for (j++; j < lines.length && !/^```\s*$/.test(lines[j]!); j++) {
      const l = lines[j]!;
      if (l.trim() === '') continue;
      if (l === '#' || l.startsWith('# ')) {
        const step = steps.at(-1);
        if (!step) throw new Error(`README line ${j + 1}: an output line before any command`);
        step.expected.push(l === '#' ? '' : l.slice(2));
        continue;
      }
      // Lines up to the next output line or blank line are one step (a `\` continuation, a loop, a quoted script).
      let command = l;
      const start = j;
      while (j + 1 < lines.length && lines[j + 1]!.trim() !== '' && !/^#( |$)/.test(lines[j + 1]!) && !/^```/.test(lines[j + 1]!)) command += '\n' + lines[++j];
      steps.push({ line: start + 1, section, command, expected: [] });
    }
    blocks.push(steps);
  }
  return blocks;
}

/**
 * What differs from one run to the next, masked the same way in the README's lines and in the
 * real output: ids, times, epoch milliseconds, tokens, and the seconds a run took.
 */
export const MASKS: [RegExp, string][] = [
  [/\b[0-9a-f]{16,24}\b/g, '<id>'],
  [/\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?/g, '<time>'],
  [/\b1\d{12}\b/g, '<ms>'],
  [/\bjvt_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g, '<token>'],
  [/"prefix":"jvt_[A-Za-z0-9_-]{4}"/g, '"prefix":"<prefix>"'],
  [/"generatedPassword":"[^"]+"/g, '"generatedPassword":"<password>"'],
  [/\b(after running|after waiting|running \|) \d+ s\b/g, '$1 <n> s'],
  // File sizes where they depend on the run (its log holds timings): `jobvisor files` rows, "N bytes", a log chunk's size.
  [/^(result| {6})( +)\d+(?= {2})/gm, '$1$2<n>'],
  [/\b\d+ bytes\b/g, '<n> bytes'],
  [/"(size|nextOffset)":\d+/g, '"$1":<n>'],
];

export function mask(text: string): string {
  return MASKS.reduce((t, [re, to]) => t.replace(re, to), text);
}

/**
 * Whether the real output lines match the README's: line by line after masking; `...` (or `…`)
 * inside a README line matches any text, and a README line that is only `...` any number of lines.
 */
export function outputMatches(expected: string[], actual: string[]): boolean {
  const toRe = (e: string) =>
    new RegExp(
      '^' +
        mask(e)
          .trimEnd()
          .split(/\.\.\.|…/)
          .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
    );
  const act = actual.map((a) => mask(a).trimEnd());
  const go = (e: number, a: number): boolean => {
    if (e === expected.length) return a === act.length;
    if (/^\s*(\.\.\.|…)\s*$/.test(expected[e]!)) {
      for (let k = a; k <= act.length; k++) if (go(e + 1, k)) return true;
      return false;
    }
    return a < act.length && toRe(expected[e]!).test(act[a]!) && go(e + 1, a + 1);
  };
  return go(0, 0);
}
