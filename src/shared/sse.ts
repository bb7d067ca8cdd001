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
  /**
   * jobvisor's own `user:` field, if it had one: whose event it is. The supervisor's stream sets it
   * so that the server can pick the clients of an event without parsing its data. (Readers that
   * follow the SSE standard, browsers' EventSource among them, ignore a field they do not know;
   * the server's own streams to clients do not carry it.)
   */
  user?: string;
}

/** Writes one message; a data value holding newlines becomes several `data:` lines. */
export function formatSseMessage(event: string | undefined, data: string, id?: number, user?: string): string {
  const idLine = (id === undefined ? '' : `id: ${id}\n`) + (user === undefined || /[\r\n]/.test(user) ? '' : `user: ${user}\n`);
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

/**
 * Reads a stream of text chunks; calls `onMessage` for each complete message that has data.
 * Lines end with \n, \r\n or \r. Each chunk is scanned once (indexOf, no regular expression);
 * only an unfinished last line is kept for the next chunk.
 */
export class SseParser {
  private rest = '';
  /** The previous chunk ended with \r: a \n starting this one belongs to it. */
  private afterCr = false;
  private event = '';
  private id: string | undefined;
  private user: string | undefined;
  private dataLines: string[] = [];

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  push(chunk: string): void {
    let text = this.rest + chunk;
    this.rest = '';
    let pos = 0;
    if (this.afterCr && text.startsWith('\n')) pos = 1;
    this.afterCr = false;
    const hasCr = text.includes('\r');
    for (;;) {
      let end = text.indexOf('\n', pos);
      let next = end + 1;
      if (hasCr) {
        const cr = text.indexOf('\r', pos);
        if (cr !== -1 && (end === -1 || cr < end)) {
          end = cr;
          next = text[cr + 1] === '\n' ? cr + 2 : cr + 1;
          // A \r at the very end may be the first half of \r\n: the \n, if it comes, is skipped.
          if (cr === text.length - 1) this.afterCr = true;
        }
      }
      if (end === -1) break;
      this.line(text.slice(pos, end));
      pos = next;
    }
    this.rest = pos === 0 ? text : text.slice(pos);
    text = '';
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
    else if (field === 'user') this.user = value;
  }

  private dispatch(): void {
    const message: SseMessage = { event: this.event || 'message', data: this.dataLines.length === 1 ? this.dataLines[0]! : this.dataLines.join('\n') };
    if (this.id !== undefined) message.id = this.id;
    if (this.user !== undefined) message.user = this.user;
    this.event = '';
    this.id = undefined;
    this.user = undefined;
    const hadData = this.dataLines.length > 0;
    this.dataLines = [];
    if (hadData) this.onMessage(message);
  }
}
