/**
 * One broker node of a cluster on Redis (protocol.md section 16, README "Cluster mode").
 *
 * Every node keeps its own connections, pending table and topics, as the embedded broker does. Redis
 * holds the one thing the nodes must agree on, who holds each name (scripts.ts), and carries frames
 * between nodes: each node listens on its own channel and on one channel shared by all. A request stays
 * on the node of its sender, which decides its one outcome; a receiver on another node is a
 * RemoteSession there (remote.ts), and its node writes to the connection what arrives for it and sends
 * back what the connection answers for those requests (`relay`). The mailboxes of offline durable names
 * are in Redis too (mailboxes.ts).
 *
 * Leases: a node's names count only while its lease key lives. The node renews it every `leaseMs / 6`;
 * when it has not renewed for three quarters of `leaseMs` it closes its named connections (4011) before
 * anyone else may take their names, and comes back under a new node id once Redis answers again, so
 * that nothing it held before counts. Nodes beat on the shared channel; a node not heard from for
 * two thirds of `leaseMs` is gone for the others: the deliveries held there end `responder_gone`
 * ([SB-6-9]) and the requests sent from there are cancelled at their receivers.
 */
import { nanoid } from 'nanoid';
import { CLOSE_CODES, type AnnounceFrame, type AnswerFrame, type BrokerAction, type Dialect, type Limits, type ProgressFrame } from '../../protocol/index.js';
import type { Logger } from '../options.js';
import type { NameRegistry } from '../names.js';
import type { Payload, PendingTable } from '../pending.js';
import type { RawStats, ServiceRegistry } from '../services.js';
import type { Session } from '../session.js';
import type { TopicTable } from '../topics.js';
import { Inbound } from './inbound.js';
import { ClusterUnavailable, Link, type Header, type UpFrame } from './link.js';
import { ClusterMailboxes, fsyncsEveryWrite, type Enqueued, type Queueing } from './mailboxes.js';
import { RemoteSessions, type Outlet, type RemoteSession } from './remote.js';
import { Subscriptions } from './subscriptions.js';
import { ANNOUNCE, CLAIM, JOIN, LOOKUP, RELEASE, SERVICES, parseHolder, type Holder } from './scripts.js';

export interface ClusterOptions {
  /** The Redis URL (`redis://host:port`, `rediss://`, `unix:///path`). */
  readonly url: string;
  /** Prepended to every key and channel, so that clusters can share a Redis. */
  readonly prefix: string;
  /** How long a node's names outlive it (ms). */
  readonly leaseMs: number;
}

/** What a cluster node needs of its broker. */
export interface ClusterHost {
  readonly pending: PendingTable<Session>;
  /** The node's copy of every service's contract, and what it counted for each ([SB-14-5]). */
  readonly services: ServiceRegistry;
  readonly limits: Readonly<Limits>;
  readonly names: NameRegistry<Session>;
  /** The node's open connections. */
  readonly sessions: ReadonlySet<Session>;
  sessionById(id: string): Session | undefined;
  /** Handle what a connection on another node sent for a request held here, as if it had sent it here. */
  remoteFrame(session: Session, frame: AnswerFrame | ProgressFrame, raw: string | undefined): void;
  /** A `broadcast` made on another node: to every connection of this node that holds a name ([SB-4.8-1]); how many. */
  remoteBroadcast(payload: Payload): number;
  /** Write to `session`, which took `name`, the queued request slot `slot` of `request` ([SB-6.3-1]). */
  attachQueued(sender: Session, ack: string, slot: number, session: Session, name: string): void;
  /** Tell the sender of a queued message that it expired ([SB-6.3-2]). */
  expired(senderId: string, name: string, ref: string): void;
  /** How many connections of this node hold a name. */
  readonly namedCount: number;
  fault(error: unknown): void;
  readonly logger: Logger;
}

/**
 * Who holds a name elsewhere: its holder on another node, or a pool's members of every node in turn
 * order; or nobody, and it has a mailbox ([SB-16-6]).
 */
export interface Holders {
  readonly pool: boolean;
  readonly members: readonly Session[];
  readonly mailbox?: true;
}

export { ClusterUnavailable };

/**
 * A claim's result; `ok` comes with what waited in the name's mailbox (id, item, id, item...), for the
 * claimer to write (deliverQueued).
 */
