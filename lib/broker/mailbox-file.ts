/**
 * Mailboxes that outlive the broker (`--data-dir`, protocol.md section 6.3): the memory store, with every
 * change also appended to a journal, `<dir>/mailboxes.jsonl`, one JSON record a line. A `send` that queued
 * a message is reported `sent` only once the journal is on disk (`synced`: one fdatasync for everything
 * written meanwhile); what a new holder takes is marked done only once its frames have left for the
 * holder's socket (`settle`), so a crash in between delivers it again after the restart, with the same
 * `mailbox` id ([SB-6.3-4]): at least once. A restart replays the journal and writes it anew (only what is
 * still owed), and the journal is written anew whenever it has grown to several times what it holds.
 *
 * Why a journal of our own rather than an embedded database: what is kept is one ordered list per name,
 * appended at one end and taken whole; an append-only file with a group fsync does exactly that, and the
 * well-kept stores on npm (LevelDB, LMDB, SQLite) are native modules, a build or a prebuilt binary for
 * every platform, for an optional feature. Queued requests are not kept: their senders' connections do
 * not outlive the broker, so neither do their outcomes.
 */
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Limits } from '../protocol/wire.js';
import { MemoryMailboxes, type Enqueued, type Expired, type MailboxStore, type MailboxSummary, type QueuedFor, type QueuedItem } from './mailbox.js';

/** One line of the journal. */
type Entry =
  | { k: 'open'; n: string; t: number }
  | { k: 'add'; n: string; id: string; t: number; y: number; b: string; f: string; s: string; tr?: string; c: string; r?: string }
  | { k: 'done'; n: string; ids: string[] }
  | { k: 'close'; n: string }
  | { k: 'held'; n: string }
  | { k: 'free'; n: string };

const FILE = 'mailboxes.jsonl';
/** Write the journal anew once it has this many lines and more than REWRITE_FACTOR times the items it holds. */
const REWRITE_LINES = 50_000;
const REWRITE_FACTOR = 4;

/** A mailbox as the replay rebuilds it: its items by id, in order; closed when a holder took it. */
interface Replayed {
  since: number;
  closed: boolean;
  readonly items: Map<string, Extract<Entry, { k: 'add' }>>;
}

export class FileMailboxes implements MailboxStore {
  readonly durable = true;
  readonly #memory: MemoryMailboxes;
  readonly #dir: string;
  #fd: number;
  #lines = 0;
  /** Lines written, and lines known to be on disk. */
  #written = 0;
  #synced = 0;
  #syncing = false;
  #closed = false;
  #waiters: Array<{ upTo: number; resolve: () => void; reject: (error: Error) => void }> = [];
  /** The durable names that have a holder: after a crash, each gets a mailbox (replay). */
  readonly #held = new Set<string>();

  /** Open the store in `dir` (made if missing), with what its journal still holds. Throws when it cannot. */
  constructor(limits: Limits, dir: string) {
    this.#memory = new MemoryMailboxes(limits);
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    for (const [name, box] of replay(join(dir, FILE))) {
      this.#memory.open(name, box.since);
      for (const add of box.items.values()) this.#memory.restore(name, itemOf(add));
    }
    this.#fd = this.#rewrite();
  }

  get queued(): number {
    return this.#memory.queued;
  }

  get bytes(): number {
    return this.#memory.bytes;
  }

  get size(): number {
    return this.#memory.size;
  }

  has(name: string): boolean {
    return this.#memory.has(name);
  }

  summaries(): Iterable<MailboxSummary> {
    return this.#memory.summaries();
  }

  open(name: string, now: number): boolean {
    const had = this.#memory.has(name);
    const opened = this.#memory.open(name, now);
    if (opened && !had) this.#append({ k: 'open', n: name, t: now });
    return opened;
  }

