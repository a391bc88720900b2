/**
 * Subscriptions in a cluster (protocol.md section 16, [SB-16-5]): this node's, kept in Redis (one hash per
 * node, `conn|topic` -> `dialect|name`, living with the node's lease) for the nodes that start later; and
 * the other nodes' (`remote`), a TopicTable of their connections as RemoteSessions, filled from those
 * hashes when this node connects and kept up by the `sub` and `unsub` records every node sends all.
 *
 * Every subscription has an order in the cluster, a Lamport clock: a node gives its own the next number
 * after every number it has seen, and a node sends `subscribed` only after every other node has seen
 * the number, so a subscription made after another was confirmed comes after it, whichever nodes made
 * them ([SB-16-5]: the order of a gather's results).
 */
import type { Session } from '../session.js';
import { TopicTable } from '../topics.js';
import type { Link } from './link.js';
import type { RemoteSession, RemoteSessions } from './remote.js';

export class Subscriptions {
  /** The other nodes' subscribers. */
  readonly remote = new TopicTable<RemoteSession>();
  /** This node's subscriptions, with their orders. */
  readonly #local = new Map<Session, Map<string, number>>();
  #clock = 0;
  readonly #link: Link;
  readonly #remotes: RemoteSessions;

  constructor(link: Link, remotes: RemoteSessions) {
    this.#link = link;
    this.#remotes = remotes;
  }

  /** The order for a new subscription of this node. */
  next(): number {
    return ++this.#clock;
  }

  /** A connection of node `node` subscribed to `topic`, with `order` (next()). */
  add(node: string, session: Session, topic: string, order: number): void {
    let topics = this.#local.get(session);
    if (topics === undefined) this.#local.set(session, (topics = new Map()));
    topics.set(topic, order);
    this.#keep(node, session, topic, order);
  }

  /** False when it held no such subscription. */
  remove(node: string, session: Session, topic: string): boolean {
    const topics = this.#local.get(session);
    if (topics?.delete(topic) !== true) return false;
    if (topics.size === 0) this.#local.delete(session);
    this.#link.cmd.hDel(this.#link.key('subs:', node), `${session.id}|${topic}`).catch(() => {});
    return true;
  }

  /** A connection of this node closed. */
  closed(node: string, session: Session): void {
    const topics = this.#local.get(session);
    if (topics === undefined) return;
    this.#local.delete(session);
    this.#link.cmd.hDel(this.#link.key('subs:', node), [...topics.keys()].map((topic) => `${session.id}|${topic}`)).catch(() => {});
  }

  /** With each lease renewal: the hash lives as long as the lease. */
  renew(node: string, leaseMs: number): void {
    if (this.#local.size > 0) this.#link.cmd.pExpire(this.#link.key('subs:', node), leaseMs).catch(() => {});
  }

  /** After Redis came back, maybe without its data: write them all again. */
  reassert(node: string): void {
    for (const [session, topics] of this.#local) for (const [topic, order] of topics) this.#keep(node, session, topic, order);
  }

  /** Whether a connection of this node subscribes to anything; if so, its entries are written again with the name it will be reached by. */
  renamed(node: string, session: Session, name: string): boolean {
    const topics = this.#local.get(session);
    if (topics === undefined) return false;
    for (const [topic, order] of topics) this.#keep(node, session, topic, order, name);
    return true;
  }

  /** The node fenced itself: its subscribers, which hold names, are being closed. */
  clear(): void {
    this.#local.clear();
  }

  /** Another node's connection subscribed (a `sub` record), with its order; `name` is the name it is reached by. */
  subscribed(session: RemoteSession, name: string, topic: string, order: number): void {
    if (order > this.#clock) this.#clock = order;
    if (name !== '' && session.names.size === 0) session.names.add(name);
    this.remote.subscribe(session, topic, order);
  }

  /** Read the subscriptions other live nodes keep in Redis; `know` is told of each such node. */
  async load(self: string, know: (node: string) => void): Promise<void> {
    const link = this.#link;
    const pattern = link.key('subs:', '*');
    let cursor = '0';
    do {
      const [next, keys] = (await link.withTimeout(link.cmd.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '100']))) as [string, string[]];
      cursor = next;
      for (const key of keys) {
        const node = key.slice(link.key('subs:', '').length);
        if (node === self || (await link.cmd.exists(link.key('node:', node))) === 0) continue;
        know(node);
        // Fields are `conn|topic`: never a bare name from the wire, so an object's keys are safe here.
        const fields = await link.withTimeout(link.cmd.hGetAll(key));
        for (const [field, value] of Object.entries(fields)) {
          // `conn|topic` -> `dialect|order|name`
          const cut = field.indexOf('|');
          const [dialect, order] = value.split('|', 2);
          if (cut === -1 || order === undefined) continue;
          const session = this.#remotes.get(node, field.slice(0, cut), dialect === 'legacy' ? 'legacy' : 'extended');
          this.subscribed(session, value.slice(dialect.length + order.length + 2), field.slice(cut + 1), Number(order) || 0);
        }
      }
    } while (cursor !== '0');
  }

  #keep(node: string, session: Session, topic: string, order: number, name = session.primaryName ?? ''): void {
    const value = `${session.dialect}|${order}|${name}`;
    this.#link.cmd.hSet(this.#link.key('subs:', node), `${session.id}|${topic}`, value).catch(() => {});
  }
}
