/** Reading the public event stream in tests. */
import type { JobView } from '../../src/shared/api.js';

/** Reads `GET /api/events` and keeps every log line (in order), the name of every event seen, and whether the stream ended. */
export function collectLogEvents(baseUrl: string, token: string) {
  const lines: string[] = [];
  const types: string[] = [];
  const abort = new AbortController();
  const state = { ended: false };
  void (async () => {
    const res = await fetch(`${baseUrl}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const msg = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = msg.split('\n').find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
        const data = msg.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!data) continue;
        types.push(event);
        const e = JSON.parse(data) as { type?: string; lines?: string[] };
        if (e.type === 'log') lines.push(...(e.lines ?? []));
      }
    }
  })()
    .catch(() => undefined)
    .finally(() => (state.ended = true));
  return { lines, types, state, stop: () => abort.abort() };
}

export interface SeenEvent {
  id: number | undefined;
  event: string;
  data: any;
}

/**
 * Reads `GET /api/events` as a browser's EventSource would: whenever the stream ends or fails,
 * it reconnects (every `retryMs`) sending the last event id it saw as `Last-Event-ID`.
 */
export function resumingEventReader(baseUrl: () => string, token: string, retryMs = 100) {
  const seen: SeenEvent[] = [];
  const abort = new AbortController();
  const state = { lastId: undefined as string | undefined, connections: 0, stopped: false };
  const once = async () => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (state.lastId !== undefined) headers['last-event-id'] = state.lastId;
    const res = await fetch(`${baseUrl()}/api/events`, { headers, signal: abort.signal });
    if (res.status !== 200) throw new Error(`GET /api/events: ${res.status}`);
    state.connections++;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const msg = buf.slice(0, i).split('\n');
        buf = buf.slice(i + 2);
        const field = (name: string) => msg.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
        const data = field('data').join('\n');
        if (!data) continue;
        const id = field('id')[0];
        if (id !== undefined) state.lastId = id;
        seen.push({ id: id === undefined ? undefined : Number(id), event: field('event')[0] ?? 'message', data: JSON.parse(data) });
      }
    }
  };
  void (async () => {
    while (!abort.signal.aborted) {
      await once().catch(() => undefined);
      if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, retryMs));
    }
  })().finally(() => (state.stopped = true));
  return {
    seen,
    state,
    /** Log lines of one job (of its run `serial`, if given), in the order they came. */
    lines: (jobId: string, serial?: number) =>
      seen.filter((e) => e.event === 'log' && e.data.jobId === jobId && (serial === undefined || e.data.serial === serial)).flatMap((e) => e.data.lines as string[]),
    /** The job views of one job's events, in order. */
    jobViews: (jobId: string) => seen.filter((e) => e.event === 'job' && e.data.job.jobId === jobId).map((e) => e.data.job as JobView),
    types: () => seen.map((e) => e.event),
    resyncs: () => seen.filter((e) => e.event === 'resync').length,
    stop: () => abort.abort(),
  };
}
