/**
 * Mailboxes of offline durable names (protocol.md section 6.3): while a durable name has no holder,
 * what is sent to it waits here, in order, bounded in count (`maxMailboxSize`), in bytes per mailbox
 * (`maxMailboxBytes`) and in all (`maxMailboxBytesTotal`), and in age (`maxMailboxAgeMs`), in at most
 * `maxMailboxes` mailboxes. In memory here; `FileMailboxes` (mailbox-file.ts) keeps them on disk too.
 *
 * An item names its sender by connection id, not by reference: a queued message keeps no closed
 * connection alive, and its `expired` report goes to the sender only if it is still connected.
 */
import type { Limits } from '../protocol/wire.js';
import type { Payload, PendingRequest } from './pending.js';

export interface QueuedItem<Peer> {
  readonly payload: Payload;
  /** The sending connection's id. */
  readonly senderId: string;
  readonly ref?: string;
  /** What the item counts against the byte limits: its body's UTF-8 length. */
  readonly bytes: number;
  readonly queuedAt: number;
  /** Its id in the mailbox ([SB-6.3-4]), which the store gives it when it is queued. */
  readonly id?: string;
  /** A queued request's slot: the request's deadline governs it, not the mailbox's age. */
  readonly request?: PendingRequest<Peer>;
  readonly slot?: number;
}

export interface MailboxSummary {
  readonly name: string;
  readonly depth: number;
  readonly bytes: number;
  /** When its oldest message was queued (ms since the epoch); undefined when it is empty. */
  readonly oldestAt: number | undefined;
}

/** What the monitor reads of the mailboxes: a store's, or in cluster mode the cluster's (cluster/mailboxes.ts). */
export interface MailboxView {
  /** True when `name` is offline and keeps a mailbox. */
  has(name: string): boolean;
  /** Each mailbox, for introspection (lib/monitor): its messages, their bytes, the oldest one's queuedAt. */
  summaries(): Iterable<MailboxSummary>;
  /** Messages waiting, over all mailboxes. */
  readonly queued: number;
  /** Bytes waiting, over all mailboxes. */
  readonly bytes: number;
  readonly size: number;
}

export interface MailboxStore<Peer> extends MailboxView {
  /** True when the store outlives the broker: a queued send is reported once `synced` resolves. */
  readonly durable: boolean;
  /** Open a mailbox for a durable name that just lost its holder; false when the broker keeps too many. */
  open(name: string, now: number): boolean;
  /**
   * Whether `bytes` more fit in `name`'s mailbox: `full` (its count or `maxMailboxBytes`), `total`
   * (`maxMailboxBytesTotal`, with `alsoQueued` bytes the same send queues elsewhere).
   */
  canQueue(name: string, bytes: number, alsoQueued?: number): 'ok' | 'full' | 'total';
  /** Queue `item` at the end of `name`'s mailbox, with the next mailbox id ([SB-6.3-4]); the id. */
  enqueue(name: string, item: QueuedItem<Peer>): string | undefined;
  /** Close the mailbox of a name that has a holder again; its items, oldest first. */
  take(name: string): QueuedItem<Peer>[];
  /**
   * What `take` gave a holder was `written` to its socket, or not (it left first): a durable store marks
   * it done, or puts it back in front of the mailbox; the memory store does nothing (at most once).
   */
  settle(name: string, items: readonly QueuedItem<Peer>[], written: boolean): void;
  /**
   * A durable name got a holder (`holding`), or lost its last one: a durable store remembers which durable
   * names are held, so that after a crash each of them has a mailbox again, as a stop would have given it.
   */
  held(name: string, holding: boolean): void;
  /** Resolves once what was queued so far would outlive the broker (at once for the memory store). */
  synced(): Promise<void>;
  close(): void;
  /** Remove items past their age, and empty mailboxes past it too; the expired items and their names. */
  sweep(now: number): Array<{ name: string; item: QueuedItem<Peer> }>;
}

interface Box<Peer> {
  items: QueuedItem<Peer>[];
  bytes: number;
  since: number;
}

