/** The supervisor's event stream: every job change, in the order it was persisted. */
import type { JobEvent } from '../shared/api.js';

export type Listener = (event: JobEvent) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();

  emit(event: JobEvent): void {
    for (const l of this.listeners) l(event);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}
