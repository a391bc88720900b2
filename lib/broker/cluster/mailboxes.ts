/**
 * Mailboxes in cluster mode (protocol.md sections 6.3 and 16, [SB-16-6]): the mailbox of an offline
 * durable name lives in Redis (scripts.ts), so a message queued on any node reaches the name's next holder
 * on any node, in order. The node of the connection that released the name opens it (RELEASE); the node
 * of a sender queues into it (ENQUEUE, all of a send's names or none, within the limits); the node that
 * claims the name is given its entries in the same script, writes them, and removes them once they are
 * on the holder's socket (DONE): a node that dies before that leaves them to the next holder, so delivery
 * is at least once, and a message carries its entry's id (`mailbox`) for the receiver to drop repeats.
 * Any node ages the mailboxes (SWEEP), and the sender's node tells the sender `expired`.
 *
 * A queued request stays in the pending table of its sender's node, which decides its one outcome ([SB-6.3-3]).
 * The claiming node writes the message itself, in its place among the others, with a delivery id it
 * draws, and tells the sender's node (`att`), which attaches that delivery to the request.
 */
import { encodeMessage, type Limits } from '../../protocol/wire.js';
import type { MailboxSummary, MailboxView } from '../mailbox.js';
import { deliveryId, type Payload } from '../pending.js';
import { traceFor, writeQueued } from '../route.js';
import type { Session } from '../session.js';
import type { Header, Link } from './link.js';
import { DONE, ENQUEUE, SWEEP } from './scripts.js';

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

/** What a queued send is: its body and where it came from; for a request, its ack and deadline. */
export interface Queueing {
  readonly sender: Session;
  readonly payload: Payload;
  readonly bytes: number;
  readonly ref?: string;
  readonly request?: { readonly ack: string; readonly deadline: number; readonly window: number };
}

export type Enqueued = 'ok' | 'raced' | { refused: 'full' | 'total'; name: string };

/** How often, and how far apart, a node tries to remove what it delivered from a mailbox while Redis does not answer. */
const DONE_TRIES = 10;
const DONE_RETRY_MS = 500;

/** What the mailboxes need of their node. */
export interface MailboxHost {
  readonly link: Link;
  readonly prefix: string;
  /** This node's id now (it changes when the node takes a new lease). */
  readonly id: () => string;
  readonly limits: Readonly<Limits>;
  /** A queued request's slot whose sender is on this node: attach it to `session` under `name` and write it. */
  attachHere(senderId: string, ack: string, slot: number, session: Session, name: string): void;
  /** The delivery `id` of this node's `session` belongs to a request kept on `origin`. */
  inbound(session: Session, id: string, origin: string): void;
  /** Tell the sender of a queued message that it expired ([SB-6.3-2]). */
  expired(senderId: string, name: string, ref: string): void;
}

/** How many of the cluster's mailboxes a node describes to its monitor; all of them are counted. */
const MAX_LISTED = 1000;

/**
 * The cluster's mailboxes as the last sweep found them, for the monitor ([SB-16-6]): a sweep runs on
 * every lease tick, so this is at most a tick old.
 */
interface Seen {
  readonly size: number;
  readonly queued: number;
  readonly bytes: number;
  readonly listed: ReadonlyMap<string, MailboxSummary>;
}

export class ClusterMailboxes implements MailboxView {
  readonly #host: MailboxHost;
  #seen: Seen = { size: 0, queued: 0, bytes: 0, listed: new Map() };

