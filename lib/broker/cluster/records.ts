/**
 * What arrives from other nodes (protocol.md section 16): each record on this node's channels, by its
 * kind (the header's `t`, link.ts), acted on as if what it says had happened here. A record for a
 * connection whose `register` is out in Redis waits until that is settled (hold, settled).
 */
import type { AnswerFrame, ProgressFrame } from '../../protocol/wire.js';
import type { Session } from '../session.js';
import type { ClusterClaims } from './claims.js';
import type { NodeCore } from './core.js';
import type { Inbound } from './inbound.js';
import type { Header } from './link.js';
import type { Peers } from './peers.js';
import type { RemoteSession, RemoteSessions } from './remote.js';
import type { ClusterServices } from './services.js';
import type { Subscriptions } from './subscriptions.js';

/** How many frames are held for one connection while its register is out; past it they are written at once. */
const MAX_HELD_FRAMES = 10_000;

/** The parts of its node that records act on (node.ts wires them). */
export interface RecordParts {
  readonly remotes: RemoteSessions;
  readonly peers: Peers;
  readonly claims: ClusterClaims;
  readonly services: ClusterServices;
  readonly subscriptions: Subscriptions;
  readonly inbound: Inbound;
  /** A node left or went quiet. */
  nodeGone(node: string): void;
  /** A connection on another node is gone. */
  sessionGone(session: RemoteSession): void;
}

export class Records {
  readonly #core: NodeCore;
  readonly #parts: RecordParts;
  /**
   * Frames from other nodes for connections whose `register` is out in Redis (hold), kept until it is
   * settled: a sender that found the new record must not reach the connection ahead of its `registered`
   * and of what waited in the name's mailbox ([SB-16-6]).
   */
  readonly #holding = new Map<Session, Array<{ header: Header; body: string }>>();

  constructor(core: NodeCore, parts: RecordParts) {
    this.#core = core;
    this.#parts = parts;
  }

  /** A record on this node's channels (link.ts). */
  receive(header: Header, body: string): void {
    if (header.o === this.#core.id()) return; // our own, on the shared channel
    this.#parts.peers.heard(header.o);
    if (!this.#core.checkLive() && header.t !== 'beat' && header.t !== 'bye') return; // fenced: act on nothing
    this.#core.host.corkWrites();
    try {
      this.#handle(header, body);
    } catch (error) {
      this.#core.host.fault(error);
    }
  }

  /** Hold what other nodes write to `session` until `settled`: its claim is going out ([SB-16-6]). */
  hold(session: Session): void {
    if (!this.#holding.has(session)) this.#holding.set(session, []);
  }

  /** `session`'s register is settled (taken, with its mailbox written, or refused): write what was held. */
  settled(session: Session): void {
    const held = this.#holding.get(session);
    if (held === undefined) return;
    this.#holding.delete(session);
    for (const { header, body } of held) this.#handle(header, body);
  }

  /** One record from another node: what each kind means. */
  #handle(header: Header, body: string): void {
    const { host } = this.#core;
    const { remotes, peers, claims, services, subscriptions } = this.#parts;
    switch (header.t) {
      case 'w':
        return this.#write(header, body);
      case 'close':
        host.sessionById(header.c)?.close(header.code, header.reason);
        return;
      case 'gone':
        return this.#gone(header);
      case 'up': {
        const session = remotes.get(header.o, header.c, header.l);
        const raw = header.f.action === 'answer' && header.f.error !== undefined ? undefined : body;
        host.remoteFrame(session, header.f as AnswerFrame | ProgressFrame, raw);
        return;
      }
      case 'beat':
        peers.beat(header.o, header.k);
        return;
      case 'bye':
        this.#parts.nodeGone(header.o);
        return;
      case 'sub': {
        subscriptions.subscribed(remotes.get(header.o, header.c, header.l), header.n, header.topic, header.q);
        return this.#ok(header.o, header.id);
      }
      case 'unsub': {
        const session = remotes.find(header.o, header.c);
        if (session !== undefined) subscriptions.remote.unsubscribe(session, header.topic);
        return this.#ok(header.o, header.id);
      }
      case 'name': {
        const session = remotes.find(header.o, header.c);
        if (session !== undefined) session.renamed(header.p);
        return this.#ok(header.o, header.id);
      }
      case 'join':
        claims.joined(header.n, remotes.get(header.o, header.c, header.l));
        return;
      case 'ok':
        peers.ok(header.o, header.id, header.k, body);
        return;
      case 'att':
        return this.#attach(header);
      case 'exp':
        host.expired(header.c, header.n, header.r);
        return;
      case 'svc':
        services.announced(body);
        return this.#ok(header.o, header.id);
      case 'unsvc':
        services.unserved(header.n);
        return;
      case 'stats':
        return this.#ok(header.o, header.id, undefined, services.counted(header.n));
      case 'bc':
        return this.#ok(header.o, header.id, host.remoteBroadcast({ body, from: header.from, suffix: header.s, trace: header.tr }));
    }
  }

  /** Say to `node` that this node knows its change `id` (with a count `k`, or a reply). */
  #ok(node: string, id: number, k?: number, reply = ''): void {
    const o = this.#core.id();
    this.#core.link.publish(node, k === undefined ? { t: 'ok', o, id } : { t: 'ok', o, id, k }, reply);
  }

  /** A frame another node writes to a connection of this node: a delivery, its cancel, or any other frame. */
  #write(header: Extract<Header, { t: 'w' }>, body: string): void {
    const { host, link } = this.#core;
    const session = host.sessionById(header.c);
    if (session === undefined || !session.isOpen) {
      link.publish(header.o, { t: 'gone', o: this.#core.id(), c: header.c }, '');
      return;
    }
    const held = this.#holding.size === 0 ? undefined : this.#holding.get(session);
    if (held !== undefined && held.length < MAX_HELD_FRAMES) {
      held.push({ header, body });
      return;
    }
    if (header.d !== undefined) {
      const { inbound } = this.#parts;
      if (header.a === 'cancel') inbound.end(session, header.d);
      else if (header.a === 'message') {
        // Fencing at the last step: a connection that no longer holds the name is not reached by it.
        if (header.n !== undefined && !session.names.has(header.n)) {
          link.publish(header.o, { t: 'gone', o: this.#core.id(), c: header.c, n: header.n }, '');
          return;
        }
        inbound.add(session, header.d, header.o);
      }
    }
    session.write(header.a, body);
  }

  /** A connection on another node is gone, or no longer holds name `n` (and is reached by `p` as a subscriber). */
  #gone(header: Extract<Header, { t: 'gone' }>): void {
    const { remotes, claims } = this.#parts;
    if (header.n === undefined) {
      const session = remotes.remove(header.o, header.c);
      if (session !== undefined) this.#parts.sessionGone(session);
      return;
    }
    const session = remotes.find(header.o, header.c);
    if (session === undefined) return;
    claims.uncache(header.n, session);
    if (header.p !== undefined) session.renamed(header.p);
    this.#core.host.pending.nameReleased(session, header.n);
  }

  /** [SB-16-6] Another node wrote a queued slot of a request kept here: attach it, or tell it to stop. */
  #attach(header: Extract<Header, { t: 'att' }>): void {
    const { host } = this.#core;
    const sender = host.sessionById(header.s);
    const receiver = this.#parts.remotes.get(header.o, header.c, header.l);
    if (sender === undefined || host.pending.attach(sender, header.a, header.k, { peer: receiver, name: header.n }, header.d) === undefined) {
      receiver.send({ action: 'cancel', ack: header.d, reason: sender === undefined ? 'sender_gone' : 'timeout' });
    }
  }
}
