/** Reading the public event stream in tests. */

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
