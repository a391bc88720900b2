/**
 * Mailboxes of offline durable names (protocol.md section 6.3): while a durable name has no holder,
 * what is sent to it waits here, in order, bounded in count (`maxMailboxSize`), in bytes per mailbox
 * (`maxMailboxBytes`) and in all (`maxMailboxBytesTotal`), and in age (`maxMailboxAgeMs`), in at most
 * `maxMailboxes` mailboxes. `MailboxStore` is what the broker asks of a store; three keep it, and pass one
 * suite (test/broker/mailbox-store.test.ts): this file's in memory, `FileMailboxes` (mailbox-file.ts) on
 * disk too, and in cluster mode `ClusterMailboxes` (cluster/mailboxes.ts) in Redis, whose answers are
 * promises.
 *
 * An item names its sender by connection id, and a queued request by its `ack`, not by reference: a
 * queued message keeps no closed connection alive, its `expired` report goes to the sender only if it is
 * still connected, and a store in Redis can keep it as it is.
 */
import type { Limits } from '../protocol/wire.js';
import type { Payload } from './pending.js';

/** A request's slot in a mailbox: its request is found again by its sender and `ack` ([SB-6.3-3]). */
export interface QueuedRequest {
  readonly ack: string;
  /** When the request ends, ms since the epoch: its slot leaves the mailbox then, not at the mailbox's age. */
  readonly deadline: number;
  /** Its stream window ([SB-13-1]); 0 for none. */
  readonly window: number;
}

export interface QueuedItem {
  readonly payload: Payload;
  /** The sending connection's id. */
  readonly senderId: string;
  /** The sender's broker node, in a cluster (cluster/mailboxes.ts); undefined: this broker. */
  readonly node?: string;
  readonly ref?: string;
  /** What the item counts against the byte limits: its body's UTF-8 length. */
  readonly bytes: number;
  readonly queuedAt: number;
  /** Its id in the mailbox ([SB-6.3-4]), which the store gives it when it is queued. */
  readonly id?: string;
  /** A queued request's slot, and which slot of the request it is. */
  readonly request?: QueuedRequest;
  readonly slot?: number;
}

/** A name a send is queued for, and for a request the slot that name has in it. */
export interface QueuedFor {
  readonly name: string;
  readonly slot: number;
}

/**
 * What `enqueue` did: queued the item in every mailbox (`ids`, in their order), or in none, because
 * `name`'s mailbox is at a limit (`full`), the mailboxes together are (`total`) ([SB-6.3-2]), or `name`
 * has no open mailbox any more (`gone`: it got a holder since it was looked up).
 */
export type Enqueued = { readonly ids: readonly string[] } | { readonly refused: 'full' | 'total' | 'gone'; readonly name: string };

/** An item that left its mailbox at its age, and the mailbox's name, for the sender's `expired` report. */
export interface Expired {
  readonly name: string;
  readonly item: QueuedItem;
}

export interface MailboxSummary {
  readonly name: string;
  readonly depth: number;
  readonly bytes: number;
  /** When its oldest message was queued (ms since the epoch); undefined when it is empty. */
  readonly oldestAt: number | undefined;
}

/** What the monitor reads of the mailboxes (in cluster mode, as the last sweep found them). */
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

/**
 * A store of mailboxes. The calls that may go over the network (`open`, `enqueue`, `take`, `sweep`) may
 * answer with a promise; the memory and file stores answer at once.
 */
