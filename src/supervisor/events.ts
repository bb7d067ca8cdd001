/** The supervisor's event stream: every job change, in the order it was persisted. */
import type { JobEvent } from '../shared/api.js';

export type Listener = (event: JobEvent) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();
  private readonly enders = new Set<() => void>();

  emit(event: JobEvent): void {
    for (const l of this.listeners) l(event);
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
