/**
 * Server-Sent Events wire format, both ways: reading the supervisor's stream and writing the
 * clients' streams. A message is `id:`/`event:`/`data:` lines ended by a blank line; lines
 * starting with `:` are comments. An event's `id` is its journal number: a reader that
 * reconnects sends the last one it saw as `Last-Event-ID` and gets what it missed.
 */

export interface SseMessage {
  event: string;
  data: string;
  /** The message's `id:` field, if it had one. */
  id?: string;
}

/** Writes one message; a data value holding newlines becomes several `data:` lines. */
export function formatSseMessage(event: string | undefined, data: string, id?: number): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  const eventLine = event === undefined ? '' : `event: ${event}\n`;
  const dataLines = data.includes('\n') || data.includes('\r') ? data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join('') : `data: ${data}\n`;
  return idLine + eventLine + dataLines + '\n';
}

/** A `Last-Event-ID` value as a journal number; undefined when absent or not a number. */
export function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

export function formatSseComment(text: string): string {
  return `: ${text}\n\n`;
}

/** Reads a stream of text chunks; calls `onMessage` for each complete message that has data. */
export class SseParser {
  private buffer = '';
  private event = '';
  private id: string | undefined;
  private dataLines: string[] = [];

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.dataLines.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }

  private dispatch(): void {
    const message: SseMessage = { event: this.event || 'message', data: this.dataLines.join('\n') };
    if (this.id !== undefined) message.id = this.id;
    this.event = '';
    this.id = undefined;
    const hadData = this.dataLines.length > 0;
    this.dataLines = [];
    if (hadData) this.onMessage(message);
  }
}
