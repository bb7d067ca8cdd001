/**
 * What the agents part reads of a process it started: CPU time from /proc/<pid>/stat (utime +
 * stime, in clock ticks) and memory from /proc/<pid>/status (VmRSS, VmHWM); and how it starts
 * and stops a node process whose JSON log says when it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: the fields after it start after its ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) of the whole line are 12 and 13 after the name and state.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory now and at its peak, in MB (MiB). */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** A started node process: its JSON log lines (the last 2000) and a way to wait for a line. */
export interface NodeProc {
  child: ChildProcess;
  pid: number;
  lines: string[];
  /** Resolves with the first line (parsed JSON) for which `pred` holds; rejects if the process exits first or after `timeoutMs`. */
  waitLine(pred: (line: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function startNode(args: string[], env: NodeJS.ProcessEnv, name: string): NodeProc {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const watchers = new Set<(line: Record<string, unknown>) => void>();
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 2000) lines.shift();
    if (!line.startsWith('{')) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of watchers) w(parsed);
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    lines,
    waitLine: (pred, timeoutMs, what) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${name}: no ${what} within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)), timeoutMs);
        const watcher = (l: Record<string, unknown>) => pred(l) && done(null, l);
        const onExit = () => done(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${lines.slice(-30).join('\n')}`));
        function done(err: Error | null, line?: Record<string, unknown>) {
          clearTimeout(timer);
          watchers.delete(watcher);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(line!);
        }
        watchers.add(watcher);
        child.once('exit', onExit);
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
