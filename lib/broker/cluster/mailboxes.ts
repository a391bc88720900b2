/**
 * Mailboxes in cluster mode (protocol.md sections 6.3 and 16, [SB-16-6]): the MailboxStore of a cluster
 * node, in Redis (scripts.ts), so a message queued on any node reaches the name's next holder on any node,
 * in order. The release of a durable name opens its mailbox in the same script (RELEASE; `open` does the
 * same alone); the node of a sender queues into it (ENQUEUE: all of a send's names or none, within the
 * limits, and only while the name has no holder); the node that claimed the name takes its entries
 * (TAKE), writes them, and removes them once they are on the holder's socket (`settle`: DONE). A node
 * that dies before that leaves them to the next holder, so delivery is at least once, and a message
 * carries its entry's id (`mailbox`) for the receiver to drop repeats. Any node ages the mailboxes
 * (SWEEP), and the sender's node tells the sender `expired`.
 *
 * A queued request stays in the pending table of its sender's node, which decides its one outcome
 * ([SB-6.3-3]). An item names that node (`node`, undefined for this one); a node that takes a request's
 * slot whose sender is elsewhere writes the message itself, in its place among the others, with a
 * delivery id it draws, and tells the sender's node (`att`), which attaches that delivery to the request
 * (`writeElsewhere`).
 */
import { encodeMessage } from '../../protocol/wire.js';
import type { Enqueued, Expired, MailboxStore, MailboxSummary, QueuedFor, QueuedItem } from '../mailbox.js';
import { deliveryId } from '../pending.js';
import { traceFor } from '../route.js';
import type { Session } from '../session.js';
import { whenLive, type NodeCore } from './core.js';
import type { Header, Link } from './link.js';
import { DONE, ENQUEUE, OPEN, SWEEP, TAKE } from './scripts.js';

/** The header of an item: who sent it and when; for a request's slot, which one and until when. */
interface ItemHeader {
  /** Queued at, ms since the epoch. */
  t: number;
  /** The body's UTF-8 bytes, which the limits count. */
  y: number;
  f: string;
  s: string;
  tr?: string;
  /** The sender's node and connection, for `expired` and for the request. */
  o: string;
  c: string;
  r?: string;
  /** A request's ack, slot, deadline (ms since the epoch) and stream window. */
  a?: string;
  k?: number;
  e?: number;
  w?: number;
}

/** How often, and how far apart, a node tries to remove what it delivered from a mailbox while Redis does not answer. */
const DONE_TRIES = 10;
const DONE_RETRY_MS = 500;

/** The delivery `id` of this node's `session` belongs to a request kept on node `origin` (inbound.ts). */
type Inbound = (session: Session, id: string, origin: string) => void;

/** How many of the cluster's mailboxes a node describes to its monitor; all of them are counted. */
const MAX_LISTED = 1000;

/**
 * The cluster's mailboxes as the last sweep found them, for the monitor ([SB-16-6]): the broker sweeps
 * every second, so this is at most that old.
 */
interface Seen {
  readonly size: number;
  readonly queued: number;
  readonly bytes: number;
  readonly listed: ReadonlyMap<string, MailboxSummary>;
}

export class ClusterMailboxes implements MailboxStore {
  /** Redis, not the node, keeps what is queued: a node's death loses none of it. */
  readonly durable = true;
  readonly #core: NodeCore;
  readonly #inbound: Inbound;
  /** The DONEs out now. */
  readonly #settling = new Set<Promise<void>>();
  #seen: Seen = { size: 0, queued: 0, bytes: 0, listed: new Map() };

  constructor(core: NodeCore, inbound: Inbound) {
    this.#core = core;
    this.#inbound = inbound;
  }

  // MailboxView: the cluster's mailboxes, as the last sweep found them.

  has(name: string): boolean {
    return this.#seen.listed.has(name);
  }

  summaries(): Iterable<MailboxSummary> {
    return this.#seen.listed.values();
  }

  get size(): number {
    return this.#seen.size;
  }

  get queued(): number {
    return this.#seen.queued;
  }

  get bytes(): number {
    return this.#seen.bytes;
  }

