/**
 * The broker: its lifecycle (an HTTP server whose upgrades go to the connections, listen and close),
 * the BrokerContext its handlers see (names, requests, topics, mailboxes, policy hooks made safe), its
 * statistics, and the embedding process as a peer (protocol.md section 4.9, peer.ts). With the `cluster`
 * option it is one node of a cluster on Redis (cluster/node.ts, protocol.md section 16).
 */
import { EventEmitter } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Client } from '../client/client.js';
import type { GatherResult, RequestResult, SendReport } from '../client/requests.js';
import type { Destination, GatherOptions, PublishOptions, RequestOptions, SendOptions } from '../client/types.js';
import type { Monitor } from '../monitor/server.js';
import { CLOSE_CODES, DEFAULT_LIMITS, type AnswerFrame, type ErrorCode, type Limits, type ProgressFrame } from '../protocol/wire.js';
import { patternMatcher, type AuthPolicy, type Identity, type Permission } from './auth/policy.js';
import { ClusterNode, type ClusterHost } from './cluster/node.js';
import { Connections, info, type ConnectionInfo, type ConnectionOwner } from './connections.js';
import { dispatch } from './dispatch.js';
import { FaultLog } from './fault-log.js';
import { deliverRemoteBroadcast } from './handlers/broadcast.js';
import { authenticate, authorize, type Authenticated } from './hooks.js';
import { FileMailboxes } from './mailbox-file.js';
import { MemoryMailboxes, type Expired, type MailboxStore, type MailboxView, type QueuedItem } from './mailbox.js';
import type { BrokerMetrics } from './metrics.js';
import { MemoryNameDirectory, type NameDirectory } from './name-directory.js';
import { releaseName, takeMailbox, takeName } from './naming.js';
import { MemoryNameRegistry, type NameRegistry } from './name-registry.js';
import { resolveOptions, type BrokerOptions, type Logger, type ResolvedOptions } from './options.js';
import { pendingHooks } from './outcomes.js';
import { ServiceRegistry } from './services.js';
import { PendingTable, type Payload } from './pending.js';
import { Peers, type BrokerSide, type PeerOptions } from './peer.js';
import type { Session } from './session.js';
import { TopicTable } from './topics.js';

export type { ConnectionInfo } from './connections.js';

export interface BrokerEvents {
  connection: [info: ConnectionInfo];
  /** A connection ended; `reason` is the close reason the broker gave, or else the one its peer gave. */
  disconnect: [info: ConnectionInfo, code: number, reason: string];
  /** The broker refused a connection's `register` or `auth`: `code` says why, `subject` names the name. */
  refused: [info: ConnectionInfo, code: ErrorCode, subject: string];
  registered: [name: string, info: ConnectionInfo];
  unregistered: [name: string, info: ConnectionInfo];
  /**
   * A connection exceeded one of the broker's limits: a frame was answered `limit_exceeded` naming
   * `limit`, or, when `limit` is `maxBufferedBytes`, the connection is being closed as a slow consumer.
   */
  limitExceeded: [info: ConnectionInfo, limit: string];
  /**
   * A fault inside the broker, a policy hook or a listener (it threw, rejected, or answered nonsense).
   * Emitted only when someone listens; logged otherwise, once per distinct stack.
   */
  error: [error: Error];
}

export interface BrokerStats {
  connections: number;
  names: number;
  /** Requests waiting for their outcome. */
  pending: number;
  /** Delivery ids that may still be answered. */
  deliveries: number;
  subscriptions: number;
  /** Messages waiting in the mailboxes of offline durable names. */
  queued: number;
  /** Bytes of the messages waiting in mailboxes. */
  queuedBytes: number;
  framesIn: number;
  framesOut: number;
  badFrames: number;
  lateAnswers: number;
  internalErrors: number;
}

export interface ListenAddress {
  host: string;
  port: number;
  url: string;
  /** With the `socketPath` option: the socket listened on (then `port` is 0, `url` in ws's `ws+unix:` form). */
  socketPath?: string;
}

