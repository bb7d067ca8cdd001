/**
 * The memory cgroup a cmd runs in, as far as it can be read from inside (a container sees its
 * own cgroup at the root of /sys/fs/cgroup): how many processes the kernel's out-of-memory
 * killer has ended in it so far, and its memory limit. A cmd killed by SIGKILL while that count
 * went up ran out of memory. cgroup v2 (`memory.events`, `memory.max`) and v1
 * (`memory.oom_control`, `memory.limit_in_bytes`); where neither can be read, nothing is known.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';
/** A v1 limit this large means "no limit" (the page counter's maximum). */
const NO_LIMIT_V1 = 2 ** 60;

interface Files {
  dir: string;
  v2: boolean;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The folders that may hold the memory cgroup of a process whose /proc/<pid>/cgroup says `text`: its own path, then the mount's root (inside a container). */
function candidates(text: string): Files[] {
  const lines = text.split('\n');
  const out: Files[] = [];
  for (const line of lines) {
    const [, controllers, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (p === undefined) continue;
    if (controllers === '') out.push({ dir: path.join(ROOT, p), v2: true }, { dir: ROOT, v2: true });
    else if (controllers?.split(',').includes('memory')) out.push({ dir: path.join(ROOT, 'memory', p), v2: false }, { dir: path.join(ROOT, 'memory'), v2: false });
  }
  // v1 first where it holds the memory controller (a hybrid set-up has an empty v2 hierarchy too).
  return out.sort((a, b) => Number(a.v2) - Number(b.v2));
}

function oomKillsIn(f: Files): number | undefined {
  const text = read(path.join(f.dir, f.v2 ? 'memory.events' : 'memory.oom_control'));
  const n = text && /^oom_kill (\d+)$/m.exec(text)?.[1];
  return n ? Number(n) : undefined;
}

export class MemoryCgroup {
  private constructor(private readonly files: Files) {}

  /**
   * The memory cgroup of `pid` whose out-of-memory kills can be counted, if any. Which folder
   * that is, is found once per cgroup (kept by the text of /proc/<pid>/cgroup): every cmd of an
   * agent runs in the same one, and the search read one to four more files at every run's start.
   */
  static of(pid: number | 'self'): MemoryCgroup | undefined {
    const text = read(`/proc/${pid}/cgroup`) ?? '';
    let found = MemoryCgroup.found.get(text);
    if (found === undefined) {
      found = candidates(text).find((f) => oomKillsIn(f) !== undefined) ?? null;
      // A process gone before it was looked at says nothing (and is not worth keeping).
      if (text !== '') MemoryCgroup.found.set(text, found);
    }
    return found ? new MemoryCgroup(found) : undefined;
  }

  /** The folder found for each /proc/<pid>/cgroup text, or null when none can be counted in (a handful per machine). */
  private static readonly found = new Map<string, Files | null>();

  /** Processes ended by the out-of-memory killer in this cgroup (and below) so far. */
  oomKills(): number | undefined {
    return oomKillsIn(this.files);
  }

  /** The memory limit in bytes, if there is one. */
  limitBytes(): number | undefined {
    const text = read(path.join(this.files.dir, this.files.v2 ? 'memory.max' : 'memory.limit_in_bytes'))?.trim();
    const n = Number(text);
    return text && Number.isFinite(n) && n > 0 && n < NO_LIMIT_V1 ? n : undefined;
  }

  /** "out of memory (the limit is 128 MiB)", for a reason shown to users. */
  describe(): string {
    const limit = this.limitBytes();
    return limit === undefined ? 'out of memory' : `out of memory (its memory limit is ${Math.round(limit / 2 ** 20)} MiB)`;
  }
}
