/**
 * Subscriptions to hierarchical dot topics (protocol.md section 4.6): a subscription to `news` matches
 * `news` and every topic below it (`news.uk`, `news.uk.london`), never `newsroom` ([SB-4.6-2]).
 *
 * Matching a published topic looks up each of its prefixes: at most 16 Map lookups, whatever the number
 * of subscriptions. A subscriber matched several times by one publish is reached once ([SB-4.7-2]).
 */
export interface Match {
  /** The published topic the subscriber is reached by: the first, in the publish's order, that matched. */
  readonly topic: string;
  /** The subscriber's subscription that matched it: the most specific one. */
  readonly context: string;
}

export class TopicTable<Peer> {
  readonly #subscribers = new Map<string, Set<Peer>>();
  readonly #byPeer = new Map<Peer, Set<string>>();
  #size = 0;

  /** Subscriptions held in the whole broker. */
  get size(): number {
    return this.#size;
  }

  /** Every topic subscribed to, with its number of subscribers, for introspection (lib/monitor). */
  *counts(): IterableIterator<[topic: string, subscribers: number]> {
    for (const [topic, peers] of this.#subscribers) yield [topic, peers.size];
  }

  countOf(peer: Peer): number {
    return this.#byPeer.get(peer)?.size ?? 0;
  }

  has(peer: Peer, topic: string): boolean {
    return this.#byPeer.get(peer)?.has(topic) === true;
  }

  subscribe(peer: Peer, topic: string): void {
    let topics = this.#byPeer.get(peer);
    if (topics === undefined) this.#byPeer.set(peer, (topics = new Set()));
    if (topics.has(topic)) return;
    topics.add(topic);
    let peers = this.#subscribers.get(topic);
    if (peers === undefined) this.#subscribers.set(topic, (peers = new Set()));
    peers.add(peer);
    this.#size++;
  }

  unsubscribe(peer: Peer, topic: string): boolean {
    const topics = this.#byPeer.get(peer);
    if (topics?.delete(topic) !== true) return false;
    if (topics.size === 0) this.#byPeer.delete(peer);
    const peers = this.#subscribers.get(topic);
    peers?.delete(peer);
    if (peers?.size === 0) this.#subscribers.delete(topic);
    this.#size--;
    return true;
  }

  peerGone(peer: Peer): void {
    for (const topic of [...(this.#byPeer.get(peer) ?? [])]) this.unsubscribe(peer, topic);
  }

  /** Every subscriber of any of `topics`, once each, with what matched it. */
  match(topics: readonly string[]): Map<Peer, Match> {
    const matched = new Map<Peer, Match>();
    for (const topic of topics) {
      const segments = topic.split('.');
      for (let depth = segments.length; depth > 0; depth--) {
        const context = depth === segments.length ? topic : segments.slice(0, depth).join('.');
        for (const peer of this.#subscribers.get(context) ?? []) {
          if (!matched.has(peer)) matched.set(peer, { topic, context });
        }
      }
    }
    return matched;
  }
}