export type Claim =
  | { kind: 'ok'; queued: readonly string[] }
  | { kind: 'held' | 'taken' | 'conflict' | 'unavailable' }
  | { kind: 'over'; node: string; conn: string; here: boolean };

/** A release to try again: the connection (by id) that let go of `name`, under node id `node`. */
interface Unreleased {
  readonly session: Session;
  readonly name: string;
  readonly node: string;
  readonly keepMailbox: boolean;
}

/** How many frames are held for one connection while its register is out; past it they are written at once. */
const MAX_HELD_FRAMES = 10_000;

/** How many releases are kept to try again; past it the oldest goes (its name frees when this node's lease ends). */
const MAX_UNRELEASED = 100_000;

/** How many pools' member lists are kept for `retry`; past it the least recently looked up goes. */
const MAX_POOLS_KEPT = 10_000;
/** How many names' holders on other nodes are cached; past it the oldest is forgotten. */
const MAX_CACHED_HOLDERS = 100_000;
/** How long a subscription waits for every other node to know it before `subscribed` is sent anyway. */
const SUBSCRIBE_WAIT_MS = 1000;

/** A change told to every node, waiting for their `ok`s; `count` sums the `k` they answered, `replies` their bodies. */
interface Waiting {
  readonly nodes: Set<string>;
  count: number;
  readonly replies: string[];
  readonly done: () => void;
}

/** What every node answered to something told to all: the counts summed, and each reply's body. */
interface Answers {
  readonly count: number;
  readonly replies: readonly string[];
}

