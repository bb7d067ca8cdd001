/**
 * The agent's outbox: every update gets the next sequence number and stays here until the
 * supervisor acknowledges it, across reconnects; after a reconnect everything unacknowledged
 * is sent again, in order.
 *
 * Messages are bounded where they are made: a `log` update becomes as many messages as needed
 * for each to stay within MAX_UPDATE_BYTES, a line longer than MAX_LOG_LINE_BYTES is cut (with a
 * marker saying how long it was), and a message over the limit is refused. Nothing is resent
 * forever: once the same update has been first in line on MAX_UNACKED_CONNECTIONS connections
 * that the supervisor each closed refusing a message (close codes REFUSAL_CLOSE_CODES) without
 * acknowledging it, `closed()` hands it over to be dealt with. A connection that merely dropped
 * (a cut link: 1006; a supervisor going away: 1001) is no refusal and counts for nothing: an
 * update must never be given up because the network between the two was bad.
 */
import { JobvisorError } from '../shared/errors.js';
import { MAX_LOG_LINE_BYTES, MAX_UPDATE_BYTES, MAX_UPDATE_LINES, PROTOCOL_VERSION, type AgentMessage, type Update } from '../shared/protocol.js';

export { MAX_LOG_LINE_BYTES, MAX_UPDATE_BYTES };

export type UpdateMessage = Extract<AgentMessage, { type: 'update' }>;

/** Connections in a row that may end with the same update first in line and unacknowledged. */
export const MAX_UNACKED_CONNECTIONS = 5;
/**
 * Close codes by which the supervisor refuses what it was sent: 1008 (AGENT_PROTOCOL), 1009 (a
 * message over its maxPayload), 1011 (an update it could not apply). Any other end of a
 * connection is the link's, not the update's.
 */
export const REFUSAL_CLOSE_CODES: ReadonlySet<number> = new Set([1008, 1009, 1011]);
/** Room left in a message for everything but its log lines. */
const ENVELOPE_BYTES = 4096;

/** The longest prefix of `text` within `maxBytes` of UTF-8 that ends on a whole character. */
function utf8Prefix(text: string, maxBytes: number): string {
  let head = text.slice(0, maxBytes);
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  const buf = Buffer.from(head, 'utf8');
  if (buf.length <= maxBytes) return head;
  let end = maxBytes;
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/** A line within MAX_LOG_LINE_BYTES, marker included: ` … [line cut: 300000 bytes]`. A cut line is left as it is. */
export function cutLine(line: string): string {
  if (line.length * 3 <= MAX_LOG_LINE_BYTES) return line;
  const bytes = Buffer.byteLength(line);
  if (bytes <= MAX_LOG_LINE_BYTES) return line;
  const marker = ` … [line cut: ${bytes} bytes]`;
  return utf8Prefix(line, MAX_LOG_LINE_BYTES - Buffer.byteLength(marker)) + marker;
}

/** Lines (already cut) in groups that each fit one `log` update: within the byte budget and MAX_UPDATE_LINES. */
export function groupLines(lines: string[]): string[][] {
  const budget = MAX_UPDATE_BYTES - ENVELOPE_BYTES;
  const groups: string[][] = [];
  let group: string[] = [];
  let bytes = 2;
  for (const line of lines) {
    const size = Buffer.byteLength(JSON.stringify(line)) + 1;
    if (group.length > 0 && (bytes + size > budget || group.length >= MAX_UPDATE_LINES)) {
      groups.push(group);
      group = [];
      bytes = 2;
    }
    group.push(line);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** An update as the messages it becomes: a `log` update split by groupLines, its `offset` (if any) on the last part. */
function parts(update: Update): Update[] {
  if (update.kind !== 'log') return [update];
  const groups = groupLines(update.lines.map(cutLine));
  return groups.map((lines, i) => ({ kind: 'log', lines, ...(update.offset !== undefined && i === groups.length - 1 ? { offset: update.offset } : {}) }));
}

export class Outbox {
  private nextSeq = 1;
  private readonly unacked: UpdateMessage[] = [];
  /** The update first in line when the last connection ended, and on how many connections in a row it was. */
  private struck: number | null = null;
  private strikes = 0;
  private readonly replaced = new Set<number>();
  /** Each message's JSON, made once to measure it and sent as it is (see `textOf`). */
  private readonly texts = new WeakMap<UpdateMessage, string>();

  /** Numbers and keeps an update: one message, or several for a long `log` update. Refuses a message over MAX_UPDATE_BYTES. */
  add(jobId: string, serial: number, update: Update): UpdateMessage[] {
    const made: UpdateMessage[] = [];
    for (const u of parts(update)) {
      const msg: UpdateMessage = { v: PROTOCOL_VERSION, type: 'update', seq: this.nextSeq, jobId, serial, update: u };
      const text = JSON.stringify(msg);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_UPDATE_BYTES) throw new JobvisorError('INTERNAL', `a ${u.kind} update of ${bytes} bytes is over the limit of ${MAX_UPDATE_BYTES}`);
      this.texts.set(msg, text);
      this.nextSeq++;
      this.unacked.push(msg);
      made.push(msg);
    }
    return made;
  }

  /** Drops every update up to `seq`; returns the ones dropped. */
  ack(seq: number): UpdateMessage[] {
    let n = 0;
    while (n < this.unacked.length && (this.unacked[n] as UpdateMessage).seq <= seq) n++;
    for (const m of this.unacked.slice(0, n)) this.replaced.delete(m.seq);
    return this.unacked.splice(0, n);
  }

  /** A message's JSON as it was measured when it was made (a replaced head's is made anew). */
  textOf(msg: UpdateMessage): string {
    return this.texts.get(msg) ?? JSON.stringify(msg);
  }

  pending(): readonly UpdateMessage[] {
    return this.unacked;
  }

  get size(): number {
    return this.unacked.length;
  }

  /**
   * A connection that had opened ended with close code `code` (everything pending was sent on
   * it: at its start, or as it was made). Returns the first update in line once it has been
   * first in line at the end of MAX_UNACKED_CONNECTIONS connections in a row that the supervisor
   * closed refusing (REFUSAL_CLOSE_CODES), none of them acknowledging it. A connection that just
   * dropped changes nothing: neither a strike nor a fresh start.
   */
  closed(code: number): UpdateMessage | undefined {
    if (!REFUSAL_CLOSE_CODES.has(code)) return undefined;
    const head = this.unacked[0];
    if (head?.seq !== this.struck) this.strikes = 0;
    this.struck = head?.seq ?? null;
    if (!head || ++this.strikes < MAX_UNACKED_CONNECTIONS) return undefined;
    this.strikes = 0;
    return head;
  }

  /** Puts `update` in place of the first update in line, keeping its number (the supervisor expects every number once). */
  replaceHead(update: Update): UpdateMessage | undefined {
    const head = this.unacked[0];
    if (!head) return undefined;
    const msg: UpdateMessage = { ...head, update };
    this.unacked[0] = msg;
    this.replaced.add(head.seq);
    return msg;
  }

  /** Whether the update of this number is already a replacement. */
  wasReplaced(seq: number): boolean {
    return this.replaced.has(seq);
  }
}