  /** Keys and arguments for RELEASE to open `name`'s mailbox, when `open`. */
  releaseArgs(name: string, open: boolean): { keys: string[]; args: string[] } {
    const { link, options, host } = this.#core;
    return {
      keys: [link.key('box:', name), link.key('boxes', '')],
      args: [options.prefix, open ? '1' : '0', String(Date.now()), String(host.limits.maxMailboxes), name],
    };
  }

  async open(name: string, now: number): Promise<boolean> {
    const { link, options, host } = this.#core;
    const keys = [link.key('name:', name), link.key('pool:', name), link.key('box:', name)];
    const args = [options.prefix, name, String(now), String(host.limits.maxMailboxes)];
    return (await this.#eval(OPEN, keys, args)) === 1;
  }

  async enqueue(to: readonly QueuedFor[], item: QueuedItem): Promise<Enqueued> {
    const { link, options, host } = this.#core;
    const { limits } = host;
    const { payload, request } = item;
    const keys: string[] = [];
    const items: string[] = [];
    for (const { name, slot } of to) {
      keys.push(link.key('name:', name), link.key('pool:', name), link.key('box:', name), link.key('boxq:', name));
      const header: ItemHeader = { t: item.queuedAt, y: item.bytes, f: payload.from, s: payload.suffix, o: item.node ?? this.#core.id(), c: item.senderId };
      if (payload.trace !== undefined) header.tr = payload.trace;
      if (item.ref !== undefined) header.r = item.ref;
      if (request !== undefined) {
        header.a = request.ack;
        header.k = slot;
        header.e = request.deadline;
        if (request.window > 0) header.w = request.window;
      }
      items.push(`${JSON.stringify(header)}\n${payload.body}`);
    }
    keys.push(link.key('boxbytes', ''), link.key('boxseq', ''));
    const limitArgs = [limits.maxMailboxSize, limits.maxMailboxBytes, limits.maxMailboxBytesTotal].map(String);
    const args = [options.prefix, String(item.bytes), ...limitArgs, String(item.queuedAt), ...items];
    const [kind, ...rest] = (await this.#eval(ENQUEUE, keys, args)) as string[];
    if (kind === 'ok') return { ids: rest };
    const { name } = to[Number(rest[0]) - 1];
    return { refused: kind === 'full' || kind === 'total' ? kind : 'gone', name };
  }

  /** TAKE: what waited in `name`'s mailbox for its new holder ([SB-6.3-1]), which closes it. */
  async take(name: string): Promise<readonly QueuedItem[]> {
    const { link, options } = this.#core;
    const keys = [link.key('pool:', name), link.key('box:', name), link.key('boxq:', name), link.key('boxes', '')];
    const entries = (await this.#eval(TAKE, keys, [options.prefix, name])) as string[];
    const items: QueuedItem[] = [];
    for (let i = 0; i < entries.length; i += 2) items.push(this.#itemOf(entries[i + 1], entries[i]));
    return items;
  }

  /** Once they are on the holder's socket, the entries leave the mailbox (DONE); if not, the next holder gets them. */
  settle(name: string, items: readonly QueuedItem[], written: boolean): void {
    if (!written || items.length === 0) return;
    const done = this.#done(name, items.map((item) => item.id!), DONE_TRIES);
    this.#settling.add(done);
    void done.finally(() => this.#settling.delete(done));
  }

  /** Redis keeps which durable names are held (CLAIM's mark), for a node that dies. */
  held(): void {}

  /** What ENQUEUE queued is in Redis when it answers; what was settled, once DONE answered (the first time). */
  async synced(): Promise<void> {
    await Promise.all(this.#settling);
  }

  close(): void {}

  /**
   * [SB-16-6] Write to `session`, which took `name` on this node, a request's slot whose sender is on node
   * `item.node`: the message goes out here, in its place, and that node attaches it (`att`).
   */
  writeElsewhere(session: Session, name: string, item: QueuedItem): void {
    const { payload, request } = item;
    const id = deliveryId();
    let suffix = payload.suffix + traceFor(session, payload);
    if (request!.window > 0 && session.dialect === 'extended') suffix += `,"credit":${request!.window}`; // [SB-13-1]
    this.#inbound(session, id, item.node!);
    session.writeDelivery(id, name, encodeMessage(payload.body, payload.from, id, suffix));
    const att: Header = { t: 'att', o: this.#core.id(), c: session.id, l: session.dialect, n: name, s: item.senderId, a: request!.ack, k: item.slot ?? 0, d: id };
    this.#core.link.publish(item.node!, att, '');
  }

  /** DONE: the entries `ids` of `name`'s mailbox were written to its holder; tried again while Redis does not answer. */
  async #done(name: string, ids: readonly string[], tries: number): Promise<void> {
    const { link } = this.#core;
    const keys = [link.key('box:', name), link.key('boxq:', name), link.key('boxes', ''), link.key('boxbytes', '')];
    try {
      await link.eval(DONE, keys, [name, ...ids]);
    } catch {
      // Left in Redis, the entries reach the name's next holder again: a repeat, never a loss.
      if (tries > 1) setTimeout(() => void this.#done(name, ids, tries - 1), DONE_RETRY_MS).unref();
    }
  }

  /**
   * Age every mailbox ([SB-6.3-2]); what is left is what the monitor sees until the next sweep. Returns
   * what expired of the messages sent from this node with a `ref`; the nodes of the others' senders are
   * told (`exp`). A request's slot ends with its request, on its sender's node.
   */
  async sweep(now: number): Promise<readonly Expired[]> {
    const { link, options, host } = this.#core;
    const { limits } = host;
    const keys = [link.key('boxes', ''), link.key('boxbytes', '')];
    const args = [options.prefix, String(now), String(limits.maxMailboxAgeMs), String(MAX_LISTED)];
    const [gone, listed] = (await this.#eval(SWEEP, keys, args)) as [string[], string[]];
    this.#seen = seen(listed);
    const expired: Expired[] = [];
    for (let i = 0; i < gone.length; i += 2) {
      const name = gone[i];
      const item = this.#itemOf(gone[i + 1]);
      if (item.request !== undefined || item.ref === undefined) continue;
      if (item.node === undefined) expired.push({ name, item });
      else link.publish(item.node, { t: 'exp', o: this.#core.id(), c: item.senderId, n: name, r: item.ref }, '');
    }
    return expired;
  }

  /** A script, run only while this node holds its lease; ClusterUnavailable when it does not, or Redis does not answer. */
  #eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return whenLive(this.#core, () => this.#core.link.eval(script, keys, args));
  }

  /** An entry as the store gives it: its sender's node undefined when it is this one. */
  #itemOf(entry: string, id?: string): QueuedItem {
    const cut = entry.indexOf('\n');
    const header = JSON.parse(entry.slice(0, cut)) as ItemHeader;
    const payload = { body: entry.slice(cut + 1), from: header.f, suffix: header.s, trace: header.tr };
    const node = header.o === this.#core.id() ? undefined : header.o;
    const request = header.a === undefined ? undefined : { ack: header.a, deadline: header.e ?? 0, window: header.w ?? 0 };
    return { payload, senderId: header.c, node, ref: header.r, bytes: header.y, queuedAt: header.t, id, request, slot: header.k };
  }
}

function seen(listed: readonly string[]): Seen {
  const boxes = new Map<string, MailboxSummary>();
  for (let i = 3; i + 3 < listed.length; i += 4) {
    const name = listed[i];
    boxes.set(name, { name, depth: Number(listed[i + 1]), bytes: Number(listed[i + 2]), oldestAt: listed[i + 3] === '' ? undefined : Number(listed[i + 3]) });
  }
  return { size: Number(listed[0]), queued: Number(listed[1]), bytes: Number(listed[2]), listed: boxes };
}

/**
 * Whether Redis writes every change to its disk before it answers (`appendonly yes` with `appendfsync
 * always`): only then is a message that a node reported `queued` kept through a crash of Redis itself
 * ([SB-16-6]). Undefined when Redis will not say (CONFIG is refused on some managed services).
 */
export async function fsyncsEveryWrite(link: Link): Promise<boolean | undefined> {
  try {
    const config = await link.withTimeout(link.cmd.configGet('append*'));
    return config.appendonly === 'yes' && config.appendfsync === 'always';
  } catch {
    return undefined;
  }
}