/** A service in the cluster's listing: how many connections hold its name, and its contract. */
export interface ClusterService {
  readonly members: number;
  readonly contract: AnnounceFrame;
  /** What the other nodes counted for it. */
  readonly elsewhere: RawStats[];
}
/** Remote sessions idle this long, with nothing in flight, are forgotten. */
const REMOTE_IDLE_MS = 30_000;
export class ClusterNode implements Outlet {
  #id = nanoid(10);
  readonly #options: ClusterOptions;
  readonly #host: ClusterHost;
  readonly #link: Link;
  readonly remotes: RemoteSessions;
  /**
   * The subscriptions of connections on other nodes ([SB-16-5]): every node tells all the others of each
   * subscribe and unsubscribe, and keeps them in Redis (one hash per node, living with its lease) for
   * the nodes that start later.
   */
  readonly #subscriptions: Subscriptions;
  /** The mailboxes of offline durable names, in Redis ([SB-16-6]). */
  readonly #mailboxes: ClusterMailboxes;
  /** Subscribes and unsubscribes waiting for the other nodes to say they know: id -> who has not said. */
  readonly #waiting = new Map<number, Waiting>();
  #nextWait = 0;
  /** Deliveries of requests kept on other nodes, per connection of this node: delivery id -> that node. */
  readonly #inbound = new Inbound();
  /** Other nodes, when last heard from, and whether they count as gone. */
  readonly #nodes = new Map<string, { at: number; gone: boolean; named: number }>();
  /**
   * The holders on other nodes of names looked up before, until they release them (each node tells all).
   * Only holders are cached, never "nobody": a name not here is looked up in Redis, so that a request is
   * never told `no_responders` for a name already registered elsewhere ([SB-16-2]).
   */
  readonly #holders = new Map<string, RemoteSession>();
  /** The members of every node of the pools looked up lately, for `retry` ([SB-6.4-2]). */
  readonly #pools = new Map<string, readonly Session[]>();
  /** performance.now() when the last lease renewal that succeeded was sent; 0: no lease. */
  #leaseFrom = 0;
  #fenced = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #wasReady = false;
  #lastWarning = 0;
  /**
   * Releases Redis did not take (it was away): tried again on each tick while live, so that a name whose
   * holder left during a short outage does not stay held by a connection that is gone. Oldest first.
   */
  readonly #unreleased = new Map<string, Unreleased>();
  /**
   * Frames from other nodes for connections whose `register` is out in Redis (hold), kept until it is
   * settled: a sender that found the new record must not reach the connection ahead of its `registered`
   * and of what waited in the name's mailbox ([SB-16-6]).
   */
  readonly #holding = new Map<Session, Array<{ header: Header; body: string }>>();
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
    this.#link = new Link(options, (header, body) => this.#record(header, body), (message) => this.#warn(message));
    this.#subscriptions = new Subscriptions(this.#link, this.remotes);
    this.#mailboxes = new ClusterMailboxes({
      link: this.#link,
      prefix: options.prefix,
      id: () => this.#id,
      limits: host.limits,
      attachHere: (senderId, ack, slot, session, name) => {
        const sender = host.sessionById(senderId);
        if (sender !== undefined) host.attachQueued(sender, ack, slot, session, name);
      },
      inbound: (session, id, origin) => this.#inbound.add(session, id, origin),
      expired: (senderId, name, ref) => host.expired(senderId, name, ref),
    });
    this.#ready = new Promise((resolve) => (this.#onReady = resolve));
    this.#loaded = new Promise((resolve) => (this.#onLoaded = resolve));
    this.#link.cmd.on('ready', () => {
      this.#forgetHolders(); // what was said while we were away is lost: ask again
      if (this.#wasReady) this.#reassert();
      this.#wasReady = true;
      this.#tick();
      void fsyncsEveryWrite(this.#link).then((always) => {
        const what = always === undefined ? 'cannot say whether it writes to disk' : 'does not write every change to disk before it answers';
        if (always !== true) this.#host.logger.warn({ node: this.#id }, `cluster: Redis ${what} (appendonly yes, appendfsync always): a queued message may be lost if Redis crashes`);
      });
      // After our own subscription is confirmed: a `sub` record sent meanwhile is then heard, or read here.
      void this.#listening
        .then(() => this.#loadNodes())
        .then(() => this.#subscriptions.load(this.#id, (node) => this.#know(node)))
        .then(() => this.#loadServices())
        .then(() => this.#onLoaded())
        .catch((error: Error) => this.#warn(`redis: subscriptions not read: ${error.message}`));
    });
  }

  /** The subscriptions of connections on other nodes ([SB-16-5]), which `publish` reaches. */
  get topics(): TopicTable<RemoteSession> {
    return this.#subscriptions.remote;
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

  get #goneAfterMs(): number {
    return (this.#options.leaseMs * 2) / 3;
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

  /** Claim `name` for `session` in the cluster ([SB-3-2], [SB-4.1-6]), or join its pool ([SB-6.4-1]). */
  async claim(session: Session, name: string, takeover: boolean, shared = false, durable = false): Promise<Claim> {
    if (!this.#checkLive()) return { kind: 'unavailable' };
    const identity = session.authenticated ? (session.identity?.id ?? '') : '';
    const id = this.#id;
    const keys = [this.#link.key('name:', name), this.#link.key('pool:', name), ...this.#mailboxes.takeKeys(name), this.#link.key('dur:', name)];
    let reply: string[];
    try {
      if (shared) reply = (await this.#link.eval(JOIN, keys, [this.#options.prefix, this.#member(session), name])) as string[];
      else {
        const args = [this.#options.prefix, id, session.id, session.dialect, identity, takeover ? '1' : '0', name, durable ? '1' : '0'];
        reply = (await this.#link.eval(CLAIM, keys, args)) as string[];
      }
    } catch {
      return { kind: 'unavailable' };
    }
    const [kind, node, conn] = reply;
    if (kind === 'ok') return { kind, queued: reply.slice(1) };
    if (kind === 'over') {
      if (node !== id) this.closeRemote(node, conn, CLOSE_CODES.takenOver, `taken over: ${name}`);
      return { kind: 'over', node, conn, here: node === id };
    }
    return { kind: kind as 'held' | 'taken' | 'conflict' };
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

  /** The name nobody holds any more has no contract ([SB-14-1]); one held here again keeps the new one. */
  #unserved(name: string): void {
    if (this.#host.names.entry(name) === undefined) this.#host.services.drop(name);
  }

  /**
   * [SB-16-7] Keep a service's contract in the cluster: every node knows it when this resolves (so the
   * stats of a call from any node count). Resolves with the version kept instead when the pool's other
   * members serve another ([SB-14-1]); throws ClusterUnavailable.
   */
  async announce(frame: AnnounceFrame): Promise<string | undefined> {
    const contract: AnnounceFrame = { action: 'announce', id: frame.id, version: frame.version, methods: frame.methods };
    if (frame.description !== undefined) contract.description = frame.description;
    const body = JSON.stringify(contract);
    const keys = [this.#link.key('pool:', frame.id), this.#link.key('svc:', frame.id), this.#link.key('svcs', '')];
    const kept = (await this.#whenLive(() => this.#link.eval(ANNOUNCE, keys, [this.#options.prefix, frame.version, body, frame.id]))) as string;
    if (kept !== '') return kept;
    this.#host.services.announce(contract);
    await this.#tellAllAndWait({ t: 'svc', o: this.#id, id: 0 }, body);
    return undefined;
  }

  /**
   * [SB-16-7] The services of the cluster (`names`, or all), each with its holders on every node and
   * what the other nodes counted for it. Throws ClusterUnavailable.
   */
  async services(names: readonly string[] | undefined): Promise<Map<string, ClusterService>> {
    const found = await this.#whenLive(() => this.#readServices(names ?? []));
    if (found.size === 0) return found;
    const { replies } = await this.#tellAllAndWait({ t: 'stats', o: this.#id, id: 0, n: [...found.keys()] });
    for (const reply of replies) {
      for (const [name, raw] of JSON.parse(reply) as Array<[string, RawStats]>) found.get(name)?.elsewhere.push(raw);
    }
    return found;
  }

  /** Learn every contract of the cluster (at start, and after Redis came back). */
  async #loadServices(): Promise<void> {
    await this.#readServices([]);
  }

  /**
   * The services `names` (none: all) as Redis lists them; this node's copy learns each contract it has not
   * heard of yet (it started later, or the record is on its way).
   */
  async #readServices(names: readonly string[]): Promise<Map<string, ClusterService>> {
    const reply = (await this.#link.eval(SERVICES, [this.#link.key('svcs', '')], [this.#options.prefix, ...names])) as string[];
    const found = new Map<string, ClusterService>();
    for (let i = 0; i < reply.length; i += 3) {
      const contract = JSON.parse(reply[i + 2]) as AnnounceFrame;
      if (this.#host.services.version(reply[i]) !== contract.version) this.#host.services.announce(contract);
      found.set(reply[i], { members: Number(reply[i + 1]), contract, elsewhere: [] });
    }
    return found;
  }

  /** `work` on Redis, if this node is live; ClusterUnavailable when it is not, or Redis does not answer. */
  async #whenLive<T>(work: () => Promise<T>): Promise<T> {
    if (!this.#checkLive()) throw new ClusterUnavailable('this node holds no cluster lease');
    try {
      return await work();
    } catch (error) {
      throw new ClusterUnavailable('redis did not answer', { cause: error });
    }
  }

  /** [SB-16-6] Write to `session`, which took `name`, what its claim was given from the name's mailbox. */
  deliverQueued(session: Session, name: string, queued: readonly string[]): void {
    this.#mailboxes.deliver(session, name, queued);
  }

  /**
   * `session` did not keep the name it claimed: free it. What its claim was given from the mailbox stays
   * there, and the release opens the mailbox again (RELEASE).
   */
  unclaimed(session: Session, name: string): void {
    this.released(session, name);
  }

  /**
   * [SB-16-6] Queue a send in the mailboxes of the offline names `queued`: all or none. `raced` when one
   * was taken, or its mailbox closed, since it was looked up. Throws ClusterUnavailable.
   */
  enqueue(queued: ReadonlyArray<{ name: string; slot: number }>, what: Queueing): Promise<Enqueued> {
    return this.#whenLive(() => this.#mailboxes.enqueue(queued, what));
  }

  #member(session: Session): string {
    return `${this.#id}|${session.id}|${session.dialect}`;
  }

  /**
   * Free `name` in Redis now, ahead of an `unregister` (resolves when Redis has done it, or could not):
   * a lookup on another node after `unregistered` must not find the name ([SB-16-2]).
   */
  release(session: Session, name: string, keepMailbox = false): Promise<void> {
    return this.#release(session, name, keepMailbox).then(() => undefined);
  }

  /**
   * RELEASE; resolves true when nobody holds the name any more, so that its contract went ([SB-14-1]).
   * When Redis does not take it, it is tried again once Redis answers (#retryReleases).
   */
  #release(session: Session, name: string, keepMailbox: boolean, node = this.#id): Promise<boolean> {
    const mailbox = this.#mailboxes.releaseArgs(name, keepMailbox);
    const keys = [this.#link.key('name:', name), this.#link.key('pool:', name), ...mailbox.keys, this.#link.key('dur:', name), this.#link.key('svc:', name), this.#link.key('svcs', '')];
    const release = `${session.id}|${name}`;
    return this.#link.eval(RELEASE, keys, [node, session.id, `${node}|${session.id}|${session.dialect}`, ...mailbox.args]).then(
      (reply) => {
        this.#unreleased.delete(release);
        return (reply as number[])[0] === 1;
      },
      () => {
        this.#unreleased.delete(release); // re-inserted: the oldest comes first
        this.#unreleased.set(release, { session, name, node, keepMailbox });
        if (this.#unreleased.size > MAX_UNRELEASED) this.#unreleased.delete(this.#unreleased.keys().next().value as string);
        return false;
      },
    );
  }

  /** Try again the releases Redis did not take; one the connection took back since stays with it. */
  #retryReleases(): void {
    for (const [key, { session, name, node, keepMailbox }] of this.#unreleased) {
      if (session.names.has(name)) this.#unreleased.delete(key);
      else void this.#release(session, name, keepMailbox, node);
    }
  }

  /**
   * `session` let go of `name`: free it in Redis (with a mailbox when `keepMailbox`, a durable name lost
   * otherwise than by unregister, [SB-16-6]), and tell the nodes with requests it was reached by ([SB-6-9]).
   */
  released(session: Session, name: string, keepMailbox = false): void {
    void this.#release(session, name, keepMailbox).then((free) => {
      if (!free) return;
      this.#unserved(name);
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
    return this.#tellAllAndWait({ t: 'name', o: this.#id, c: session.id, p: name, id: 0 }).then(() => undefined);
  }

  /** A connection of this node closed: the nodes with requests it held hear it ([SB-6-9]). */
  closed(session: Session): void {
    this.#tellAll(session, undefined);
    this.#inbound.drop(session);
    this.#subscriptions.closed(this.#id, session);
  }

  /** The connection on another node that holds `name`, when cached; undefined: look it up. */
  cached(name: string): Session | undefined {
    if (!this.#checkLive()) return undefined;
    const session = this.#holders.get(name);
    return session?.isOpen === true ? session : undefined;
  }

  /**
   * The connections that hold `names`, by name: the holder on another node, or a pool's members on every
   * node, the one whose turn it is first ([SB-6.4-1]). A name held nowhere is absent. Throws
   * ClusterUnavailable when Redis cannot say: a request is never told `no_responders` for a name that may
   * be held ([SB-6-6]).
   */
  async lookup(names: readonly string[]): Promise<Map<string, Holders>> {
    const keys = names.flatMap((name) => ['name:', 'pool:', 'rr:', 'box:', 'dur:'].map((kind) => this.#link.key(kind, name)));
    const args = [this.#options.prefix, String(Date.now()), String(this.#host.limits.maxMailboxes), ...names];
    const reply = (await this.#whenLive(() => this.#link.eval(LOOKUP, keys, args))) as Array<string | string[]>;
    const found = new Map<string, Holders>();
    reply.forEach((records, index) => {
      const name = names[index];
      if (records === 'mailbox') {
        found.set(name, { pool: false, members: [], mailbox: true });
        return;
      }
      if (typeof records === 'string') {
        // An exclusive holder: one here is in the local registry already.
        const holder = records === '' ? undefined : parseHolder(records);
        if (holder === undefined || holder.node === this.#id) return;
        const session = this.#remote(holder);
        found.set(name, { pool: false, members: [session] });
        this.#cache(name, session);
        return;
      }
      // A pool's members in turn order; never cached, as the turn moves on.
      const members: Session[] = [];
      for (const record of records) {
        const holder = parseHolder(record);
        if (holder === undefined) continue;
        const local = holder.node === this.#id ? this.#host.sessionById(holder.conn) : undefined;
        if (holder.node !== this.#id) members.push(this.#remote(holder));
        else if (local?.names.has(name) === true) members.push(local);
      }
      if (members.length > 0) found.set(name, { pool: true, members });
      this.#pools.delete(name);
      this.#pools.set(name, members);
      if (this.#pools.size > MAX_POOLS_KEPT) this.#pools.delete(this.#pools.keys().next().value as string);
    });
    return found;
  }

  /** `session` joined pool `name`: the nodes that know the pool add it to the members a retry may go to. */
  joined(session: Session, name: string): void {
    this.#addMember(name, session);
    this.#link.publish('*', { t: 'join', o: this.#id, c: session.id, l: session.dialect, n: name }, '');
  }

  #addMember(name: string, member: Session): void {
    const members = this.#pools.get(name);
    if (members !== undefined && !members.includes(member)) this.#pools.set(name, [...members, member]);
  }

  /** The members of pool `name` on every node, as last looked up: where a `retry` may go next ([SB-6.4-2]). */
  members(name: string): readonly Session[] | undefined {
    return this.#pools.get(name);
  }

  #remote(holder: Holder): RemoteSession {
    const session = this.remotes.get(holder.node, holder.conn, holder.dialect);
    this.#know(holder.node);
    // A node already gone for us still has its lease: what reaches it ends at once.
    if (this.#nodes.get(holder.node)?.gone === true) setImmediate(() => this.#sessionGone(session));
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
    return this.#tellAllAndWait({ t: 'sub', o: this.#id, c: session.id, l: session.dialect, n: name, topic, q: order, id: 0 }).then(() => undefined);
  }

  /** [SB-16-5] `session` unsubscribed from `topic`: no other node reaches it by `topic` once this resolves. */
  unsubscribed(session: Session, topic: string): Promise<void> {
    if (!this.#subscriptions.remove(this.#id, session, topic)) return Promise.resolve();
    return this.#tellAllAndWait({ t: 'unsub', o: this.#id, c: session.id, topic, id: 0 }).then(() => undefined);
  }

  /**
   * [SB-16-5] A `broadcast` from a connection of this node goes to every other node, which writes it to
   * its named connections and says how many they were. Resolves with their sum once every node heard
   * from has said it, or after SUBSCRIBE_WAIT_MS with the count each silent node gave in its last beat.
   */
  async broadcast(payload: Payload): Promise<number> {
    const header: Header = { t: 'bc', o: this.#id, from: payload.from, s: payload.suffix, id: 0 };
    if (payload.trace !== undefined) header.tr = payload.trace;
    return (await this.#tellAllAndWait(header, payload.body)).count;
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

  // What arrives.

  #record(header: Header, body: string): void {
    if (header.o === this.#id) return; // our own, on the shared channel
    this.#heard(header.o);
    if (!this.#checkLive() && header.t !== 'beat' && header.t !== 'bye') return; // fenced: act on nothing
    try {
      this.#handle(header, body);
    } catch (error) {
      this.#host.fault(error);
    }
  }

  #handle(header: Header, body: string): void {
    switch (header.t) {
      case 'w': {
        const session = this.#host.sessionById(header.c);
        if (session === undefined || !session.isOpen) {
          this.#link.publish(header.o, { t: 'gone', o: this.#id, c: header.c }, '');
          return;
        }
        const held = this.#holding.size === 0 ? undefined : this.#holding.get(session);
        if (held !== undefined && held.length < MAX_HELD_FRAMES) {
          held.push({ header, body });
          return;
        }
        if (header.d !== undefined) {
          if (header.a === 'cancel') this.#inbound.end(session, header.d);
          else if (header.a === 'message') {
            // Fencing at the last step: a connection that no longer holds the name is not reached by it.
            if (header.n !== undefined && !session.names.has(header.n)) {
              this.#link.publish(header.o, { t: 'gone', o: this.#id, c: header.c, n: header.n }, '');
              return;
            }
            this.#inbound.add(session, header.d, header.o);
          }
        }
        session.write(header.a, body);
        return;
      }
      case 'close':
        this.#host.sessionById(header.c)?.close(header.code, header.reason);
        return;
      case 'gone': {
        if (header.n !== undefined) {
          const session = this.remotes.find(header.o, header.c);
          if (session === undefined) return;
          this.#uncache(header.n, session);
          if (header.p !== undefined) {
            session.names.clear();
            if (header.p !== '') session.names.add(header.p);
          }
          this.#host.pending.nameReleased(session, header.n);
          return;
        }
        const session = this.remotes.remove(header.o, header.c);
        if (session !== undefined) this.#sessionGone(session);
        return;
      }
      case 'up': {
        const session = this.remotes.get(header.o, header.c, header.l);
        const raw = header.f.action === 'answer' && header.f.error !== undefined ? undefined : body;
        this.#host.remoteFrame(session, header.f as AnswerFrame | ProgressFrame, raw);
        return;
      }
      case 'beat':
        this.#nodes.get(header.o)!.named = header.k;
        return;
      case 'bye':
        this.#nodeGone(header.o);
        return;
      case 'sub': {
        this.#subscriptions.subscribed(this.remotes.get(header.o, header.c, header.l), header.n, header.topic, header.q);
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id }, '');
        return;
      }
      case 'unsub': {
        const session = this.remotes.find(header.o, header.c);
        if (session !== undefined) this.topics.unsubscribe(session, header.topic);
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id }, '');
        return;
      }
      case 'name': {
        const session = this.remotes.find(header.o, header.c);
        if (session !== undefined) {
          session.names.clear();
          if (header.p !== '') session.names.add(header.p);
        }
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id }, '');
        return;
      }
      case 'join':
        this.#addMember(header.n, this.remotes.get(header.o, header.c, header.l));
        return;
      case 'ok': {
        const waiting = this.#waiting.get(header.id);
        if (waiting?.nodes.delete(header.o) !== true) return;
        waiting.count += header.k ?? 0;
        if (body !== '') waiting.replies.push(body);
        if (waiting.nodes.size === 0) waiting.done();
        return;
      }
      case 'att': {
        // [SB-16-6] Another node wrote a queued slot of a request kept here: attach it, or tell it to stop.
        const sender = this.#host.sessionById(header.s);
        const request = sender === undefined ? undefined : this.#host.pending.request(sender, header.a);
        const receiver = this.remotes.get(header.o, header.c, header.l);
        if (request === undefined || this.#host.pending.attach(request, header.k, { peer: receiver, name: header.n }, header.d) === undefined) {
          receiver.send({ action: 'cancel', ack: header.d, reason: sender === undefined ? 'sender_gone' : 'timeout' });
        }
        return;
      }
      case 'exp':
        this.#host.expired(header.c, header.n, header.r);
        return;
      case 'svc':
        this.#host.services.announce(JSON.parse(body) as AnnounceFrame);
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id }, '');
        return;
      case 'unsvc':
        this.#unserved(header.n);
        return;
      case 'stats': {
        const counted: Array<[string, RawStats]> = [];
        for (const name of header.n) {
          const raw = this.#host.services.raw(name);
          if (raw !== undefined) counted.push([name, raw]);
        }
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id }, JSON.stringify(counted));
        return;
      }
      case 'bc': {
        const k = this.#host.remoteBroadcast({ body, from: header.from, suffix: header.s, trace: header.tr });
        this.#link.publish(header.o, { t: 'ok', o: this.#id, id: header.id, k }, '');
        return;
      }
    }
  }

  // Liveness.

  #heard(node: string): void {
    const known = this.#nodes.get(node);
    if (known === undefined) this.#nodes.set(node, { at: performance.now(), gone: false, named: 0 });
    else {
      known.at = performance.now();
      known.gone = false;
    }
  }

  /** Renew the lease, beat, and find the nodes that went quiet. */
  #tick(): void {
    if (this.#closed) return;
    // [SB-6.3-2] Every node ages the mailboxes; the script gives each expired item to one of them.
    if (this.#checkLive()) {
      this.#mailboxes.sweep().catch(() => {});
      if (this.#unreleased.size > 0) this.#retryReleases();
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
    const now = performance.now();
    for (const [node, known] of this.#nodes) {
      if (known.gone) {
        if (now - known.at > this.#options.leaseMs * 10) this.#nodes.delete(node);
      } else if (now - known.at > this.#goneAfterMs) this.#nodeGone(node);
    }
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
    for (const node of [...this.#nodes.keys()]) this.#nodeGone(node);
    this.#forgetHolders();
    this.#subscriptions.clear(); // held by named connections, closed below
    for (const session of [...this.#host.sessions]) {
      if (session.names.size > 0) session.close(CLOSE_CODES.clusterLost, 'this broker node lost its cluster lease');
    }
  }

  /** [SB-16-4] A node left or went quiet: what is held there ends, what it sent is cancelled here. */
  #nodeGone(node: string): void {
    const known = this.#nodes.get(node);
    if (known !== undefined) known.gone = true;
    else this.#nodes.set(node, { at: performance.now(), gone: true, named: 0 });
    for (const session of this.remotes.removeNode(node)) this.#sessionGone(session);
    for (const waiting of this.#waiting.values()) {
      waiting.nodes.delete(node);
      if (waiting.nodes.size === 0) waiting.done();
    }
    for (const { session, id } of this.#inbound.endFrom(node)) session.send({ action: 'cancel', ack: id, reason: 'sender_gone' }); // [SB-6.1-2]
  }

  #sessionGone(session: RemoteSession): void {
    for (const name of session.cachedNames) this.#uncache(name, session);
    this.topics.peerGone(session);
    session.gone();
    this.#host.pending.peerGone(session); // [SB-6-9]
  }

  /**
   * The nodes that hold a lease, from Redis: a subscribe waits for each of them to know it, even before
   * their first beat reaches this node.
   */
  async #loadNodes(): Promise<void> {
    const prefix = this.#link.key('node:', '');
    let cursor = '0';
    do {
      const [next, keys] = (await this.#link.withTimeout(this.#link.cmd.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '100']))) as [string, string[]];
      cursor = next;
      for (const key of keys) if (key !== this.#link.key('node:', this.#id)) this.#know(key.slice(prefix.length));
    } while (cursor !== '0');
  }

  /** A node not heard from yet is gone for us if it stays quiet (it may have died before we started). */
  #know(node: string): void {
    if (!this.#nodes.has(node)) this.#nodes.set(node, { at: performance.now(), gone: false, named: 0 });
  }

  /** After Redis came back: take again every name and subscription of this node's connections; a name taken meanwhile closes its holder here. */
  #reassert(): void {
    this.#subscriptions.reassert(this.#id);
    for (const session of [...this.#host.sessions]) {
      for (const name of session.names) {
        this.claim(session, name, false, this.#host.names.entry(name)?.shared === true).then(
          (claim) => {
            if (claim.kind === 'taken') session.close(CLOSE_CODES.takenOver, `taken over: ${name}`);
            // A mailbox opened while Redis did not know the holder (its record lost or ended) is the
            // holder's again: written now, ahead of anything sent once Redis knows it ([SB-16-6]).
            if (claim.kind === 'ok') this.deliverQueued(session, name, claim.queued);
          },
          () => {},
        );
      }
    }
  }

  /**
   * Tell every other node, and resolve when each node heard from says it knows, or after
   * SUBSCRIBE_WAIT_MS; with the sum of the counts (`k`) the nodes answered, and for a node that did not
   * answer in time, the count of its last beat.
   */
  #tellAllAndWait(header: Header & { id: number }, body = ''): Promise<Answers> {
    const nodes = new Set<string>();
    for (const [node, known] of this.#nodes) if (!known.gone) nodes.add(node);
    if (nodes.size === 0 || !this.live) {
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
      const timer = setTimeout(waiting.done, SUBSCRIBE_WAIT_MS);
      this.#waiting.set(header.id, waiting);
      this.#link.publish('*', header, body);
    });
  }

  /** Every node hears it: the ones with requests it was reached by end them, the others forget it as a holder. */
  #tellAll(session: Session, name: string | undefined): void {
    // `p`: the name the connection is reached by now as a subscriber, '' for none ([SB-4.7-4]).
    const header: Header =
      name === undefined ? { t: 'gone', o: this.#id, c: session.id } : { t: 'gone', o: this.#id, c: session.id, n: name, p: session.primaryName ?? '' };
    this.#link.publish('*', header, '');
  }

  #cache(name: string, session: RemoteSession): void {
    const before = this.#holders.get(name);
    if (before !== undefined) before.cachedNames.delete(name);
    this.#holders.set(name, session);
    session.cachedNames.add(name);
    if (this.#holders.size > MAX_CACHED_HOLDERS) {
      const [oldest, holder] = this.#holders.entries().next().value as [string, RemoteSession];
      this.#uncache(oldest, holder);
    }
  }

  #uncache(name: string, session: RemoteSession): void {
    if (this.#holders.get(name) !== session) return;
    this.#holders.delete(name);
    session.cachedNames.delete(name);
  }

  #forgetHolders(): void {
    for (const session of this.#holders.values()) session.cachedNames.clear();
    this.#holders.clear();
  }

  /** Redis trouble, logged at most once a second: an outage must not flood the log. */
  #warn(message: string): void {
    const now = Date.now();
    if (now - this.#lastWarning < 1000) return;
    this.#lastWarning = now;
    this.#host.logger.warn({ node: this.#id }, `cluster: ${message}`);
  }
}