  enqueue(to: readonly QueuedFor[], item: QueuedItem): Enqueued {
    const enqueued = this.#memory.enqueue(to, item);
    // A queued request's slot is not kept: its sender's connection does not outlive the broker.
    if ('refused' in enqueued || item.request !== undefined) return enqueued;
    enqueued.ids.forEach((id, i) => this.#append(addEntry(to[i].name, id, item)));
    return enqueued;
  }

  take(name: string): readonly QueuedItem[] {
    if (!this.#memory.has(name)) return [];
    const items = this.#memory.take(name);
    this.#append({ k: 'close', n: name });
    return items;
  }

  held(name: string, holding: boolean): void {
    if (holding === this.#held.has(name)) return;
    if (holding) this.#held.add(name);
    else this.#held.delete(name);
    this.#append({ k: holding ? 'held' : 'free', n: name });
  }

  settle(name: string, items: readonly QueuedItem[], written: boolean): void {
    if (items.length === 0) return;
    // Written: done. Not (the holder left first): back in front of the mailbox, for the next holder.
    // A request's slot is not put back: its delivery, attached to the holder that left, ends it.
    if (!written) this.#memory.putBack(name, items.filter((item) => item.request === undefined));
    else this.#done(name, items);
  }

  sweep(now: number): Expired[] {
    const expired = this.#memory.sweep(now);
    const byName = new Map<string, QueuedItem[]>();
    for (const { name, item } of expired) {
      const items = byName.get(name);
      if (items === undefined) byName.set(name, [item]);
      else items.push(item);
    }
    for (const [name, items] of byName) this.#done(name, items);
    return expired;
  }

  /** Resolves once everything written so far is on disk; rejects when the disk refuses. */
  synced(): Promise<void> {
    const upTo = this.#written;
    if (upTo <= this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ upTo, resolve, reject });
      this.#sync();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }

  #done(name: string, items: readonly QueuedItem[]): void {
    const ids = items.flatMap((item) => (item.request === undefined && item.id !== undefined ? [item.id] : []));
    if (ids.length > 0) this.#append({ k: 'done', n: name, ids });
  }

  #append(entry: Entry): void {
    if (this.#closed) return; // its descriptor may be another file's by now
    writeSync(this.#fd, `${JSON.stringify(entry)}\n`);
    this.#written++;
    if (++this.#lines > REWRITE_LINES && this.#lines > REWRITE_FACTOR * (this.#memory.queued + this.#memory.size)) {
      closeSync(this.#fd);
      this.#fd = this.#rewrite();
    }
  }

  /** One fdatasync at a time, for every line written before it started; waiters for later lines wait for the next. */
  #sync(): void {
    if (this.#syncing) return;
    this.#syncing = true;
    const upTo = this.#written;
    fdatasync(this.#fd, (error) => {
      this.#syncing = false;
      if (error === null) this.#synced = Math.max(this.#synced, upTo);
      const waiting = this.#waiters;
      this.#waiters = [];
      for (const waiter of waiting) {
        if (error !== null) waiter.reject(error);
        else if (waiter.upTo <= this.#synced) waiter.resolve();
        else this.#waiters.push(waiter);
      }
      if (this.#waiters.length > 0) this.#sync();
    });
  }

  /** Write the journal anew with what is owed now (in a new file, on disk, then renamed over); its fd. */
  #rewrite(): number {
    const path = join(this.#dir, FILE);
    const fresh = `${path}.new`;
    const fd = openSync(fresh, 'w');
    let lines = 0;
    for (const [name, since, items] of this.#memory.boxes()) {
      const entries: Entry[] = [{ k: 'open', n: name, t: since }];
      for (const item of items) if (item.request === undefined && item.id !== undefined) entries.push(addEntry(name, item.id, item));
      writeSync(fd, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
      lines += entries.length;
    }
    for (const name of this.#held) writeSync(fd, `${JSON.stringify({ k: 'held', n: name } satisfies Entry)}\n`);
    lines += this.#held.size;
    fsyncSync(fd);
    closeSync(fd);
    renameSync(fresh, path);
    const dir = openSync(this.#dir, 'r');
    fsyncSync(dir);
    closeSync(dir);
    this.#lines = lines;
    this.#synced = this.#written;
    return openSync(path, 'a');
  }
}

/**
 * The mailboxes a journal says are owed: every box opened and not taken, and every item added and not
 * done, in order; and an empty one for every durable name still held when the broker stopped without
 * releasing it (a crash), as its release would have opened. A last line cut short by a crash (no newline,
 * or not JSON) is ignored: its `send` was never reported.
 */
function replay(path: string): Map<string, Replayed> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new Map();
  }
  const boxes = new Map<string, Replayed>();
  const held = new Set<string>();
  for (const line of text.split('\n')) {
    let entry: Entry;
    try {
      entry = JSON.parse(line) as Entry;
    } catch {
      continue;
    }
    if (entry.k === 'held') {
      held.add(entry.n);
      continue;
    }
    if (entry.k === 'free' || entry.k === 'open') held.delete(entry.n);
    if (entry.k === 'free') continue;
    const box = boxes.get(entry.n);
    if (entry.k === 'open') {
      if (box === undefined) boxes.set(entry.n, { since: entry.t, closed: false, items: new Map() });
      else box.closed = false;
    } else if (entry.k === 'add') box?.items.set(entry.id, entry);
    else if (entry.k === 'done') for (const id of entry.ids) box?.items.delete(id);
    else if (box !== undefined) box.closed = true;
  }
  // A taken mailbox is owed still what its holder was not shown to have: it opens again with it.
  for (const [name, box] of boxes) if (box.closed && box.items.size === 0 && !held.has(name)) boxes.delete(name);
  // [SB-6.3-1] A durable name held when the broker crashed keeps a mailbox, from the restart on.
  for (const name of held) {
    const box = boxes.get(name);
    if (box === undefined) boxes.set(name, { since: Date.now(), closed: false, items: new Map() });
    else box.closed = false;
  }
  return boxes;
}

function addEntry(name: string, id: string, item: QueuedItem): Entry {
  const { payload } = item;
  const add: Entry = { k: 'add', n: name, id, t: item.queuedAt, y: item.bytes, b: payload.body, f: payload.from, s: payload.suffix, c: item.senderId };
  if (payload.trace !== undefined) add.tr = payload.trace;
  if (item.ref !== undefined) add.r = item.ref;
  return add;
}

function itemOf(add: Extract<Entry, { k: 'add' }>): QueuedItem & { id: string } {
  return { payload: { body: add.b, from: add.f, suffix: add.s, trace: add.tr }, senderId: add.c, ref: add.r, bytes: add.y, queuedAt: add.t, id: add.id };
}
