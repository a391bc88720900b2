/**
 * The bounded queue of operations that wait for the client to be ready (before the first connection,
 * while reconnecting, or while `maxInFlight` operations are already out). Order is kept: operations go
 * out in the order they were made. An operation can leave from the middle (its deadline passed, its
 * signal aborted), which is why this is a Set (insertion-ordered, O(1) delete) rather than an array: a
 * RenewingSet, because items come and go all the time (lib/collections/renewing.ts).
 */
import { RenewingSet } from '../collections/renewing.js';

export class BoundedQueue<T> {
  readonly #items = new RenewingSet<T>();
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.size;
  }

  /** Append `item`; false when the queue is full (the caller rejects with `queue_full`). */
  push(item: T): boolean {
    if (this.#items.size >= this.capacity) return false;
    this.#items.add(item);
    return true;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    for (const item of this.#items) return item;
    return undefined;
  }

  /** Remove and return the oldest item. */
  shift(): T | undefined {
    const item = this.peek();
    if (item !== undefined) this.#items.delete(item);
    return item;
  }

  delete(item: T): boolean {
    return this.#items.delete(item);
  }

  /** Remove and return every item, oldest first. */
  drain(): T[] {
    const items = [...this.#items];
    this.#items.clear();
    return items;
  }
}
