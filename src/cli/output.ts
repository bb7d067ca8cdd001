/**
 * What the client commands print. With `--json`, stdout carries machine output only (one JSON
 * value per line) and errors go to stderr as `{"error": {code, message, details?}}`, with the
 * API's code when the API refused; without it, text for people on stdout and
 * `jobvisor: CODE: message` on stderr.
 */
import { CliError, EXIT } from './exitCodes.js';

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Whether a person watches (stderr is a terminal): then live commands draw a progress bar. */
  get interactive(): boolean {
    return !this.json && this.stderr.isTTY === true && process.env.TERM !== 'dumb';
  }

  get errStream(): NodeJS.WriteStream {
    return this.stderr;
  }

  /** A command's answer: `human()` as text, or `value` as one line of JSON. */
  result(value: unknown, human: () => string): void {
    if (this.json) this.stdout.write(JSON.stringify(value) + '\n');
    else {
      const text = human();
      if (text !== '') this.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Raw bytes or text for stdout (log text, a download to `-`). */
  raw(chunk: string | Uint8Array): void {
    this.stdout.write(chunk);
  }

  /** A note for people (on stderr, so that stdout stays the command's answer); silent with --json. */
  note(text: string): void {
    if (!this.json) this.stderr.write(text + '\n');
  }

  error(err: CliError): void {
    if (this.json) {
      const error: Record<string, unknown> = { code: err.code, message: err.message };
      if (err.details !== undefined) error.details = err.details;
      this.stderr.write(JSON.stringify({ error }) + '\n');
    } else {
      this.stderr.write(`jobvisor: ${err.code}: ${err.message}\n`);
      const issues = (err.details as { issues?: { path?: unknown[]; message?: string }[] } | undefined)?.issues;
      for (const i of issues ?? []) this.stderr.write(`  ${(i.path ?? []).join('.') || '(body)'}: ${i.message ?? ''}\n`);
    }
  }
}

/** Any thrown value as a CliError (an unexpected one is INTERNAL, exit 1). */
export function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  return new CliError('INTERNAL', err instanceof Error ? err.message : String(err), EXIT.internal);
}

/** Milliseconds since the epoch as local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** Rows as columns padded to their widest cell (the last column unpadded). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}