const CLOSE_GRACE_MS = 2000;
/** How long listen() waits for a cluster node's first lease before it listens anyway (it keeps trying). */
const CLUSTER_START_WAIT_MS = 2000;
/** Limits the transport and the timers take at start: reload() refuses to change them. */
const FIXED_LIMITS = ['maxMessageBytes', 'maxFragments', 'heartbeatMs'] as const;

export class Broker extends EventEmitter<BrokerEvents> implements ConnectionOwner, ClusterHost {
  readonly options: ResolvedOptions;
  /** The limits in force: `options.limits` until a reload() changes them in place. */
  readonly limits: Readonly<Limits>;
  /** Who holds each name: the one registry, or in cluster mode this node's local copy of it. */
  readonly names: NameRegistry<Session> = new MemoryNameRegistry<Session>();
  /** Who may hold each name: decided over `names`, or in cluster mode in Redis (name-directory.ts). */
  readonly directory: NameDirectory<Session>;
  readonly pending: PendingTable<Session>;
  readonly topics = new TopicTable<Session>();
  /** The mailboxes of offline durable names: in memory, in `dataDir` too, or in cluster mode in Redis. */
  readonly mailboxes: MailboxStore;
  /** The announced service contracts and their stats (protocol.md section 14). */
  readonly services = new ServiceRegistry();
  /** This node of a cluster on Redis (option `cluster`, protocol.md section 16), or undefined. */
  readonly cluster: ClusterNode | undefined;
  readonly #connections: Connections;
  readonly #durable: ((name: string) => boolean) | undefined;
  readonly #faults: FaultLog;
  #auth: AuthPolicy | undefined;
  #http: Server | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  #closing: Promise<void> | undefined;
  #monitor: Monitor | undefined;
  readonly #peers: Peers;

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.limits = { ...this.options.limits }; // the one object sessions, mailboxes and handlers read
    this.#auth = this.options.auth;
    this.#faults = new FaultLog(this.options.logger);
    this.#connections = new Connections(this);
    this.pending = new PendingTable<Session>(
      pendingHooks(this.names, () => this.pending, this.limits, this.#connections.metrics, this.services, this.options.cluster === undefined ? undefined : () => this.cluster),
    );
    const dataDir = this.options.dataDir;
    this.cluster = this.options.cluster === undefined ? undefined : new ClusterNode(this.options.cluster, this);
    this.mailboxes = this.cluster?.mailboxes ?? (dataDir === undefined ? new MemoryMailboxes(this.limits) : new FileMailboxes(this.limits, dataDir));
    this.directory = this.cluster?.directory ?? new MemoryNameDirectory(this.names);
    this.#durable = this.options.durableNames === undefined ? undefined : patternMatcher(this.options.durableNames);
    const acceptor = {
      accept: (socket: BrokerSide) => {
        if (this.#shuttingDown) return false;
        this.#connections.addLocal(socket);
        return true;
      },
      frame: (socket: BrokerSide, data: Buffer) => this.#connections.localFrame(socket, data),
    };
    this.#peers = new Peers(acceptor, () => this.#shuttingDown, this.limits.maxMessageBytes, this.options.peerName);
  }

  /** Start listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<ListenAddress> {
    if (this.#http !== undefined) throw new Error('broker is already listening');
    const answerPlainHttp: RequestListener = (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('switchboard: connect with a WebSocket\n');
    };
    const tls = this.options.tls;
    const http = tls === undefined ? createServer(answerPlainHttp) : createTlsServer(tls, answerPlainHttp);
    http.on('upgrade', (req, socket, head) => this.#connections.upgrade(req, socket, head, this.#shuttingDown));
    http.on('clientError', (_error, socket) => socket.destroy());
    this.#http = http;
    const { socketPath } = this.options;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      const onListening = () => {
        http.off('error', reject);
        resolve();
      };
      if (socketPath !== undefined) http.listen({ path: socketPath }, onListening);
      else http.listen(this.options.port, this.options.host, onListening);
    });
    const address = http.address() as AddressInfo;
    const host = this.options.host ?? 'localhost';
    const shown = host.includes(':') ? `[${host}]` : host;
    const scheme = tls === undefined ? 'ws' : 'wss';
    const listening: ListenAddress =
      socketPath === undefined
        ? { host, port: address.port, url: `${scheme}://${shown}:${address.port}${this.options.path}` }
        : { host, port: 0, url: `${scheme}+unix:${socketPath}:${this.options.path}`, socketPath };
    if (this.options.monitor !== undefined) {
      try {
        const { startMonitor } = await import('../monitor/server.js'); // prom-client loads only for a monitor
        this.#monitor = await startMonitor(this, this.options.monitor, listening.url);
      } catch (error) {
        await new Promise<void>((resolve) => http.close(() => resolve()));
        this.#http = undefined;
        throw error;
      }
      this.options.logger.info({ url: this.#monitor.url }, `monitor listening on ${this.#monitor.url}`);
    }
    if (this.cluster !== undefined && !(await this.cluster.start(CLUSTER_START_WAIT_MS))) {
      this.options.logger.warn({ url: this.options.cluster!.url }, 'cluster: Redis not reached yet; names are refused with `unavailable` until it is');
    }
    this.#heartbeat = setInterval(() => this.#connections.beat(), this.limits.heartbeatMs).unref();
    this.#sweeper = setInterval(() => this.#sweepMailboxes(), Math.min(1000, this.limits.maxMailboxAgeMs)).unref();
    this.options.logger.info({ url: listening.url }, `listening on ${listening.url}`);
    return listening;
  }

  /** Shut down ([SB-2-6]): finish or end pending requests, close every connection (1001), stop listening. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Swap the auth policy and the limits together, or change nothing and throw a TypeError naming every
   * problem. `limits` is a full set as the constructor takes it (unset ones get their defaults);
   * maxMessageBytes, maxFragments and heartbeatMs are fixed at start. Connections already open keep the
   * identity they have; the new limits apply at their next check, authTimeoutMs from the next connection.
   */
  reload(update: { auth?: AuthPolicy; limits?: Partial<Limits> }): void {
    const problems: string[] = [];
    let limits: Readonly<Limits> = this.limits;
    try {
      if ('limits' in update) limits = resolveOptions({ limits: update.limits }).limits;
    } catch (error) {
      problems.push((error as Error).message.replace(/^invalid broker options: /, ''));
    }
    const asked: Partial<Limits> = 'limits' in update ? { ...DEFAULT_LIMITS, ...update.limits } : this.limits;
    for (const key of FIXED_LIMITS) if (asked[key] !== this.limits[key]) problems.push(`limit ${key} is fixed at start (${this.limits[key]})`);
    if (problems.length > 0) throw new TypeError(`invalid reload: ${problems.join('; ')}`);
    if ('auth' in update) this.#auth = update.auth;
    Object.assign(this.limits, limits);
  }

  /** The auth policy in force: `options.auth` until a reload() changes it. */
  get auth(): AuthPolicy | undefined {
    return this.#auth;
  }

  /** The monitor listener's URL (`http://host:port`) once listen() has started it (option `monitor`). */
  get monitorAddress(): string | undefined {
    return this.#monitor?.url;
  }

  /** The broker's counters, for exporters (lib/monitor): read them, never write them. */
  get metrics(): BrokerMetrics {
    return this.#connections.metrics;
  }

  /** The open connections, for introspection: read them, never act on them but through the broker. */
  get sessions(): ReadonlySet<Session> {
    return this.#connections.sessions;
  }

  /** The mailboxes the monitor shows: in cluster mode, the cluster's as the last sweep found them. */
  get mailboxView(): MailboxView {
    return this.mailboxes;
  }

  stats(): BrokerStats {
    const metrics = this.#connections.metrics;
    return {
      connections: this.#connections.sessions.size,
      names: this.names.size,
      pending: this.pending.open,
      deliveries: this.pending.deliveries,
      subscriptions: this.topics.size,
      queued: this.mailboxView.queued,
      queuedBytes: this.mailboxView.bytes,
      framesIn: sum(metrics.framesIn),
      framesOut: sum(metrics.framesOut),
      badFrames: metrics.badFrames,
      internalErrors: metrics.internalErrors,
      lateAnswers: this.pending.lateAnswers,
    };
  }

  /**
   * A client inside this process, registered as `name` ([SB-4.9-1]): a lib/client `Client` (see
   * lib/client/README.md) connected through an in-process socket, so it sends, requests, publishes and
   * answers (`handle`) like any client, through the same code paths. Resolves once it holds its name;
   * rejects with the client's error (`name_taken`, ...) otherwise. It closes with the broker.
   */
  peer(name: string, options: PeerOptions = {}): Promise<Client> {
    return this.#peers.make(name, options);
  }

  /** Send as the broker's own peer (`peerName`, default `broker`); see lib/client's `Client.send`. */
  async send(dest: string | string[], message: unknown, options: SendOptions = {}): Promise<SendReport> {
    return (await this.#peers.own()).send(dest, message, options);
  }

  /** Request as the broker's own peer; see lib/client's `Client.request`. */
  async request<T = unknown>(dest: Destination, message: unknown, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return (await this.#peers.own()).request<T>(dest, message, options);
  }

  /** Gather as the broker's own peer; see lib/client's `Client.gather`. */
  async gather<T = unknown>(dest: Destination, message: unknown, options: GatherOptions = {}): Promise<GatherResult<T>[]> {
    return (await this.#peers.own()).gather<T>(dest, message, options);
  }

  /** Publish as the broker's own peer; see lib/client's `Client.publish`. */
  async publish(topic: string | string[], message: unknown, options: PublishOptions = {}): Promise<number> {
    return (await this.#peers.own()).publish(topic, message, options);
  }

  // BrokerContext and ConnectionOwner: what handlers and connections see.

  get acceptingRequests(): boolean {
    return !this.#shuttingDown;
  }

  takeName(session: Session, name: string, shared: boolean, ids: { ref?: string } = {}, queued?: readonly QueuedItem[]): void {
    takeName(this, session, name, shared, ids, queued);
    this.#notify('registered', name, info(session));
  }

  durableByPattern(name: string): boolean {
    return this.#durable?.(name) === true;
  }

  releaseName(session: Session, name: string, explicit: boolean, ids: { ref?: string } = {}): void {
    if (releaseName(this, session, name, explicit, this.durableByPattern(name), ids)) {
      this.#notify('unregistered', name, info(session));
    }
  }

  *namedSessions(): Iterable<Session> {
    for (const session of this.#connections.sessions) if (session.names.size > 0) yield session;
  }

  authorize(session: Session, permission: Permission, target: string): boolean {
    const { allowed, fault } = authorize(this.#auth, session.identity as Identity, permission, target);
    if (fault !== undefined) this.fault(fault);
    return allowed;
  }

  authenticate(session: Session, token: string): Authenticated | Promise<Authenticated> {
    return authenticate(this.#auth, token, session.remoteAddress, this.limits.authTimeoutMs);
  }

  sessionById(id: string): Session | undefined {
    return this.#connections.byId(id);
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** ClusterHost: what is written until this synchronous run ends leaves in one write per socket. */
  corkWrites(): void {
    this.#connections.corkWrites();
  }

  /** ClusterHost: a broadcast from another node, to this node's named connections ([SB-16-5]). */
  remoteBroadcast(payload: Payload): number {
    return deliverRemoteBroadcast(this, payload);
  }

  get namedCount(): number {
    let named = 0;
    for (const session of this.#connections.sessions) if (session.names.size > 0) named++;
    return named;
  }

  /** ClusterHost: an answer or a part from a connection on another node, for a request kept here. */
  remoteFrame(session: Session, frame: AnswerFrame | ProgressFrame, raw: string | undefined): void {
    try {
      void dispatch(this, session, frame, raw);
    } catch (error) {
      this.fault(error);
    }
  }

  connected(connection: ConnectionInfo): void {
    this.#notify('connection', connection);
  }

  refused(session: Session, code: ErrorCode, subject: string): void {
    if (code === 'unauthorized') this.#connections.metrics.authFailures++;
    this.#notify('refused', info(session), code, subject);
  }

  disconnected(connection: ConnectionInfo, code: number, reason: string): void {
    this.#notify('disconnect', connection, code, reason);
  }

  limitExceeded(connection: ConnectionInfo, limit: string): void {
    this.#notify('limitExceeded', connection, limit);
  }

  /** A fault inside the broker: to `error` listeners, or logged once per distinct stack. Never throws. */
  fault(error: unknown): void {
    const fault = error instanceof Error ? error : new Error(String(error));
    try {
      if (this.listenerCount('error') > 0) {
        this.emit('error', fault);
        return;
      }
    } catch {
      // an `error` listener that throws: fall back to the log
    }
    this.#faults.log(fault);
  }

  /** Tell the listeners of `event`; a listener that throws is a fault, never the broker's end. */
  #notify<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: BrokerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.fault(error);
    }
  }

  /**
   * [SB-6.3-2] Messages past their age leave their mailbox, and their senders hear it when they asked for
   * a report (`ref`): a send without one has nothing to identify it by.
   */
  #sweepMailboxes(): void {
    const report = (expired: readonly Expired[]) => {
      for (const { name, item } of expired) if (item.ref !== undefined) this.expired(item.senderId, name, item.ref);
    };
    const swept = this.mailboxes.sweep(Date.now());
    if (swept instanceof Promise) swept.then(report, () => {}); // a cluster node without Redis: another node sweeps
    else report(swept);
  }

  /** Tell the sender of a message queued for `name` with `ref` that it expired, if it is still connected ([SB-6.3-2]). */
  expired(senderId: string, name: string, ref: string): void {
    const message = `a message queued for "${name}" expired before it came back`;
    this.#connections.byId(senderId)?.error('expired', message, { id: name, ref });
  }

  takeMailbox(session: Session, name: string): Promise<void> {
    return takeMailbox(this, session, name);
  }

  /**
   * [SB-2-6] Refuse new connections (503) and new requests (`shutting_down`), give pending requests up to
   * `shutdownGraceMs` to be answered, end the rest with `shutting_down`, then close every connection with
   * 1001 (cutting those that do not close within a grace) and stop listening.
   */
  async #close(): Promise<void> {
    this.#shuttingDown = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#sweeper);
    const deadline = Date.now() + this.options.shutdownGraceMs;
    while (this.pending.open > 0 && Date.now() < deadline) await sleep(Math.min(20, deadline - Date.now()));
    this.pending.clear();
    await this.#peers.close();
    const sessions = [...this.#connections.sessions];
    for (const session of sessions) session.close(CLOSE_CODES.goingAway, 'broker shutting down');
    const grace = setTimeout(() => sessions.forEach((session) => session.terminate()), CLOSE_GRACE_MS);
    await Promise.all(sessions.map((session) => session.closed));
    clearTimeout(grace);
    const http = this.#http;
    if (http !== undefined) {
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await stopped;
    }
    await this.cluster?.close();
    // The journal closes once every connection's cleanup has run: a durable name let go of by the
    // shutdown keeps its mailbox, on disk too (lib/broker/mailbox-file.ts).
    const cleanedBy = Date.now() + CLOSE_GRACE_MS;
    while (this.#connections.sessions.size > 0 && Date.now() < cleanedBy) await sleep(10);
    this.mailboxes.close();
    await this.#monitor?.close(); // last: its /readyz answers 503 for the whole shutdown
    this.options.logger.info('closed');
  }
}

function sum(counts: Record<string, number>): number {
  let total = 0;
  for (const key in counts) total += counts[key];
  return total;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
