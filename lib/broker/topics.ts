/**
 * Subscriptions to hierarchical dot topics (protocol.md section 4.6): a subscription to `news` matches
 * `news` and every topic below it (`news.uk`, `news.uk.london`), never `newsroom` ([SB-4.6-2]). A
 * subscription's filter may have wildcard segments ([SB-3-5], [SB-4.6-4]): `news.*.sports` matches
 * `news.uk.sports` and below, `news.>` everything below `news`.
 *
 * Matching a published topic looks up each of its prefixes (at most 16 Map lookups, whatever the number
 * of subscriptions) and, when any wildcard filter is held, walks the trie of wildcard filters
 * (filter-trie.ts). A subscriber matched several times by one publish is reached once ([SB-4.7-2]), by
 * its most specific matching filter ([SB-4.6-5]).
 */
import { bySpecificity, FilterTrie, hasWildcard } from './filter-trie.js';

export interface Match {
  /** The published topic the subscriber is reached by: the first, in the publish's order, that matched. */
  readonly topic: string;
  /** The subscriber's subscription that matched it: the most specific one. */
  readonly context: string;
  /** When that subscription was made, as its table orders it (cluster mode: across the nodes). */
  readonly order: number;
}

export class TopicTable<Peer> {
  /** Per topic or filter, its subscribers in the order they subscribed, each with its order. */
  readonly #subscribers = new Map<string, Map<Peer, number>>();
  readonly #byPeer = new Map<Peer, Set<string>>();
  readonly #wildcards = new FilterTrie();
  #size = 0;
  #next = 0;

  /** Subscriptions held in the whole broker. */
  get size(): number {
    return this.#size;
  }

  /** Every topic or filter subscribed to, with its number of subscribers, for introspection (lib/monitor). */
  *counts(): IterableIterator<[topic: string, subscribers: number]> {
    for (const [topic, peers] of this.#subscribers) yield [topic, peers.size];
  }

  countOf(peer: Peer): number {
    return this.#byPeer.get(peer)?.size ?? 0;
  }

  has(peer: Peer, topic: string): boolean {
    return this.#byPeer.get(peer)?.has(topic) === true;
  }

  /**
   * `order` places the subscription among the others of the same filter: by default after them all; in
   * cluster mode, the cluster's order of subscriptions (cluster/subscriptions.ts). Subscribing again
   * changes nothing.
   */
  subscribe(peer: Peer, topic: string, order = ++this.#next): void {
    let topics = this.#byPeer.get(peer);
    if (topics === undefined) this.#byPeer.set(peer, (topics = new Set()));
    if (topics.has(topic)) return;
    topics.add(topic);
    let peers = this.#subscribers.get(topic);
    if (peers === undefined) {
      this.#subscribers.set(topic, (peers = new Map()));
      if (hasWildcard(topic)) this.#wildcards.add(topic);
    }
    peers.set(peer, order);
    this.#size++;
  }

  /** The order of `peer`'s subscription to `topic`, if it holds one. */
  orderOf(peer: Peer, topic: string): number | undefined {
    return this.#subscribers.get(topic)?.get(peer);
  }

  unsubscribe(peer: Peer, topic: string): boolean {
    const topics = this.#byPeer.get(peer);
    if (topics?.delete(topic) !== true) return false;
    if (topics.size === 0) this.#byPeer.delete(peer);
    const peers = this.#subscribers.get(topic);
    peers?.delete(peer);
    if (peers?.size === 0) {
      this.#subscribers.delete(topic);
      if (hasWildcard(topic)) this.#wildcards.delete(topic);
    }
    this.#size--;
    return true;
  }

  peerGone(peer: Peer): void {
    for (const topic of [...(this.#byPeer.get(peer) ?? [])]) this.unsubscribe(peer, topic);
  }

  /**
   * Every subscriber of any of `topics`, once each, with what matched it; in the order of [SB-6.2-1]: the
   * topics in order, and within one topic the most specific filter first ([SB-4.6-5]), then the order in
   * which the subscriptions to it were made.
   */
  match(topics: readonly string[]): Map<Peer, Match> {
    const matched = new Map<Peer, Match>();
    const plainOnly = this.#wildcards.size === 0;
    for (const topic of topics) {
      if (plainOnly) {
        // The common case, kept as lean as before wildcards: each prefix, longest first.
        const segments = topic.split('.');
        for (let depth = segments.length; depth > 0; depth--) {
          const context = depth === segments.length ? topic : segments.slice(0, depth).join('.');
          for (const [peer, order] of this.#subscribers.get(context) ?? []) {
            if (!matched.has(peer)) matched.set(peer, { topic, context, order });
          }
        }
        continue;
      }
      for (const context of this.#filtersOf(topic)) {
        for (const [peer, order] of this.#subscribers.get(context)!) {
          if (!matched.has(peer)) matched.set(peer, { topic, context, order });
        }
      }
    }
    return matched;
  }

  /** The filters held that match `topic`, most specific first, when wildcard filters are held. */
  #filtersOf(topic: string): string[] {
    const segments = topic.split('.');
    const found: string[] = [];
    // The plain prefixes, longest first: already in the order of specificity.
    for (let depth = segments.length; depth > 0; depth--) {
      const context = depth === segments.length ? topic : segments.slice(0, depth).join('.');
      if (this.#subscribers.has(context)) found.push(context);
    }
    const plain = found.length;
    this.#wildcards.collect(segments, found);
    if (found.length > plain) found.sort(bySpecificity);
    return found;
  }
}
