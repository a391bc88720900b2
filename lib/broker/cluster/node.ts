/**
 * One broker node of a cluster on Redis (protocol.md section 16, README "Cluster mode").
 *
 * Every node keeps its own connections, pending table and topics, as the embedded broker does. Redis
 * holds the one thing the nodes must agree on, who holds each name (scripts.ts), and carries frames
 * between nodes: each node listens on its own channel and on one channel shared by all. A request stays
 * on the node of its sender, which decides its one outcome; a receiver on another node is a
 * RemoteSession there (remote.ts), and its node writes to the connection what arrives for it and sends
 * back what the connection answers for those requests (`relay`); what arrives from other nodes is acted
 * on by records.ts. The mailboxes of offline durable names are in Redis too (mailboxes.ts).
 *
 * Leases: a node's names count only while its lease key lives. The node renews it every `leaseMs / 6`;
 * when it has not renewed for three quarters of `leaseMs` it closes its named connections (4011) before
 * anyone else may take their names, and comes back under a new node id once Redis answers again, so
 * that nothing it held before counts. Nodes beat on the shared channel; a node not heard from for
 * two thirds of `leaseMs` is gone for the others: the deliveries held there end `responder_gone`
 * ([SB-6-9]) and the requests sent from there are cancelled at their receivers.
 */
import { nanoid } from 'nanoid';
import { CLOSE_CODES, type BrokerAction } from '../../protocol/wire.js';
import type { NameDirectory } from '../name-directory.js';
import type { Payload } from '../pending.js';
import type { Session } from '../session.js';
import type { TopicTable } from '../topics.js';
import { ClusterClaims, type Holders } from './claims.js';
import type { ClusterHost, ClusterOptions, NodeCore } from './core.js';
import { BusyMarks } from './busy.js';
import { Inbound } from './inbound.js';
import { ClusterUnavailable, Link, type Header, type UpFrame } from './link.js';
import { ClusterMailboxes, fsyncsEveryWrite } from './mailboxes.js';
import { Peers } from './peers.js';
import { Records } from './records.js';
import { RemoteSessions, type Outlet, type RemoteSession } from './remote.js';
import { ClusterServices } from './services.js';
import { Subscriptions } from './subscriptions.js';
import type { Holder } from './scripts.js';

export { ClusterUnavailable, type ClusterHost, type ClusterOptions, type Holders };

/** Remote sessions idle this long, with nothing in flight, are forgotten. */
const REMOTE_IDLE_MS = 30_000;

export class ClusterNode implements Outlet {
  #id = nanoid(10);
  readonly #options: ClusterOptions;
  readonly #host: ClusterHost;
  readonly #link: Link;
  readonly remotes: RemoteSessions;
  /** Who holds each name in the cluster, as far as this node needs to know (claims.ts). */
  readonly #claims: ClusterClaims;
  /** The cluster's services ([SB-16-7]). */
  readonly services: ClusterServices;
  /** The other nodes: when each was last heard from, and the changes told to all that wait for them. */
  readonly #peers: Peers;
  /**
   * The subscriptions of connections on other nodes ([SB-16-5]): every node tells all the others of each
   * subscribe and unsubscribe, and keeps them in Redis (one hash per node, living with its lease) for
   * the nodes that start later.
   */
  readonly #subscriptions: Subscriptions;
  /** The mailboxes of offline durable names, in Redis ([SB-16-6]). */
  readonly #mailboxes: ClusterMailboxes;
  /** Deliveries of requests kept on other nodes, per connection of this node: delivery id -> that node. */
  readonly #inbound = new Inbound((session) => this.#busy.changed(session));
  /** This node's pool members at their in-flight limit, marked in Redis for every node. */
  readonly #busy: BusyMarks;
  /** performance.now() when the last lease renewal that succeeded was sent; 0: no lease. */
  #leaseFrom = 0;
  #fenced = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #wasReady = false;
  #lastWarning = 0;
  /** What arrives from other nodes (records.ts). */
  readonly #records: Records;
  #ready: Promise<void>;
  /** Settles when this node's subscription to its channels is confirmed (link.ts). */
  #listening: Promise<void> = new Promise(() => {});
  #onReady!: () => void;
  /** Settles once the other nodes' subscriptions and the services have been read the first time. */
  #loaded: Promise<void>;
  #onLoaded!: () => void;

