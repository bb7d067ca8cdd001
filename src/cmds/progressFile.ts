/**
 * File progress: a template with `progress: {kind: "file", path}` has its command write its
 * progress to that file of the run directory (its absolute path is the placeholder
 * `{progressFile}`), overwriting it each time. The file holds either a number from 0 to 1
 * optionally followed by a message (`0.42 step 420 of 1000`), a percentage (`42%` or
 * `42% step 420`), or a JSON object `{"progress": 0.42, "message": "step 420"}` (`value` is
 * accepted for `progress`). The agent reads it at every poll (the process engine every second,
 * the batch engine at each scheduler poll) and once more after the command exited, before the
 * run's end is reported: the last progress written is never lost.
 */
import { readFile } from 'node:fs/promises';

export interface FileProgress {
  value: number;
  message?: string;
}

const MAX_MESSAGE = 500;

function clamp(value: number, message: string | undefined): FileProgress | null {
  if (!Number.isFinite(value)) return null;
  const m = message?.trim();
  return { value: Math.min(1, Math.max(0, value)), ...(m ? { message: m.slice(0, MAX_MESSAGE) } : {}) };
}

/** The progress a progress file's text says, or null when it says none. */
export function parseProgress(text: string): FileProgress | null {
  const t = text.trim();
  if (!t) return null;
  if (t.startsWith('{')) {
    try {
      const o = JSON.parse(t) as { progress?: unknown; value?: unknown; message?: unknown };
      const v = typeof o.progress === 'number' ? o.progress : o.value;
      return typeof v === 'number' ? clamp(v, typeof o.message === 'string' ? o.message : undefined) : null;
    } catch {
      return null; // being written: read again at the next poll
    }
  }
  const m = /^([0-9.eE+-]+)(%?)(?:\s+([\s\S]*))?$/.exec(t);
  if (!m) return null;
  const n = Number(m[1]);
  return clamp(m[2] ? n / 100 : n, m[3]?.split('\n')[0]);
}

/** Reads a progress file; reports what it says when that changed since the last read. */
export class ProgressFileReader {
  private last = '';

  constructor(private readonly file: string) {}

  async read(): Promise<FileProgress | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return null;
    }
    const t = text.trim();
    if (t === this.last) return null;
    const p = parseProgress(t);
    if (p) this.last = t;
    return p;
  }
}
