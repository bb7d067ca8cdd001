/**
 * The supervisor's event stream: every job change, in the order it was persisted. Each event is
 * numbered before anyone sees it and written to the journal (the `events` table), so a stream
 * that broke, or a supervisor that restarted, can resume after the last number its reader saw.
 *
 * The journal is written once per turn of the event loop (issue 13: one transaction for all the
 * events of a turn, not a commit each; ~1,000 log lines a second made ~2,000 commits). The bus
 * numbers the events itself as it publishes them (one more than the last) and writes them at the
 * end of the turn (`setImmediate`), before the streams to the server write them (their writes
 * are queued after it, in the same turn: no event leaves the process before it is journaled).
 * A backlog read, or close(), writes what is waiting first.
 */
import type { JobEvent } from '../shared/api.js';
import type { Logger } from '../shared/logger.js';
import type { JobStore, JournaledEvent } from './store.js';
import { setImmediate } from 'node:timers';

/** An event as published: its journal number, and its JSON text (made once for every reader). */
export interface PublishedEvent {
  id: number;
  type: JobEvent['type'];
  /** Whose event it is (sent on the stream as a field of its own, so its reader need not parse `data`). */
  user: string;
  data: string;
}

export type Listener = (event: PublishedEvent) => void;

/** How far back a stream can resume: the journal keeps about this many of the latest events. */
export const JOURNAL_KEEP = 50_000;

/** What a reader resuming after `after` gets: the events it missed, or `resync` if they are gone. */
export type Backlog = { resync: false; events: JournaledEvent[]; latest: number } | { resync: true; latest: number };

export class EventBus {
  private readonly listeners = new Set<Listener>();
  private readonly enders = new Set<() => void>();
  private lastId = 0;

  constructor(
    private readonly journal: Pick<JobStore, 'appendEvents' | 'eventsAfter' | 'eventRange'>,
    private readonly log: Logger,
    private readonly keep = JOURNAL_KEEP,
  ) {
    this.lastId = journal.eventRange().latest;
  }

  emit(event: JobEvent): void {
    const data = JSON.stringify(event);
    const id = ++this.lastId;
    if (this.unwritten.length === 0) setImmediate(this.writeJournal);
    this.unwritten.push({ id, type: event.type, data });
    const published: PublishedEvent = { id, type: event.type, user: event.user, data };
    for (const l of this.listeners) l(published);
  }

  /** The events published and not journaled yet (this turn's). */
  private unwritten: JournaledEvent[] = [];

  /** Writes the events waiting to the journal, in one transaction. */
  private readonly writeJournal = (): void => {
    if (this.unwritten.length === 0) return;
    const events = this.unwritten;
    this.unwritten = [];
    try {
      this.journal.appendEvents(events, this.keep);
    } catch (err) {
      // They were published all the same (the changes they tell of are saved): a reader that
      // resumes from before them will not get them again (it refetches on its next resync).
      this.log.error({ err, events: events.length }, 'could not write events to the journal');
    }
  };

  /**
   * The events after `after`, at most `limit`; `resync` when some are no longer kept, or when
   * `after` is a number this journal never gave (another database).
   */
  backlog(after: number, limit: number): Backlog {
    this.writeJournal();
    const { oldest, latest } = this.journal.eventRange();
    if (after > latest || after < oldest - 1) return { resync: true, latest };
    const events = this.journal.eventsAfter(after, limit);
    return { resync: false, events, latest };
  }

  /** The number of the latest event published (0 before the first). */
  get latest(): number {
    return this.lastId;
  }

  /** `onClose` runs when the bus closes (the supervisor stops), so a stream can end. */
  subscribe(listener: Listener, onClose: () => void = () => undefined): () => void {
    this.listeners.add(listener);
    this.enders.add(onClose);
    return () => {
      this.listeners.delete(listener);
      this.enders.delete(onClose);
    };
  }

  close(): void {
    this.writeJournal();
    for (const end of [...this.enders]) end();
    this.listeners.clear();
    this.enders.clear();
  }

  get size(): number {
    return this.listeners.size;
  }
}
