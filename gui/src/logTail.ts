/**
 * The live tail of a run's log. It reads `GET /api/jobs/:id/log` from a byte offset; a `log`
 * event (or the end of the run) says there is more, and the tail reads on from where it stopped,
 * so no line is shown twice or lost, whatever the order of events and answers. It follows new
 * lines while scrolled to the bottom, stays put while the user reads further up, and keeps at
 * most the last 5000 lines in the page (and reads at most the last 1 MiB when it opens).
 */
import { api, ApiError, fileUrl } from './api.js';
import { h, replaceChildren, setText } from './dom.js';
import { formatBytes } from './format.js';
import { describeError } from './notify.js';

const MAX_LINES = 5000;
const CHUNK_BYTES = 256 * 1024;
const MAX_INITIAL_BYTES = 1024 * 1024;

export class LogTail {
  readonly el: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly status = h('p', { class: 'log-status muted' });
  private readonly jump: HTMLButtonElement;
  private serial = 0;
  private offset = 0;
  private size = 0;
  private lines = 0;
  private dropped = false;
  private partial = '';
  private partialNode: Text | undefined;
  private busy = false;
  private more = false;
  private first = true;
  /** After starting in the middle of a long log: the first (partial) line is not shown. */
  private skipFirstLine = false;
  private following = true;
  private destroyed = false;
  private generation = 0;

  constructor(
    private readonly jobId: string,
    /** A newer run has started (the log answered STALE_SERIAL). */
    private readonly onStale: () => void,
  ) {
    this.pre = h('pre', { class: 'log', tabindex: '0', role: 'log', 'aria-label': 'Run log', 'aria-live': 'off', 'data-testid': 'log' });
    this.jump = h('button', { type: 'button', class: 'small jump', hidden: true, onclick: () => this.scrollToEnd() }, 'Jump to the newest lines ↓');
    this.pre.addEventListener('scroll', () => {
      this.following = this.atBottom();
      if (this.following) this.jump.hidden = true;
    });
    this.el = h('div', { class: 'log-tail' }, h('div', { class: 'log-frame' }, this.pre, this.jump), this.status);
  }

  /** Shows the log of run `serial` (a new run starts from an empty log). */
  setRun(serial: number): void {
    if (serial === this.serial) return;
    this.serial = serial;
    this.generation += 1;
    this.offset = 0;
    this.size = 0;
    this.lines = 0;
    this.dropped = false;
    this.partial = '';
    this.partialNode = undefined;
    this.first = true;
    this.skipFirstLine = false;
    this.following = true;
    this.busy = false;
    this.more = false;
    replaceChildren(this.pre);
    this.renderStatus();
    this.poke();
  }

  /** There may be new output: read on from where the tail stopped. */
  poke(): void {
    if (this.destroyed || this.serial === 0) return;
    if (this.busy) {
      this.more = true;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    const gen = this.generation;
    this.busy = true;
    try {
      do {
        this.more = false;
        const chunk = await api.log(this.jobId, this.offset, CHUNK_BYTES, this.serial);
        if (this.destroyed || gen !== this.generation) return;
        this.size = chunk.size;
        if (this.first && chunk.size > MAX_INITIAL_BYTES) {
          // A long log: start near its end, from the next whole line.
          this.first = false;
          this.dropped = true;
          this.offset = chunk.size - MAX_INITIAL_BYTES;
          this.skipFirstLine = true;
          this.more = true;
          continue;
        }
        this.first = false;
        this.append(chunk.text);
        this.offset = chunk.nextOffset;
        if (chunk.nextOffset < chunk.size) this.more = true;
        this.renderStatus();
      } while (this.more && !this.destroyed && gen === this.generation);
    } catch (err) {
      if (this.destroyed || gen !== this.generation) return;
      if (err instanceof ApiError && err.code === 'STALE_SERIAL') {
        this.onStale();
        return;
      }
      replaceChildren(
        this.status,
        h('span', { class: 'is-error' }, `Could not read the log: ${describeError(err)} `),
        h('button', { type: 'button', class: 'small', onclick: () => this.poke() }, 'Try again'),
      );
    } finally {
      if (gen === this.generation) this.busy = false;
    }
  }

  private append(text: string): void {
    if (text === '') return;
    let all = this.partial + text;
    if (this.skipFirstLine) {
      const nl = all.indexOf('\n');
      if (nl === -1) {
        this.partial = '';
        return;
      }
      all = all.slice(nl + 1);
      this.skipFirstLine = false;
    }
    let parts = all.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines += parts.length;
    if (parts.length >= MAX_LINES) {
      // More new lines than the page keeps: only the last ones become nodes.
      parts = parts.slice(parts.length - MAX_LINES + (this.partial === '' ? 0 : 1));
      replaceChildren(this.pre);
      this.partialNode = undefined;
      this.dropped = true;
    }
    const stick = this.following;
    if (this.partialNode) {
      this.partialNode.remove();
      this.partialNode = undefined;
    }
    if (parts.length > 0) {
      const frag = document.createDocumentFragment();
      for (const line of parts) frag.appendChild(document.createTextNode(`${cleanLine(line)}\n`));
      this.pre.appendChild(frag);
    }
    if (this.partial !== '') {
      this.partialNode = document.createTextNode(cleanLine(this.partial));
      this.pre.appendChild(this.partialNode);
    }
    // Keep the page light: only the last MAX_LINES lines.
    let excess = this.pre.childNodes.length - MAX_LINES;
    while (excess > 0 && this.pre.firstChild && this.pre.firstChild !== this.partialNode) {
      this.pre.removeChild(this.pre.firstChild);
      excess -= 1;
      this.dropped = true;
    }
    if (stick) this.scrollToEnd();
    else this.jump.hidden = false;
  }

  private atBottom(): boolean {
    return this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 24;
  }

  private scrollToEnd(): void {
    this.pre.scrollTop = this.pre.scrollHeight;
    this.following = true;
    this.jump.hidden = true;
  }

  private renderStatus(): void {
    const shown = this.pre.childNodes.length;
    const parts = [this.lines === 0 && this.partial === '' ? 'No output yet.' : `${this.lines} line${this.lines === 1 ? '' : 's'} read`, this.size > 0 ? formatBytes(this.size) : ''];
    replaceChildren(
      this.status,
      parts.filter((p) => p !== '').join(' · '),
      this.dropped ? [` · only the last ${Math.min(shown, MAX_LINES)} lines are shown; the whole log: `, h('a', { href: fileUrl(this.jobId, 'run.log'), download: 'run.log' }, 'run.log')] : null,
    );
    setText(this.jump, 'Jump to the newest lines ↓');
  }

  /** The log's text as shown (for copying). */
  text(): string {
    return this.pre.textContent ?? '';
  }

  destroy(): void {
    this.destroyed = true;
  }
}

/** A line as a terminal would show it: what follows the last carriage return. */
function cleanLine(line: string): string {
  const cr = line.lastIndexOf('\r', line.length - 2);
  return (cr === -1 ? line : line.slice(cr + 1)).replace(/\r$/, '');
}
