/** Small process helpers of the throughput part: free ports, waiting for an output line, stopping a child. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first line of the child's stdout or stderr passing `test`; rejects on exit or timeout. */
export function waitForLine(child: ChildProcess, test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const timer = setTimeout(() => done(new Error(`no ${what} within ${timeoutMs} ms; output:\n${seen.slice(-20).join('\n')}`)), timeoutMs);
    const onExit = (code: number | null) => done(new Error(`exited (${code}) before ${what}; output:\n${seen.slice(-20).join('\n')}`));
    const readers = [child.stdout, child.stderr].filter((s) => s !== null).map((s) => createInterface({ input: s }));
    const onLine = (line: string) => {
      seen.push(line);
      if (seen.length > 200) seen.shift();
      if (test(line)) done(undefined, line);
    };
    for (const r of readers) r.on('line', onLine);
    child.once('exit', onExit);
    function done(err: Error | undefined, line?: string) {
      clearTimeout(timer);
      child.off('exit', onExit);
      for (const r of readers) r.off('line', onLine);
      // Keep draining the pipes so the child never blocks on a full one.
      child.stdout?.resume();
      child.stderr?.resume();
      if (err) reject(err);
      else resolve(line as string);
    }
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** Runs `node <file> ...args` in a fresh process and parses the last line it prints as JSON. */
export async function runNodeJson<T>(file: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${file} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '') as T;
}

/** CPU time (user + system) a process has used so far, in ms (from /proc; NaN when it cannot be read). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** The kernel's clock ticks per second (USER_HZ), 100 on Linux. */
const CLOCK_TICKS = 100;

/** The direct children of a process. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
