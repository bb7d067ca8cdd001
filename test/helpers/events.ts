/** Reading the public event stream in tests (with the project's own SSE parser). */
import type { JobView } from '../../src/shared/api.js';
import { SseParser } from '../../src/shared/sse.js';

async function readStream(res: Response, parser: SseParser): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
}

/** Reads `GET /api/events` and keeps every log line (in order), the name of every event seen, and whether the stream ended. */
export function collectLogEvents(baseUrl: string, token: string) {
  const lines: string[] = [];
  const types: string[] = [];
  const abort = new AbortController();
  const state = { ended: false };
  void (async () => {
    const res = await fetch(`${baseUrl}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const parser = new SseParser((m) => {
      types.push(m.event);
      const e = JSON.parse(m.data) as { type?: string; lines?: string[] };
      if (e.type === 'log') lines.push(...(e.lines ?? []));
    });
    await readStream(res, parser);
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
    const parser = new SseParser((m) => {
      if (m.id !== undefined) state.lastId = m.id;
      seen.push({ id: m.id === undefined ? undefined : Number(m.id), event: m.event, data: JSON.parse(m.data) });
    });
    await readStream(res, parser);
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
    /** One job's progress as its events told it (job views and `progress` events), in order. */
    progress: (jobId: string) =>
      seen.flatMap((e) => {
        if (e.event === 'job' && e.data.job.jobId === jobId) return [(e.data.job as JobView).progress];
        if (e.event === 'progress' && e.data.jobId === jobId) return [e.data.progress as number | null];
        return [];
      }),
    types: () => seen.map((e) => e.event),
    resyncs: () => seen.filter((e) => e.event === 'resync').length,
    stop: () => abort.abort(),
  };
}
