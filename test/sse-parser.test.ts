/** The SSE reader shared by the server (the supervisor's stream) and the tests: same messages however the text is cut. */
import { describe, expect, it } from 'vitest';
import { formatSseMessage, SseParser, type SseMessage } from '../src/shared/sse.js';

function parse(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const p = new SseParser((m) => out.push(m));
  for (const c of chunks) p.push(c);
  return out;
}

const TEXT =
  ': a comment\n' +
  'id: 1\nuser: alice\nevent: log\ndata: {"a":1}\n\n' +
  'event: job\r\ndata: first\r\ndata: second\r\n\r\n' +
  'id: 3\revent: deleted\rdata: x\r\r' +
  'data\n\n' +
  'event: no-data\n\n' +
  'data:  two spaces\n\n';

const EXPECTED: SseMessage[] = [
  { event: 'log', data: '{"a":1}', id: '1', user: 'alice' },
  { event: 'job', data: 'first\nsecond' },
  { event: 'deleted', data: 'x', id: '3' },
  { event: 'message', data: '' },
  { event: 'message', data: ' two spaces' },
];

describe('SseParser', () => {
  it('reads LF, CRLF and CR line ends, comments, several data lines, and the user field', () => {
    expect(parse([TEXT])).toEqual(EXPECTED);
  });

  it('gives the same messages whatever two chunks the text is cut into', () => {
    for (let i = 0; i <= TEXT.length; i++) expect(parse([TEXT.slice(0, i), TEXT.slice(i)]), `cut at ${i}`).toEqual(EXPECTED);
  });

  it('gives the same messages when the text comes one character at a time', () => {
    expect(parse([...TEXT])).toEqual(EXPECTED);
  });

  it('keeps a CR at the end of a chunk as a line end, and the LF after it in the next chunk as part of it', () => {
    expect(parse(['data: a\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'a' }]);
    expect(parse(['data: a\r', '\r'])).toEqual([{ event: 'message', data: 'a' }]);
  });

  it('reads back what formatSseMessage writes, the user field included, and writes no user field holding a line end', () => {
    const text = formatSseMessage('log', '{"x":"a\\nb"}', 7, 'bob') + formatSseMessage('job', 'line1\nline2') + formatSseMessage('job', '{}', 8, 'evil\ndata: x');
    expect(parse([text])).toEqual([
      { event: 'log', data: '{"x":"a\\nb"}', id: '7', user: 'bob' },
      { event: 'job', data: 'line1\nline2' },
      { event: 'job', data: '{}', id: '8' },
    ]);
  });
});
