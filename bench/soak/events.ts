/**
 * The soak's event-stream client: follows `GET /api/events` with a bearer token, reconnects
 * after the server restarts, and sends the last `id:` it saw as `Last-Event-ID` (when the
 * server gives ids). Keeps every log line each run's events carried, in order.
 */
import type { Api } from './jobvisor.js';
import { sleep } from './jobvisor.js';

export class EventClient {
  /** Log lines seen per `<jobId>/<serial>`, in the order they came. */
  readonly lines = new Map<string, string[]>();
  connects = 0;
  resyncs = 0;
  /** Messages that had an `id:` field, and the last one. */
  withIds = 0;
  lastId: string | undefined;
  /** Ids that did not increase (the same event twice, or a journal going back). */
  idsNotIncreasing = 0;
  private abort = new AbortController();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly base: () => string,
    private readonly api: Api,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.once();
      } catch {
        /* the server went away: connect again */
      }
      if (!this.stopped) await sleep(300);
    }
  }

  private async once(): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.api.token}`, accept: 'text/event-stream' };
    if (this.lastId !== undefined) headers['last-event-id'] = this.lastId;
    const res = await fetch(`${this.base()}/api/events`, { headers, signal: this.abort.signal });
    if (res.status === 401) {
      await this.api.login();
      return;
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      await sleep(700);
      return;
    }
    this.connects++;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        this.message(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  }

  private message(text: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (id !== undefined) {
      this.withIds++;
      if (this.lastId !== undefined && /^\d+$/.test(id) && /^\d+$/.test(this.lastId) && Number(id) <= Number(this.lastId)) this.idsNotIncreasing++;
      this.lastId = id;
    }
    if (data.length === 0) return;
    if (event === 'resync') this.resyncs++;
    try {
      const e = JSON.parse(data.join('\n')) as { type?: string; jobId: string; serial: number; lines: string[] };
      if (e.type !== 'log' || !Array.isArray(e.lines)) return;
      const key = `${e.jobId}/${e.serial}`;
      const seen = this.lines.get(key) ?? [];
      seen.push(...e.lines);
      this.lines.set(key, seen);
    } catch {
      /* not a log event */
    }
  }
}
