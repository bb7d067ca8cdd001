/**
 * The supervisor's event stream: every job change, in the order it was persisted. Each event is
 * written to the journal (the `events` table) and numbered before anyone sees it, so a stream
 * that broke, or a supervisor that restarted, can resume after the last number its reader saw.
 */
import type { JobEvent } from '../shared/api.js';
import type { Logger } from '../shared/logger.js';
import type { JobStore, JournaledEvent } from './store.js';

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
    private readonly journal: Pick<JobStore, 'appendEvent' | 'eventsAfter' | 'eventRange'>,
    private readonly log: Logger,
    private readonly keep = JOURNAL_KEEP,
  ) {
    this.lastId = journal.eventRange().latest;
  }

  emit(event: JobEvent): void {
    const data = JSON.stringify(event);
    let id: number;
    try {
      id = this.journal.appendEvent(event.type, data, this.keep);
    } catch (err) {
      // Published all the same (the change it tells of is saved), under the last number: a
      // reader that resumes later will not get it again, and refetches on its next resync.
      this.log.error({ err }, 'could not write an event to the journal');
      id = this.lastId;
    }
    this.lastId = id;
    const published: PublishedEvent = { id, type: event.type, user: event.user, data };
    for (const l of this.listeners) l(published);
  }

  /**
   * The events after `after`, at most `limit`; `resync` when some are no longer kept, or when
   * `after` is a number this journal never gave (another database).
   */
  backlog(after: number, limit: number): Backlog {
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
    for (const end of [...this.enders]) end();
    this.listeners.clear();
    this.enders.clear();
  }

  get size(): number {
    return this.listeners.size;
  }
}