export interface MailboxStore extends MailboxView {
  /** True when the store outlives the broker: a queued send is reported once `synced` resolves. */
  readonly durable: boolean;
  /**
   * Open a mailbox for a durable name that just lost its holder ([SB-6.3-1]); false when the broker keeps
   * too many, or (in a cluster) when the name has a holder again.
   */
  open(name: string, now: number): boolean | Promise<boolean>;
  /**
   * Queue `item` at the end of the mailbox of each name of `to`, each with the next mailbox id
   * ([SB-6.3-4]): in all of them or in none ([SB-4.3-2]), within the limits ([SB-6.3-2]).
   */
  enqueue(to: readonly QueuedFor[], item: QueuedItem): Enqueued | Promise<Enqueued>;
  /**
   * Close the mailbox of a name that has a holder again; its items, oldest first ([SB-6.3-1]). A mailbox
   * already taken by another member of a pool, and still being written to it, gives nothing.
   */
  take(name: string): readonly QueuedItem[] | Promise<readonly QueuedItem[]>;
  /**
   * What `take` gave a holder was `written` to its socket, or not (it left first): a durable store marks
   * it done, or keeps it for the next holder; the memory store does nothing (at most once).
   */
  settle(name: string, items: readonly QueuedItem[], written: boolean): void;
  /**
   * A durable name got a holder (`holding`), or lost its last one: a durable store remembers which durable
   * names are held, so that after a crash each of them has a mailbox again, as a stop would have given it.
   */
  held(name: string, holding: boolean): void;
  /** Resolves once what was queued so far would outlive the broker (at once for the memory store). */
  synced(): Promise<void>;
  close(): void;
  /** Remove items past their age, and empty mailboxes past it too; the expired items and their names. */
  sweep(now: number): readonly Expired[] | Promise<readonly Expired[]>;
}

interface Box {
  items: QueuedItem[];
  bytes: number;
  since: number;
}

export class MemoryMailboxes implements MailboxStore {
  readonly durable = false;
  readonly #boxes = new Map<string, Box>();
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

  enqueue(to: readonly QueuedFor[], item: QueuedItem): Enqueued {
    const limits = this.#limits;
    for (let i = 0; i < to.length; i++) {
      const { name } = to[i];
      const box = this.#boxes.get(name);
      if (box === undefined) return { refused: 'gone', name };
      if (box.items.length >= limits.maxMailboxSize || box.bytes + item.bytes > limits.maxMailboxBytes) return { refused: 'full', name };
      if (this.#bytes + item.bytes * (i + 1) > limits.maxMailboxBytesTotal) return { refused: 'total', name };
    }
    return { ids: to.map(({ name, slot }) => this.#add(name, item.request === undefined ? item : { ...item, slot })) };
  }

  /** Put an item read back from a journal at the end of `name`'s mailbox, with its id. */
  restore(name: string, item: QueuedItem & { id: string }): void {
    this.#counted = Math.max(this.#counted, Number(item.id.split('-')[1]) || 0);
    this.#add(name, item);
  }

  #add(name: string, item: QueuedItem): string {
    const box = this.#boxes.get(name)!;
    this.#lastMs = Math.max(this.#lastMs, item.queuedAt);
    const id = item.id ?? `${this.#lastMs}-${++this.#counted}`;
    box.items.push(item.id === undefined ? { ...item, id } : item);
    box.bytes += item.bytes;
    this.#queued++;
    this.#bytes += item.bytes;
    return id;
  }

  /** Put `items` back in front of `name`'s mailbox (opened again if it went), in their order. */
  putBack(name: string, items: readonly QueuedItem[]): void {
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
  *boxes(): IterableIterator<[string, number, readonly QueuedItem[]]> {
    for (const [name, box] of this.#boxes) yield [name, box.since, box.items];
  }

  settle(): void {}

  held(): void {}

  synced(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}

  take(name: string): readonly QueuedItem[] {
    const box = this.#boxes.get(name);
    if (box === undefined) return [];
    this.#boxes.delete(name);
    this.#queued -= box.items.length;
    this.#bytes -= box.bytes;
    return box.items;
  }

  sweep(now: number): Expired[] {
    const expired: Expired[] = [];
    const maxAge = this.#limits.maxMailboxAgeMs;
    for (const [name, box] of this.#boxes) {
      const kept = box.items.filter((item) => {
        // A request's slot leaves at the request's deadline, with no report: the request ends then anyway.
        const gone = item.request !== undefined ? item.request.deadline <= now : now - item.queuedAt >= maxAge;
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
