/**
 * Subscriptions in a cluster (protocol.md section 16, [SB-16-5]): this node's, kept in Redis (one hash per
 * node, `conn|topic` -> `dialect|name`, living with the node's lease) for the nodes that start later; and
 * the other nodes' (`remote`), a TopicTable of their connections as RemoteSessions, filled from those
 * hashes when this node connects and kept up by the `sub` and `unsub` records every node sends all.
 */
import type { Session } from '../session.js';
import { TopicTable } from '../topics.js';
import type { Link } from './link.js';
import type { RemoteSession, RemoteSessions } from './remote.js';

export class Subscriptions {
  /** The other nodes' subscribers. */
  readonly remote = new TopicTable<RemoteSession>();
  readonly #local = new Map<Session, Set<string>>();
  readonly #link: Link;
  readonly #remotes: RemoteSessions;

  constructor(link: Link, remotes: RemoteSessions) {
    this.#link = link;
    this.#remotes = remotes;
  }

  /** A connection of node `node` subscribed to `topic`. */
  add(node: string, session: Session, topic: string): void {
    let topics = this.#local.get(session);
    if (topics === undefined) this.#local.set(session, (topics = new Set()));
    topics.add(topic);
    this.#keep(node, session, topic);
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
    this.#link.cmd.hDel(this.#link.key('subs:', node), [...topics].map((topic) => `${session.id}|${topic}`)).catch(() => {});
  }

  /** With each lease renewal: the hash lives as long as the lease. */
  renew(node: string, leaseMs: number): void {
    if (this.#local.size > 0) this.#link.cmd.pExpire(this.#link.key('subs:', node), leaseMs).catch(() => {});
  }

  /** After Redis came back, maybe without its data: write them all again. */
  reassert(node: string): void {
    for (const [session, topics] of this.#local) for (const topic of topics) this.#keep(node, session, topic);
  }

  /** Whether a connection of this node subscribes to anything; if so, its entries are written again with the name it will be reached by. */
  renamed(node: string, session: Session, name: string): boolean {
    const topics = this.#local.get(session);
    if (topics === undefined) return false;
    for (const topic of topics) this.#keep(node, session, topic, name);
    return true;
  }

  /** The node fenced itself: its subscribers, which hold names, are being closed. */
  clear(): void {
    this.#local.clear();
  }

  /** Another node's connection subscribed (a `sub` record); `name` is the name it is reached by. */
  subscribed(session: RemoteSession, name: string, topic: string): void {
    if (name !== '' && session.names.size === 0) session.names.add(name);
    this.remote.subscribe(session, topic);
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
          const cut = field.indexOf('|');
          const bar = value.indexOf('|');
          if (cut === -1 || bar === -1) continue;
          const session = this.#remotes.get(node, field.slice(0, cut), value.slice(0, bar) === 'legacy' ? 'legacy' : 'extended');
          this.subscribed(session, value.slice(bar + 1), field.slice(cut + 1));
        }
      }
    } while (cursor !== '0');
  }

  #keep(node: string, session: Session, topic: string, name = session.primaryName ?? ''): void {
    const value = `${session.dialect}|${name}`;
    this.#link.cmd.hSet(this.#link.key('subs:', node), `${session.id}|${topic}`, value).catch(() => {});
  }
}