  constructor(host: MailboxHost) {
    this.#host = host;
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

  /** The keys of `name`'s mailbox that CLAIM and JOIN take it with (scripts.ts `take`). */
  takeKeys(name: string): string[] {
    const { link } = this.#host;
    return [link.key('box:', name), link.key('boxq:', name), link.key('boxes', '')];
  }

  /** Keys and arguments for RELEASE to open `name`'s mailbox, when `open`. */
  releaseArgs(name: string, open: boolean): { keys: string[]; args: string[] } {
    const { link } = this.#host;
    return {
      keys: [link.key('box:', name), link.key('boxes', '')],
      args: [this.#host.prefix, open ? '1' : '0', String(Date.now()), String(this.#host.limits.maxMailboxes), name],
    };
  }

  /** Queue a send for the offline names `queued` (with their slots): all, or none and why ([SB-6.3-2]). */
  async enqueue(queued: ReadonlyArray<{ name: string; slot: number }>, what: Queueing): Promise<Enqueued> {
    const { link, limits } = this.#host;
    const { sender, payload, request } = what;
    const keys: string[] = [];
    const items: string[] = [];
    const now = Date.now();
    for (const { name, slot } of queued) {
      keys.push(link.key('name:', name), link.key('pool:', name), link.key('box:', name), link.key('boxq:', name));
      const header: ItemHeader = { t: now, y: what.bytes, f: payload.from, s: payload.suffix, o: this.#host.id(), c: sender.id };
      if (payload.trace !== undefined) header.tr = payload.trace;
      if (what.ref !== undefined) header.r = what.ref;
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
    const args = [this.#host.prefix, String(what.bytes), ...limitArgs, String(now), ...items];
    const [kind, index] = (await link.eval(ENQUEUE, keys, args)) as [string, string?];
    if (kind === 'ok') return 'ok';
    if (kind === 'full' || kind === 'total') return { refused: kind, name: queued[Number(index) - 1].name };
    return 'raced';
  }

  /**
   * Write to `session`, which just took `name`, what waited in its mailbox (`entries`: id, item, id,
   * item..., oldest first) ([SB-6.3-1]); once it is all on the session's socket, it leaves the mailbox.
   * A message carries its entry's id (`mailbox`) to an extended receiver ([SB-16-6]). A request's slot
   * past its deadline is left out: its sender's node has ended it.
   */
  deliver(session: Session, name: string, entries: readonly string[]): void {
    if (entries.length === 0) return;
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const entry = entries[i];
      ids.push(entry);
      const { header, body } = decode(entries[i + 1]);
      const payload: Payload = { body, from: header.f, suffix: header.s, trace: header.tr };
      if (header.a === undefined) {
        writeQueued(session, payload, entry);
        continue;
      }
      if ((header.e ?? 0) <= now) continue;
      if (header.o === this.#host.id()) {
        this.#host.attachHere(header.c, header.a, header.k ?? 0, session, name);
        continue;
      }
      // The sender is on another node: the message goes out here, in its place, and that node attaches it.
      const id = deliveryId();
      let suffix = payload.suffix + traceFor(session, payload);
      if (header.w !== undefined && session.dialect === 'extended') suffix += `,"credit":${header.w}`; // [SB-13-1]
      this.#host.inbound(session, id, header.o);
      session.writeDelivery(id, name, encodeMessage(body, payload.from, id, suffix));
      const att: Header = { t: 'att', o: this.#host.id(), c: session.id, l: session.dialect, n: name, s: header.c, a: header.a, k: header.k ?? 0, d: id };
      this.#host.link.publish(header.o, att, '');
    }
    session.whenFlushed((flushed) => {
      if (flushed) void this.#done(name, ids, DONE_TRIES);
    });
  }

  /** DONE: the entries `ids` of `name`'s mailbox were written to its holder; tried again while Redis does not answer. */
  async #done(name: string, ids: readonly string[], tries: number): Promise<void> {
    const { link } = this.#host;
    const keys = [...this.takeKeys(name), link.key('boxbytes', '')];
    try {
      await link.eval(DONE, keys, [name, ...ids]);
    } catch {
      // Left in Redis, the entries reach the name's next holder again: a repeat, never a loss.
      if (tries > 1) setTimeout(() => void this.#done(name, ids, tries - 1), DONE_RETRY_MS).unref();
    }
  }

  /**
   * Age every mailbox; the senders of what expired hear it on their nodes ([SB-6.3-2]). What remains is
   * what the monitor sees until the next sweep.
   */
  async sweep(): Promise<void> {
    const { link, limits } = this.#host;
    const keys = [link.key('boxes', ''), link.key('boxbytes', '')];
    const args = [this.#host.prefix, String(Date.now()), String(limits.maxMailboxAgeMs), String(MAX_LISTED)];
    const [gone, listed] = (await link.eval(SWEEP, keys, args)) as [string[], string[]];
    this.#seen = seen(listed);
    for (let i = 0; i < gone.length; i += 2) {
      const name = gone[i];
      const { header } = decode(gone[i + 1]);
      // A request's slot ended with its request, on its sender's node; a send without `ref` has no report.
      if (header.a !== undefined || header.r === undefined) continue;
      if (header.o === this.#host.id()) this.#host.expired(header.c, name, header.r);
      else link.publish(header.o, { t: 'exp', o: this.#host.id(), c: header.c, n: name, r: header.r }, '');
    }
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

function decode(item: string): { header: ItemHeader; body: string } {
  const cut = item.indexOf('\n');
  return { header: JSON.parse(item.slice(0, cut)) as ItemHeader, body: item.slice(cut + 1) };
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
