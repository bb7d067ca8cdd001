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