export class MemoryMailboxes<Peer> implements MailboxStore<Peer> {
  readonly durable = false;
  readonly #boxes = new Map<string, Box<Peer>>();
  readonly #limits: Limits;
  #queued = 0;
  #bytes = 0;
  /** The last mailbox id given: `<ms>-<n>`, `n` counting every item this broker queued. */
  #lastMs = 0;
  #counted = 0;

  constructor(limits: Limits) {
    this.#limits = limits;
  }

  get queued(): number {
    return this.#queued;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#boxes.size;
  }

  has(name: string): boolean {
    return this.#boxes.has(name);
  }

  *summaries(): IterableIterator<MailboxSummary> {
    for (const [name, box] of this.#boxes) {
      yield { name, depth: box.items.length, bytes: box.bytes, oldestAt: box.items[0]?.queuedAt };
    }
  }

  open(name: string, now: number): boolean {
    if (this.#boxes.has(name)) return true;
    if (this.#boxes.size >= this.#limits.maxMailboxes) return false;
    this.#boxes.set(name, { items: [], bytes: 0, since: now });
    return true;
  }

  canQueue(name: string, bytes: number, alsoQueued = 0): 'ok' | 'full' | 'total' {
    const box = this.#boxes.get(name);
    const limits = this.#limits;
    if (box === undefined || box.items.length >= limits.maxMailboxSize || box.bytes + bytes > limits.maxMailboxBytes) return 'full';
    return this.#bytes + alsoQueued + bytes > limits.maxMailboxBytesTotal ? 'total' : 'ok';
  }

  enqueue(name: string, item: QueuedItem<Peer>): string | undefined {
    const box = this.#boxes.get(name);
    if (box === undefined) return undefined;
    this.#lastMs = Math.max(this.#lastMs, item.queuedAt);
    // An item read back from a journal keeps its id; the count goes on past it.
    const id = item.id ?? `${this.#lastMs}-${++this.#counted}`;
    if (item.id !== undefined) this.#counted = Math.max(this.#counted, Number(item.id.split('-')[1]) || 0);
    box.items.push(item.id === undefined ? { ...item, id } : item);
    box.bytes += item.bytes;
    this.#queued++;
    this.#bytes += item.bytes;
    return id;
  }

  /** Put `items` back in front of `name`'s mailbox (opened again if it went), in their order. */
  putBack(name: string, items: readonly QueuedItem<Peer>[]): void {
    let box = this.#boxes.get(name);
    if (box === undefined) {
      box = { items: [], bytes: 0, since: items[0]?.queuedAt ?? Date.now() };
      this.#boxes.set(name, box);
    }
    box.items.unshift(...items);
    for (const item of items) {
      box.bytes += item.bytes;
      this.#bytes += item.bytes;
    }
    this.#queued += items.length;
  }

  /** Every mailbox: its name, when it opened, its items. */
  *boxes(): IterableIterator<[string, number, readonly QueuedItem<Peer>[]]> {
    for (const [name, box] of this.#boxes) yield [name, box.since, box.items];
  }

  settle(): void {}

  held(): void {}

  synced(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}

  take(name: string): QueuedItem<Peer>[] {
    const box = this.#boxes.get(name);
    if (box === undefined) return [];
    this.#boxes.delete(name);
    this.#queued -= box.items.length;
    this.#bytes -= box.bytes;
    return box.items;
  }

  sweep(now: number): Array<{ name: string; item: QueuedItem<Peer> }> {
    const expired: Array<{ name: string; item: QueuedItem<Peer> }> = [];
    const maxAge = this.#limits.maxMailboxAgeMs;
    for (const [name, box] of this.#boxes) {
      const kept = box.items.filter((item) => {
        const gone = item.request !== undefined ? !item.request.open : now - item.queuedAt >= maxAge;
        if (gone && item.request === undefined) expired.push({ name, item });
        if (gone) {
          box.bytes -= item.bytes;
          this.#bytes -= item.bytes;
        }
        return !gone;
      });
      this.#queued -= box.items.length - kept.length;
      box.items = kept;
      if (kept.length === 0 && now - box.since >= maxAge) this.#boxes.delete(name);
    }
    return expired;
  }
}
