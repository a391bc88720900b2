/**
 * Pool members at their in-flight limit, for every node to see ([SB-6.4-1], [SB-16-2]). A member's node
 * is the one place that counts all it holds: the deliveries of requests sent from this node (the pending
 * table) and those sent from others (Inbound). When a member of this node reaches `maxInFlightPerMember`,
 * the node marks it busy in Redis, in the hash `<prefix>busy:<name>` of each pool it is in (member ->
 * until when the mark holds, ms since the epoch), and removes the mark when it drops below. LOOKUP flags
 * the marked members, and a sender's node skips them as it skips the ones it counts busy itself. Marks are
 * renewed on each tick and hold for half a lease, so that one a node failed to remove, or a node that
 * died, leaves no member busy for longer.
 */
import type { Session } from '../session.js';
import type { NodeCore } from './core.js';
import { RemoteSession } from './remote.js';

export class BusyMarks {
  readonly #core: NodeCore;
  /** What a connection of this node holds in all: its deliveries from every node. */
  readonly #inFlight: (session: Session) => number;
  /** How `session` is recorded as a pool member. */
  readonly #member: (session: Session) => string;
  /** Connections of this node marked busy, with the pools they were marked in. */
  readonly #marked = new Map<Session, readonly string[]>();

  constructor(core: NodeCore, inFlight: (session: Session) => number, member: (session: Session) => string) {
    this.#core = core;
    this.#inFlight = inFlight;
    this.#member = member;
  }

  /** What `session` holds may have changed: mark it, or clear its mark, when it crossed the limit. */
  changed(session: Session): void {
    if (session instanceof RemoteSession) return; // its own node counts it
    const busy = session.isOpen && this.#inFlight(session) >= this.#core.host.limits.maxInFlightPerMember;
    if (busy === this.#marked.has(session)) return;
    if (busy) {
      const pools = [...session.names].filter((name) => this.#core.host.names.entry(name)?.shared === true);
      if (pools.length === 0) return;
      this.#marked.set(session, pools);
      this.#mark(session, pools);
    } else {
      const pools = this.#marked.get(session)!;
      this.#marked.delete(session);
      const { link } = this.#core;
      const member = this.#member(session);
      for (const name of pools) link.withTimeout(link.cmd.hDel(link.key('busy:', name), member)).catch(() => {});
    }
  }

  /** Renew every mark (each tick): a mark not renewed lapses after half a lease. */
  renew(): void {
    for (const [session, pools] of this.#marked) this.#mark(session, pools);
  }

  #mark(session: Session, pools: readonly string[]): void {
    const { link, options } = this.#core;
    const holdsMs = Math.floor(options.leaseMs / 2);
    const until = String(Date.now() + holdsMs);
    const member = this.#member(session);
    for (const name of pools) {
      const key = link.key('busy:', name);
      // The hash goes too once no mark in it is renewed.
      link.withTimeout(link.cmd.multi().hSet(key, member, until).pExpire(key, holdsMs).exec()).catch(() => {});
    }
  }
}
