/**
 * Mailboxes of offline durable names (protocol.md section 6.3): while a durable name has no holder,
 * what is sent to it waits here, in order, bounded in count (`maxMailboxSize`) and age
 * (`maxMailboxAgeMs`), in at most `maxMailboxes` mailboxes. In memory, behind the `MailboxStore`
 * interface that a durable store can implement later.
 */
import type { Limits } from '../protocol/index.js';
import type { Payload, PendingRequest } from './pending.js';

export interface QueuedItem<Peer> {
  readonly payload: Payload;
  readonly sender: Peer;
  readonly ref?: string;
  readonly queuedAt: number;
  /** A queued request's slot: the request's deadline governs it, not the mailbox's age. */
  readonly request?: PendingRequest<Peer>;
  readonly slot?: number;
}

export interface MailboxStore<Peer> {
  /** True when `name` is offline and keeps a mailbox. */
  has(name: string): boolean;
  /** Open a mailbox for a durable name that just lost its holder; false when the broker keeps too many. */
  open(name: string, now: number): boolean;
  /** False when the mailbox is full. */
  canQueue(name: string): boolean;
  enqueue(name: string, item: QueuedItem<Peer>): void;
  /** Close the mailbox of a name that has a holder again; its items, oldest first. */
  take(name: string): QueuedItem<Peer>[];
  /** Remove items past their age, and empty mailboxes past it too; the expired items and their names. */
  sweep(now: number): Array<{ name: string; item: QueuedItem<Peer> }>;
  /** Messages waiting, over all mailboxes. */
  readonly queued: number;
  readonly size: number;
}

interface Box<Peer> {
  items: QueuedItem<Peer>[];
  since: number;
}

export class MemoryMailboxes<Peer> implements MailboxStore<Peer> {
  readonly #boxes = new Map<string, Box<Peer>>();
  readonly #limits: Limits;
  #queued = 0;

  constructor(limits: Limits) {
    this.#limits = limits;
  }

  get queued(): number {
    return this.#queued;
  }

  get size(): number {
    return this.#boxes.size;
  }

  has(name: string): boolean {
    return this.#boxes.has(name);
  }

  open(name: string, now: number): boolean {
    if (this.#boxes.has(name)) return true;
    if (this.#boxes.size >= this.#limits.maxMailboxes) return false;
    this.#boxes.set(name, { items: [], since: now });
    return true;
  }

  canQueue(name: string): boolean {
    const box = this.#boxes.get(name);
    return box !== undefined && box.items.length < this.#limits.maxMailboxSize;
  }

  enqueue(name: string, item: QueuedItem<Peer>): void {
    const box = this.#boxes.get(name);
    if (box === undefined) return;
    box.items.push(item);
    this.#queued++;
  }

  take(name: string): QueuedItem<Peer>[] {
    const box = this.#boxes.get(name);
    if (box === undefined) return [];
    this.#boxes.delete(name);
    this.#queued -= box.items.length;
    return box.items;
  }

  sweep(now: number): Array<{ name: string; item: QueuedItem<Peer> }> {
    const expired: Array<{ name: string; item: QueuedItem<Peer> }> = [];
    const maxAge = this.#limits.maxMailboxAgeMs;
    for (const [name, box] of this.#boxes) {
      const kept = box.items.filter((item) => {
        const gone = item.request !== undefined ? !item.request.open : now - item.queuedAt >= maxAge;
        if (gone && item.request === undefined) expired.push({ name, item });
        return !gone;
      });
      this.#queued -= box.items.length - kept.length;
      box.items = kept;
      if (kept.length === 0 && now - box.since >= maxAge) this.#boxes.delete(name);
    }
    return expired;
  }
}
