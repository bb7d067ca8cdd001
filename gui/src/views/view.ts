/** What every page (view) gets and gives. */
import type { EventStream } from '../events.js';
import type { User } from '../types.js';

export interface ViewContext {
  user: User;
  events: EventStream;
}

export interface View {
  /** The page's content. */
  el: HTMLElement;
  /** The document title. */
  title: string;
  /** Stops its timers and event listeners; called when another page is shown. */
  destroy(): void;
}

/** Collects what a view must undo when it goes away. */
export class Disposer {
  private readonly fns: (() => void)[] = [];
  destroyed = false;

  add(fn: () => void): void {
    this.fns.push(fn);
  }

  interval(fn: () => void, ms: number): void {
    const t = setInterval(fn, ms);
    this.add(() => clearInterval(t));
  }

  dispose(): void {
    this.destroyed = true;
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        fn();
      } catch (err) {
        console.error('cleanup failed', err);
      }
    }
  }
}
