/**
 * The live event stream (`GET /api/events`, Server-Sent Events, authenticated by the login
 * cookie). It carries changes only, so every view fetches the current state itself and fetches
 * it again on `resync`, when the server says events were missed. A reconnect resumes after the
 * last event id seen (`?lastEventId=`), so the server sends what was missed meanwhile; only a
 * reconnect with no id yet refetches by itself. While the stream is down a banner says so and the
 * stream is retried with a growing pause (1 s up to 15 s); a login that has ended sends the user
 * to log in.
 */
import { api, ApiError } from './api.js';
import { setConnectionBanner } from './notify.js';
import type { JobEventData, LogEventData, ProgressEventData } from './types.js';
import type { PipelineEventData } from './pipelines.js';

interface Listeners {
  job: (e: JobEventData) => void;
  log: (e: LogEventData) => void;
  /** A run's progress changed (and nothing else of its view). */
  progress: (e: ProgressEventData) => void;
  /** A pipeline changed (null: it was deleted). */
  pipeline: (e: PipelineEventData) => void;
  /** Refetch everything shown: events may have been missed. */
  resync: () => void;
  /** The stream's state changed (for the header's live indicator). */
  state: (connected: boolean) => void;
}

type Kind = keyof Listeners;

const MIN_RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;

export class EventStream {
  private source: EventSource | undefined;
  private readonly listeners: { [K in Kind]: Set<Listeners[K]> } = { job: new Set(), log: new Set(), progress: new Set(), pipeline: new Set(), resync: new Set(), state: new Set() };
  private retryMs = MIN_RETRY_MS;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private countdownTimer: ReturnType<typeof setInterval> | undefined;
  private lost = false;
  private stopped = true;
  /** The id of the last event received, sent back on reconnect. */
  private lastEventId = '';
  connected = false;

  constructor(
    /** Called when the stream failed because the login has ended. */
    private readonly onLoginEnded: () => void,
    private readonly url = '/api/events',
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.retryNow);
    document.addEventListener('visibilitychange', this.onVisible);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.retryNow);
    document.removeEventListener('visibilitychange', this.onVisible);
    this.clearTimers();
    this.source?.close();
    this.source = undefined;
    this.lost = false;
    this.setConnected(false);
    setConnectionBanner(null);
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends Kind>(kind: K, fn: Listeners[K]): () => void {
    this.listeners[kind].add(fn);
    return () => this.listeners[kind].delete(fn);
  }

  private emit<K extends Kind>(kind: K, ...args: Parameters<Listeners[K]>): void {
    for (const fn of [...this.listeners[kind]]) {
      try {
        (fn as (...a: Parameters<Listeners[K]>) => void)(...args);
      } catch (err) {
        console.error(`event listener (${kind}) failed`, err);
      }
    }
  }

  private open(): void {
    this.clearTimers();
    this.source?.close();
    const source = new EventSource(this.lastEventId ? `${this.url}?lastEventId=${encodeURIComponent(this.lastEventId)}` : this.url);
    this.source = source;
    source.addEventListener('open', () => {
      if (source !== this.source) return;
      this.retryMs = MIN_RETRY_MS;
      this.setConnected(true);
      setConnectionBanner(null);
      if (this.lost) {
        this.lost = false;
        if (!this.lastEventId) this.emit('resync');
      }
    });
    source.addEventListener('job', (e) => this.dispatch(e, 'job'));
    source.addEventListener('log', (e) => this.dispatch(e, 'log'));
    source.addEventListener('progress', (e) => this.dispatch(e, 'progress'));
    source.addEventListener('pipeline', (e) => this.dispatch(e, 'pipeline'));
    source.addEventListener('resync', () => this.emit('resync'));
    // A deleted job: every view shown refetches (the job page then says it is gone).
    source.addEventListener('deleted', () => this.emit('resync'));
    source.addEventListener('error', () => {
      if (source !== this.source || this.stopped) return;
      // The browser would retry by itself, but not after an HTTP error; retry here, always.
      source.close();
      this.source = undefined;
      this.lost = true;
      this.setConnected(false);
      void this.scheduleRetry();
    });
  }

  private dispatch(e: Event, kind: 'job' | 'log' | 'progress' | 'pipeline'): void {
    const id = (e as MessageEvent<string>).lastEventId;
    if (id) this.lastEventId = id;
    let data: unknown;
    try {
      data = JSON.parse((e as MessageEvent<string>).data);
    } catch {
      return;
    }
    if (kind === 'job') this.emit('job', data as JobEventData);
    else if (kind === 'pipeline') this.emit('pipeline', data as PipelineEventData);
    else if (kind === 'progress') this.emit('progress', data as ProgressEventData);
    else this.emit('log', data as LogEventData);
  }

  private async scheduleRetry(): Promise<void> {
    // An ended login is no reason to retry: the unauthenticated handler takes the user to log in.
    try {
      await api.me();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        this.stop();
        this.onLoginEnded();
        return;
      }
    }
    if (this.stopped || this.source) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    const until = Date.now() + wait;
    const show = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConnectionBanner(`The live connection to jobvisor was lost; what you see may be out of date. Retrying${s > 0 ? ` in ${s} s` : ''}…`);
    };
    show();
    this.clearTimers();
    this.countdownTimer = setInterval(show, 1000);
    this.retryTimer = setTimeout(() => this.open(), wait);
  }

  private readonly retryNow = (): void => {
    if (!this.stopped && !this.source) {
      this.retryMs = MIN_RETRY_MS;
      this.open();
    }
  };

  private readonly onVisible = (): void => {
    if (document.visibilityState === 'visible') this.retryNow();
  };

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    this.retryTimer = undefined;
    this.countdownTimer = undefined;
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    this.emit('state', connected);
  }
}
