/**
 * The API's event stream (`GET /api/events`, Server-Sent Events) for the CLI's live commands.
 * It opens the stream, hands each `job`, `log`, `deleted`, `resync` and `end` event to its
 * listener, and when the connection drops it connects again with `Last-Event-ID` (so nothing is
 * missed), waiting longer after each failure; after `maxReconnects` failures in a row it gives up
 * with CONNECTION_FAILED. A refused token (401) or an `end` event ends it with NOT_LOGGED_IN.
 */
import type { JobEvent } from '../shared/api.js';
import { SseParser, type SseMessage } from '../shared/sse.js';
import { delay, sleep, type RetryPolicy } from '../shared/retry.js';
import { CliError, EXIT } from './exitCodes.js';
import type { ApiClient } from './http.js';

export type StreamEvent = JobEvent | { type: 'resync' } | { type: 'reconnected' };

export interface EventStreamOptions {
  /** Failed connections in a row before giving up. */
  maxReconnects?: number;
  policy?: RetryPolicy;
}

const POLICY: RetryPolicy = { baseMs: 500, maxMs: 10_000, jitter: 0.3 };

export class EventStream {
  private readonly abort = new AbortController();
  private lastEventId: string | undefined;
  private done: Promise<void> | undefined;

  constructor(
    private readonly client: ApiClient,
    private readonly onEvent: (event: StreamEvent) => void,
    private readonly options: EventStreamOptions = {},
  ) {}

  /**
   * Connects; resolves once the stream said `hello` (events from then on reach the listener).
   * Rejects when the first connection fails. `ended` then settles when the stream stops for good.
   */
  async open(): Promise<void> {
    const first = await this.connect();
    this.done = this.follow(first);
    this.done.catch(() => undefined);
  }

  /** Settles when the stream has stopped: resolves after close(), rejects with why it gave up. */
  get ended(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  close(): void {
    this.abort.abort();
  }

  /** One connection, read up to its `hello`. */
  private async connect(): Promise<AsyncIterator<SseMessage>> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
    const res = await this.client.stream('/api/events', headers, this.abort.signal);
    const messages = sseMessages(res);
    const hello = await messages.next();
    if (hello.done || hello.value.event !== 'hello') throw new CliError('CONNECTION_FAILED', 'the event stream ended before it began', EXIT.connection);
    return messages;
  }

  private async follow(messages: AsyncIterator<SseMessage>): Promise<void> {
    let failures = 0;
    for (;;) {
      try {
        for (let m = await messages.next(); !m.done; m = await messages.next()) {
          failures = 0;
          this.dispatch(m.value);
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (err instanceof CliError && err.exitCode === EXIT.unauthenticated) throw err;
      }
      if (this.abort.signal.aborted) return;
      // The stream ended or broke: connect again (resuming after the last event seen).
      for (;;) {
        if (failures >= (this.options.maxReconnects ?? 8)) throw new CliError('CONNECTION_FAILED', `lost the event stream of ${this.client.url} and could not connect again (${failures} tries)`, EXIT.connection);
        await sleep(delay(failures++, this.options.policy ?? POLICY), this.abort.signal);
        if (this.abort.signal.aborted) return;
        try {
          messages = await this.connect();
          this.onEvent({ type: 'reconnected' });
          break;
        } catch (err) {
          if (this.abort.signal.aborted) return;
          if (err instanceof CliError && err.exitCode !== EXIT.connection) throw err;
        }
      }
    }
  }

  private dispatch(m: SseMessage): void {
    if (m.id !== undefined) this.lastEventId = m.id;
    if (m.event === 'end') {
      const reason = (safeJson(m.data) as { reason?: string } | undefined)?.reason ?? 'the login ended';
      throw new CliError('NOT_LOGGED_IN', `the event stream ended: ${reason}; run \`jobvisor login\``, EXIT.unauthenticated);
    }
    if (m.event === 'resync') return this.onEvent({ type: 'resync' });
    if (m.event !== 'job' && m.event !== 'log' && m.event !== 'progress' && m.event !== 'deleted') return;
    const data = safeJson(m.data) as JobEvent | undefined;
    if (data && typeof data === 'object' && data.type === m.event) this.onEvent(data);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The SSE messages of an answer body, one at a time. */
async function* sseMessages(res: Response): AsyncGenerator<SseMessage> {
  const queue: SseMessage[] = [];
  const parser = new SseParser((m) => queue.push(m));
  const decoder = new TextDecoder();
  if (!res.body) return;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    parser.push(decoder.decode(chunk, { stream: true }));
    while (queue.length > 0) yield queue.shift() as SseMessage;
  }
}
