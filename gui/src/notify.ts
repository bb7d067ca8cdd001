/**
 * The page's message area under the header: errors a person can act on (what went wrong and
 * what to do), short confirmations, and the event-stream connection banner. Messages are text.
 */
import { ApiError } from './api.js';
import { h, replaceChildren, type Child } from './dom.js';

let area: HTMLElement | undefined;
let connection: HTMLElement | undefined;

export function mountNotices(container: HTMLElement): void {
  connection = h('div', { class: 'banner banner-connection', role: 'status', hidden: true, 'data-testid': 'connection-banner' });
  area = h('div', { class: 'notices', 'aria-live': 'polite' });
  replaceChildren(container, connection, area);
}

/** A person's words for an error: what happened and, where it helps, what to do. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'NETWORK':
        return 'The jobvisor server is not reachable. Check your network connection, then try again.';
      case 'SUPERVISOR_UNAVAILABLE':
        return 'The supervisor is not reachable: jobvisor cannot start or follow jobs right now. Try again in a moment.';
      case 'UNAUTHENTICATED':
        return 'Your login has ended. Log in again.';
      case 'FORBIDDEN':
        return `Not allowed: ${err.message}`;
      case 'INTERNAL':
        return 'jobvisor ran into an internal error. Try again; if it persists, tell the administrator (the server log has the details).';
      case 'AGENT_START_FAILED':
      case 'AGENT_START_TIMEOUT':
      case 'AGENT_LOST':
      case 'OP_TIMEOUT':
        return `${err.message} (try again in a moment)`;
      default:
        return err.message;
    }
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

interface NoticeOptions {
  kind?: 'error' | 'info' | 'success';
  /** Removes the notice after this many ms (errors stay until dismissed). */
  timeoutMs?: number;
}

/** Shows a message; the same text again only bumps a counter. Returns a function that removes it. */
export function notify(message: Child, opts: NoticeOptions = {}): () => void {
  if (!area) return () => undefined;
  const kind = opts.kind ?? 'info';
  const textKey = typeof message === 'string' ? `${kind}:${message}` : undefined;
  if (textKey) {
    const same = [...area.children].find((c) => (c as HTMLElement).dataset.key === textKey) as HTMLElement | undefined;
    if (same) {
      const count = Number(same.dataset.count ?? '1') + 1;
      same.dataset.count = String(count);
      const counter = same.querySelector('.notice-count');
      if (counter) counter.textContent = `×${count}`;
      return () => same.remove();
    }
  }
  const remove = () => el.remove();
  const el = h(
    'div',
    { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-key': textKey ?? null },
    h('div', { class: 'notice-text' }, message),
    h('span', { class: 'notice-count' }),
    h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss this message', onclick: remove }, '×'),
  );
  area.appendChild(el);
  if (opts.timeoutMs) setTimeout(remove, opts.timeoutMs);
  return remove;
}

/** Shows an error that is not tied to one field or panel, prefixed with what was being done. */
export function notifyError(err: unknown, doing?: string): void {
  if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return; // the login page says it
  const text = describeError(err);
  notify(doing ? `${doing}: ${text}` : text, { kind: 'error' });
}

export function clearNotices(): void {
  if (area) replaceChildren(area);
}

/** The connection banner: shown while the live event stream is down and being retried. */
export function setConnectionBanner(text: string | null): void {
  if (!connection) return;
  if (text === null) {
    connection.hidden = true;
    replaceChildren(connection);
  } else {
    replaceChildren(connection, text);
    connection.hidden = false;
  }
}
