/**
 * The other nodes of the cluster as one node sees them (protocol.md section 16): when each was last
 * heard from, whether it counts as gone, and how many named connections it said it has (its beat). A node
 * beats on the shared channel; one not heard from for two thirds of the lease is gone. Also: a change told
 * to every node, resolved once each live node says it knows (`tellAllAndWait`).
 */
import type { Header, Link } from './link.js';

/** How long a change told to all waits for every other node to say it knows before it resolves anyway. */
export const TELL_ALL_WAIT_MS = 1000;

interface Peer {
  at: number;
  gone: boolean;
  named: number;
}

/** A change told to every node, waiting for their `ok`s; `count` sums the `k` they answered, `replies` their bodies. */
interface Waiting {
  readonly nodes: Set<string>;
  count: number;
  readonly replies: string[];
  readonly done: () => void;
}

/** What every node answered to something told to all: the counts summed, and each reply's body. */
export interface Answers {
  readonly count: number;
  readonly replies: readonly string[];
}

export class Peers {
  readonly #link: Link;
  readonly #leaseMs: number;
  /** Whether this node holds its lease: a node without one waits for nobody. */
  readonly #live: () => boolean;
  readonly #nodes = new Map<string, Peer>();
  /** Changes told to all, waiting for the other nodes to say they know: id -> who has not said. */
  readonly #waiting = new Map<number, Waiting>();
  #nextWait = 0;

  constructor(link: Link, leaseMs: number, live: () => boolean) {
    this.#link = link;
    this.#leaseMs = leaseMs;
    this.#live = live;
  }

  /** A record came from `node`: it is alive. */
  heard(node: string): void {
    const known = this.#nodes.get(node);
    if (known === undefined) this.#nodes.set(node, { at: performance.now(), gone: false, named: 0 });
    else {
      known.at = performance.now();
      known.gone = false;
    }
  }

  /** A node not heard from yet is gone for us if it stays quiet (it may have died before we started). */
  know(node: string): void {
    if (!this.#nodes.has(node)) this.#nodes.set(node, { at: performance.now(), gone: false, named: 0 });
  }

  /** `node` beat: it has `named` connections that hold a name. */
  beat(node: string, named: number): void {
    const known = this.#nodes.get(node);
    if (known !== undefined) known.named = named;
  }

  isGone(node: string): boolean {
    return this.#nodes.get(node)?.gone === true;
  }

  /** `node` left or went quiet: what waited for it waits no more. */
  gone(node: string): void {
    const known = this.#nodes.get(node);
    if (known !== undefined) known.gone = true;
    else this.#nodes.set(node, { at: performance.now(), gone: true, named: 0 });
    for (const waiting of this.#waiting.values()) {
      waiting.nodes.delete(node);
      if (waiting.nodes.size === 0) waiting.done();
    }
  }

  /** The nodes that went quiet since the last call (not heard from for two thirds of the lease); long-gone ones are forgotten. */
  quiet(): string[] {
    const now = performance.now();
    const quiet: string[] = [];
    for (const [node, known] of this.#nodes) {
      if (known.gone) {
        if (now - known.at > this.#leaseMs * 10) this.#nodes.delete(node);
      } else if (now - known.at > (this.#leaseMs * 2) / 3) quiet.push(node);
    }
    return quiet;
  }

  /** Every node this one knows of, gone or not. */
  all(): string[] {
    return [...this.#nodes.keys()];
  }

  /**
   * The nodes that hold a lease, from Redis (but `self`): a subscribe waits for each of them to know it,
   * even before their first beat reaches this node.
   */
  async load(self: string): Promise<void> {
    const prefix = this.#link.key('node:', '');
    let cursor = '0';
    do {
      const [next, keys] = (await this.#link.withTimeout(this.#link.cmd.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '100']))) as [string, string[]];
      cursor = next;
      for (const key of keys) if (key !== this.#link.key('node:', self)) this.know(key.slice(prefix.length));
    } while (cursor !== '0');
  }

  /**
   * Tell every other node, and resolve when each node heard from says it knows (`ok`), or after
   * TELL_ALL_WAIT_MS; with the sum of the counts (`k`) the nodes answered, and for a node that did not
   * answer in time, the count of its last beat.
   */
  tellAllAndWait(header: Header & { id: number }, body = ''): Promise<Answers> {
    const nodes = new Set<string>();
    for (const [node, known] of this.#nodes) if (!known.gone) nodes.add(node);
    if (nodes.size === 0 || !this.#live()) {
      this.#link.publish('*', header, body);
      return Promise.resolve({ count: 0, replies: [] });
    }
    header.id = ++this.#nextWait;
    return new Promise((resolve) => {
      const waiting: Waiting = {
        nodes,
        count: 0,
        replies: [],
        done: () => {
          clearTimeout(timer);
          this.#waiting.delete(header.id);
          for (const node of nodes) waiting.count += this.#nodes.get(node)?.named ?? 0;
          resolve(waiting);
        },
      };
      const timer = setTimeout(waiting.done, TELL_ALL_WAIT_MS);
      this.#waiting.set(header.id, waiting);
      this.#link.publish('*', header, body);
    });
  }

  /** `node` said it knows change `id`, with its count `k` and its reply `body`. */
  ok(node: string, id: number, k: number | undefined, body: string): void {
    const waiting = this.#waiting.get(id);
    if (waiting?.nodes.delete(node) !== true) return;
    waiting.count += k ?? 0;
    if (body !== '') waiting.replies.push(body);
    if (waiting.nodes.size === 0) waiting.done();
  }
}
