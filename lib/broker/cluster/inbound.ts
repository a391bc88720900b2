/**
 * The deliveries this node's connections hold for requests kept on other nodes (protocol.md section 16):
 * delivery id -> the node that keeps the request, per connection. An answer or a part for one goes to that
 * node (node.ts `relay`); one that ended (cancelled) is remembered for a while so that what the connection
 * still sends for it is dropped quietly ([SB-4.4-2]), as the pending table does for its own.
 */
import type { Session } from '../session.js';

/** How many deliveries from other nodes one connection may hold; past it the oldest is forgotten. */
const MAX_PER_CONNECTION = 65_536;
/** Delivery ids remembered per connection after they ended. */
const REMEMBERED_PER_CONNECTION = 1024;

export class Inbound {
  readonly #open = new Map<Session, Map<string, string>>();
  readonly #ended = new Map<Session, Set<string>>();
  /** What a connection holds changed (busy.ts counts it). */
  readonly #changed: (session: Session) => void;

  constructor(changed: (session: Session) => void) {
    this.#changed = changed;
  }

  /** How many deliveries from other nodes `session` holds. */
  count(session: Session): number {
    return this.#open.get(session)?.size ?? 0;
  }

  /** `session` got delivery `id` of a request kept on `origin`. */
  add(session: Session, id: string, origin: string): void {
    let open = this.#open.get(session);
    if (open === undefined) this.#open.set(session, (open = new Map()));
    open.set(id, origin);
    if (open.size > MAX_PER_CONNECTION) open.delete(open.keys().next().value as string);
    this.#changed(session);
  }

  /**
   * Where what `session` sends for delivery `id` goes: the node that keeps its request; `ended` when it
   * ended (drop it quietly); undefined when no other node gave it. `last` (an answer) ends it.
   */
  origin(session: Session, id: string, last: boolean): string | 'ended' | undefined {
    const open = this.#open.get(session);
    const origin = open?.get(id);
    if (origin === undefined) return this.#ended.get(session)?.has(id) === true ? 'ended' : undefined;
    if (last) {
      open!.delete(id);
      if (open!.size === 0) this.#open.delete(session);
      this.#changed(session);
    }
    return origin;
  }

  /** A delivery ended without its answer (cancelled): what the connection sends for it later is dropped quietly. */
  end(session: Session, id: string): void {
    const open = this.#open.get(session);
    if (open?.delete(id) !== true) return;
    if (open.size === 0) this.#open.delete(session);
    this.#changed(session);
    let ended = this.#ended.get(session);
    if (ended === undefined) this.#ended.set(session, (ended = new Set()));
    ended.add(id);
    if (ended.size > REMEMBERED_PER_CONNECTION) ended.delete(ended.values().next().value as string);
  }

  /** End every delivery whose request `node` kept; returns each, for its cancel. */
  endFrom(node: string): Array<{ session: Session; id: string }> {
    const ended: Array<{ session: Session; id: string }> = [];
    for (const [session, open] of this.#open) {
      for (const [id, origin] of open) if (origin === node) ended.push({ session, id });
    }
    for (const { session, id } of ended) this.end(session, id);
    return ended;
  }

  /** The connection closed. */
  drop(session: Session): void {
    this.#open.delete(session);
    this.#ended.delete(session);
    this.#changed(session);
  }
}