  constructor(options: ClusterOptions, host: ClusterHost) {
    this.#options = options;
    this.#host = host;
    this.remotes = new RemoteSessions(this);
    this.#link = new Link(options, (header, body) => this.#records.receive(header, body), (message) => this.#warn(message));
    // What the parts of this node (claims, services, mailboxes...) share of it.
    const core: NodeCore = { options, host, link: this.#link, id: () => this.#id, checkLive: () => this.#checkLive() };
    this.#peers = new Peers(this.#link, options.leaseMs, () => this.live);
    this.services = new ClusterServices(core, this.#peers);
    this.#subscriptions = new Subscriptions(this.#link, this.remotes);
    this.#mailboxes = new ClusterMailboxes(core, (session, id, origin) => this.#inbound.add(session, id, origin));
    this.#claims = new ClusterClaims(core, {
      mailboxes: this.#mailboxes,
      remote: (holder) => this.#remote(holder),
      closeRemote: (node, conn, code, reason) => this.closeRemote(node, conn, code, reason),
    });
    this.#busy = new BusyMarks(core, (session) => host.pending.inFlight(session) + this.#inbound.count(session), (session) => this.#claims.member(session));
    this.#records = new Records(core, {
      remotes: this.remotes,
      peers: this.#peers,
      claims: this.#claims,
      services: this.services,
      subscriptions: this.#subscriptions,
      inbound: this.#inbound,
      nodeGone: (node) => this.#nodeGone(node),
      sessionGone: (session) => this.#sessionGone(session),
    });
    this.#ready = new Promise((resolve) => (this.#onReady = resolve));
    this.#loaded = new Promise((resolve) => (this.#onLoaded = resolve));
    this.#link.cmd.on('ready', () => {
      this.#claims.forgetHolders(); // what was said while we were away is lost: ask again
      if (this.#wasReady) this.#reassert();
      this.#wasReady = true;
      this.#tick();
      void fsyncsEveryWrite(this.#link).then((always) => {
        const what = always === undefined ? 'cannot say whether it writes to disk' : 'does not write every change to disk before it answers';
        if (always !== true) this.#host.logger.warn({ node: this.#id }, `cluster: Redis ${what} (appendonly yes, appendfsync always): a queued message may be lost if Redis crashes`);
      });
      // After our own subscription is confirmed: a `sub` record sent meanwhile is then heard, or read here.
      void this.#listening
        .then(() => this.#peers.load(this.#id))
        .then(() => this.#subscriptions.load(this.#id, (node) => this.#peers.know(node)))
        .then(() => this.services.load())
        .then(() => this.#onLoaded())
        .catch((error: Error) => this.#warn(`redis: subscriptions not read: ${error.message}`));
    });
  }

  /** The subscriptions of connections on other nodes ([SB-16-5]), which `publish` reaches. */
  get topics(): TopicTable<RemoteSession> {
    return this.#subscriptions.remote;
  }

  /** The cluster's mailboxes, in Redis: the broker's mailbox store in cluster mode ([SB-16-6]). */
  get mailboxes(): ClusterMailboxes {
    return this.#mailboxes;
  }

  /** This node's id: the names it holds are recorded under it. It changes when the node fences itself. */
  get id(): string {
    return this.#id;
  }

  /** True while the node holds a lease it renewed recently enough to act as the owner of its names. */
  get live(): boolean {
    return !this.#fenced && this.#leaseFrom > 0 && performance.now() - this.#leaseFrom < this.#fenceAfterMs;
  }

  get #fenceAfterMs(): number {
    return (this.#options.leaseMs * 3) / 4;
  }

  /**
   * Connect and take a lease. Resolves when the node is live, or after `waitMs` if Redis cannot be reached
   * yet: the node keeps trying, and refuses what needs the cluster with `unavailable` until then.
   */
  async start(waitMs: number): Promise<boolean> {
    const tickMs = Math.max(50, Math.floor(this.#options.leaseMs / 6));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
    this.#listening = this.#link.connect([this.#id, '*']);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
    // Live once it holds a lease, hears the other nodes and knows their subscriptions and services.
    const live = await Promise.race([Promise.all([this.#ready, this.#listening, this.#loaded]).then(() => true), waited]);
    clearTimeout(timer);
    return live;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      // After the releases of the connections the broker closed: the names are free at once.
      await this.#link.withTimeout(this.#link.cmd.publish(this.#link.channel('*'), JSON.stringify({ t: 'bye', o: this.#id })));
      await this.#link.withTimeout(this.#link.cmd.del(this.#link.key('node:', this.#id)));
    } catch {
      // Redis is away: the others see the lease end instead.
    }
    await this.#link.close();
  }

  // Names.

  /** Who may hold each name: claims in Redis ([SB-3-2], [SB-4.1-6], [SB-6.4-1]; claims.ts). */
  get directory(): NameDirectory {
    return this.#claims;
  }

  /** Hold what other nodes write to `session` until `settled`: its claim is going out ([SB-16-6]). */
  hold(session: Session): void {
    this.#records.hold(session);
  }

  /** `session`'s register is settled (taken, with its mailbox written, or refused): write what was held. */
  settled(session: Session): void {
    this.#records.settled(session);
  }

  /**
   * `session` did not keep the name it claimed: free it. What it took from the mailbox stays there, and
   * the release opens the mailbox again (RELEASE).
   */
  unclaimed(session: Session, name: string): void {
    this.released(session, name);
  }

  /**
   * Free `name` in Redis now, ahead of an `unregister` (resolves when Redis has done it, or could not):
   * a lookup on another node after `unregistered` must not find the name ([SB-16-2]).
   */
  release(session: Session, name: string, keepMailbox = false): Promise<void> {
    return this.#claims.release(session, name, keepMailbox).then(() => undefined);
  }

  /**
   * `session` let go of `name`: free it in Redis (with a mailbox when `keepMailbox`, a durable name lost
   * otherwise than by unregister, [SB-16-6]), and tell the nodes with requests it was reached by ([SB-6-9]).
   */
  released(session: Session, name: string, keepMailbox = false): void {
    void this.#claims.release(session, name, keepMailbox).then((free) => {
      if (!free) return;
      this.services.unserved(name);
      this.#link.publish('*', { t: 'unsvc', o: this.#id, n: name }, '');
    });
    this.#tellAll(session, name);
  }

  /**
   * `session` is about to be reached by `name` as a subscriber: it takes its first name, or ('') it lets
   * go of its last. If it subscribes to anything, every other node knows before this resolves, as for a
   * subscribe ([SB-4.7-4]: a subscriber without a name is not reached).
   */
  named(session: Session, name: string): Promise<void> {
    if (!this.#subscriptions.renamed(this.#id, session, name)) return Promise.resolve();
    return this.#peers.tellAllAndWait({ t: 'name', o: this.#id, c: session.id, p: name, id: 0 }).then(() => undefined);
  }

  /** A connection of this node closed: the nodes with requests it held hear it ([SB-6-9]). */
  closed(session: Session): void {
    this.#tellAll(session, undefined);
    this.#inbound.drop(session);
    this.#subscriptions.closed(this.#id, session);
  }

  /** What `session` holds changed: a delivery to it began or ended (the pending table says so). */
  held(session: Session): void {
    this.#busy.changed(session);
  }

  /** The connection on another node that holds `name`, when cached; undefined: look it up. */
  cached(name: string): Session | undefined {
    return this.#claims.cached(name);
  }

  /** The holders of `names` on other nodes, and pools' members on every node (claims.ts). Throws ClusterUnavailable. */
  lookup(names: readonly string[]): Promise<Map<string, Holders>> {
    return this.#claims.lookup(names);
  }

  /** `session` joined pool `name`: the nodes that know the pool add it to the members a retry may go to. */
  joined(session: Session, name: string): void {
    this.#claims.joined(name, session);
    this.#link.publish('*', { t: 'join', o: this.#id, c: session.id, l: session.dialect, n: name }, '');
  }

  /** The members of pool `name` on every node not busy when last looked up: where a `retry` may go next ([SB-6.4-2]). */
  members(name: string): readonly Session[] | undefined {
    return this.#claims.members(name);
  }

  #remote(holder: Holder): RemoteSession {
    const session = this.remotes.get(holder.node, holder.conn, holder.dialect);
    this.#peers.know(holder.node);
    // A node already gone for us still has its lease: what reaches it ends at once.
    if (this.#peers.isGone(holder.node)) setImmediate(() => this.#sessionGone(session));
    return session;
  }

  /**
   * A frame from a connection of this node for a request kept on another node (an answer or a part):
   * sent there; false when no other node gave it this delivery id.
   */
  relay(session: Session, frame: UpFrame, body: string | undefined): boolean {
    const origin = this.#inbound.origin(session, frame.ack, frame.action === 'answer');
    if (origin === undefined) return false;
    if (origin === 'ended') return true; // late: dropped quietly [SB-4.4-2]
    const header: Header = { t: 'up', o: this.#id, c: session.id, l: session.dialect, f: frame };
    this.#link.publish(origin, header, body ?? '');
    return true;
  }

  // Topics and broadcast.

  /** The cluster's order for a new subscription of this node (subscriptions.ts). */
  order(): number {
    return this.#subscriptions.next();
  }

  /**
   * [SB-16-5] `session` subscribed to `topic`, with `order` (order()): kept in Redis, and known to every
   * other node when this resolves.
   */
  subscribed(session: Session, topic: string, order: number): Promise<void> {
    this.#subscriptions.add(this.#id, session, topic, order);
    const name = session.primaryName ?? '';
    return this.#peers.tellAllAndWait({ t: 'sub', o: this.#id, c: session.id, l: session.dialect, n: name, topic, q: order, id: 0 }).then(() => undefined);
  }

  /** [SB-16-5] `session` unsubscribed from `topic`: no other node reaches it by `topic` once this resolves. */
  unsubscribed(session: Session, topic: string): Promise<void> {
    if (!this.#subscriptions.remove(this.#id, session, topic)) return Promise.resolve();
    return this.#peers.tellAllAndWait({ t: 'unsub', o: this.#id, c: session.id, topic, id: 0 }).then(() => undefined);
  }

  /**
   * [SB-16-5] A `broadcast` from a connection of this node goes to every other node, which writes it to
   * its named connections and says how many they were. Resolves with their sum once every node heard
   * from has said it, or after a second with the count each silent node gave in its last beat.
   */
  async broadcast(payload: Payload): Promise<number> {
    const header: Header = { t: 'bc', o: this.#id, from: payload.from, s: payload.suffix, id: 0 };
    if (payload.trace !== undefined) header.tr = payload.trace;
    return (await this.#peers.tellAllAndWait(header, payload.body)).count;
  }

  // Outlet: how remote sessions write.

  write(node: string, conn: string, action: BrokerAction, data: string | Buffer, delivery?: { id: string; name?: string }): void {
    const header: Header = { t: 'w', o: this.#id, c: conn, a: action };
    if (delivery !== undefined) {
      header.d = delivery.id;
      if (delivery.name !== undefined) header.n = delivery.name;
    }
    this.#link.publish(node, header, typeof data === 'string' ? data : data.toString());
  }

  closeRemote(node: string, conn: string, code: number, reason: string): void {
    this.#link.publish(node, { t: 'close', o: this.#id, c: conn, code, reason }, '');
  }

  // Liveness.

  /** Renew the lease, beat, and find the nodes that went quiet. */
  #tick(): void {
    if (this.#closed) return;
    if (this.#checkLive()) {
      this.#claims.retryReleases();
      this.#busy.renew();
    }
    if (this.#link.cmd.isReady) {
      const sentAt = performance.now();
      const key = this.#link.key('node:', this.#id);
      this.#link.withTimeout(this.#link.cmd.set(key, '1', { expiration: { type: 'PX', value: this.#options.leaseMs } })).then(
        () => {
          if (this.#closed || key !== this.#link.key('node:', this.#id)) return;
          if (sentAt > this.#leaseFrom) this.#leaseFrom = sentAt;
          if (this.#fenced) {
            this.#fenced = false;
            this.#host.logger.info({ node: this.#id }, `cluster: live again as node ${this.#id}`);
          }
          this.#onReady();
        },
        (error: Error) => this.#warn(`redis: lease not renewed: ${error.message}`),
      );
      this.#link.cmd.publish(this.#link.channel('*'), JSON.stringify({ t: 'beat', o: this.#id, k: this.#host.namedCount })).catch(() => {});
      this.#subscriptions.renew(this.#id, this.#options.leaseMs);
    }
    for (const node of this.#peers.quiet()) this.#nodeGone(node);
    const pending = this.#host.pending;
    const busy = (session: RemoteSession) => pending.inFlight(session) > 0 || this.topics.countOf(session) > 0;
    for (const session of [...this.remotes.idle(Date.now() - REMOTE_IDLE_MS, busy)]) {
      this.remotes.remove(session.node, session.id);
      this.#sessionGone(session);
    }
  }

  /** True when live; when the lease has run out, fence first: the node must not act as owner past it. */
  #checkLive(): boolean {
    if (this.live) return true;
    if (this.#leaseFrom > 0 && !this.#fenced) this.#fence();
    return false;
  }

  /**
   * [SB-16-3] The lease may have ended: close every named connection before anyone may take its names,
   * forget every other node's connections, and come back under a new id.
   */
  #fence(): void {
    this.#fenced = true;
    const old = this.#id;
    this.#id = nanoid(10);
    this.#host.logger.warn({ node: old }, `cluster: lease of node ${old} not renewed in time: closing its named connections; next id ${this.#id}`);
    this.#link.move(old, this.#id);
    for (const node of this.#peers.all()) this.#nodeGone(node);
    this.#claims.forgetHolders();
    this.#subscriptions.clear(); // held by named connections, closed below
    for (const session of [...this.#host.sessions]) {
      if (session.names.size > 0) session.close(CLOSE_CODES.clusterLost, 'this broker node lost its cluster lease');
    }
  }

  /** [SB-16-4] A node left or went quiet: what is held there ends, what it sent is cancelled here. */
  #nodeGone(node: string): void {
    this.#peers.gone(node);
    for (const session of this.remotes.removeNode(node)) this.#sessionGone(session);
    for (const { session, id } of this.#inbound.endFrom(node)) session.send({ action: 'cancel', ack: id, reason: 'sender_gone' }); // [SB-6.1-2]
  }

  #sessionGone(session: RemoteSession): void {
    this.#claims.forget(session);
    this.topics.peerGone(session);
    session.gone();
    this.#host.pending.peerGone(session); // [SB-6-9]
  }

  /** After Redis came back: take again every name and subscription of this node's connections; a name taken meanwhile closes its holder here. */
  #reassert(): void {
    this.#subscriptions.reassert(this.#id);
    for (const session of [...this.#host.sessions]) {
      for (const name of session.names) {
        const shared = this.#host.names.entry(name)?.shared === true;
        const durable = session.durableNames.has(name) || this.#host.durableByPattern(name);
        this.#claims.claim(session, name, { takeover: false, shared, durable }).then(
          (claim) => {
            if (claim.kind === 'taken') session.close(CLOSE_CODES.takenOver, `taken over: ${name}`);
            // A mailbox opened while Redis did not know the holder (its record lost or ended) is the
            // holder's again: written to it ([SB-16-6]).
            if (claim.kind === 'ok') void this.#host.takeMailbox(session, name);
          },
          () => {},
        );
      }
    }
  }

  /** Every node hears it: the ones with requests it was reached by end them, the others forget it as a holder. */
  #tellAll(session: Session, name: string | undefined): void {
    // `p`: the name the connection is reached by now as a subscriber, '' for none ([SB-4.7-4]).
    const header: Header =
      name === undefined ? { t: 'gone', o: this.#id, c: session.id } : { t: 'gone', o: this.#id, c: session.id, n: name, p: session.primaryName ?? '' };
    this.#link.publish('*', header, '');
  }

  /** Redis trouble, logged at most once a second: an outage must not flood the log. */
  #warn(message: string): void {
    const now = Date.now();
    if (now - this.#lastWarning < 1000) return;
    this.#lastWarning = now;
    this.#host.logger.warn({ node: this.#id }, `cluster: ${message}`);
  }
}
