/** Waiting in tests: poll a condition until a deadline; never sleep a fixed time and hope. */

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  what?: string | (() => string);
}

export async function waitFor(cond: () => boolean | Promise<boolean>, opts: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) {
      const what = typeof opts.what === 'function' ? opts.what() : (opts.what ?? 'condition');
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
