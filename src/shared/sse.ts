/**
 * Server-Sent Events wire format, both ways: reading the supervisor's stream and writing the
 * clients' streams. A message is `event:`/`data:` lines ended by a blank line; lines starting
 * with `:` are comments.
 */

export interface SseMessage {
  event: string;
  data: string;
}

/** Writes one message; a data value holding newlines becomes several `data:` lines. */
export function formatSseMessage(event: string | undefined, data: string): string {
  const eventLine = event === undefined ? '' : `event: ${event}\n`;
  return eventLine + data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join('') + '\n';
}

export function formatSseComment(text: string): string {
  return `: ${text}\n\n`;
}

/** Reads a stream of text chunks; calls `onMessage` for each complete message that has data. */
export class SseParser {
  private buffer = '';
  private event = '';
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
  }

  private dispatch(): void {
    const message = { event: this.event || 'message', data: this.dataLines.join('\n') };
    this.event = '';
    const hadData = this.dataLines.length > 0;
    this.dataLines = [];
    if (hadData) this.onMessage(message);
  }
}
