/**
 * The broker: its lifecycle (an HTTP server whose upgrades go to the connections, listen and close),
 * the BrokerContext its handlers see (names, requests, topics, mailboxes, policy hooks made safe), its
 * statistics, and the embedding process as a peer (protocol.md section 4.9, peer.ts).
 */
import { EventEmitter } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Client } from '../client/client.js';
import type { ClientOptions } from '../client/options.js';
import { SwitchboardError } from '../client/errors.js';
import type { GatherResult, RequestResult, SendReport } from '../client/requests.js';
import type { Destination, GatherOptions, PublishOptions, RequestOptions, SendOptions } from '../client/types.js';
import type { WebSocketConstructor } from '../client/connection.js';
import { CLOSE_CODES, type ErrorCode } from '../protocol/index.js';
import { patternMatcher, type Identity, type Permission } from './auth/policy.js';
import { Connections, info, type ConnectionInfo, type ConnectionOwner } from './connections.js';
import { authenticate, authorize, type Authenticated } from './hooks.js';
import { MemoryMailboxes, type MailboxStore } from './mailbox.js';
import type { BrokerMetrics } from './metrics.js';
import { releaseName, takeName } from './naming.js';
import { MemoryNameRegistry, type NameRegistry } from './names.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { pendingHooks } from './outcomes.js';
import { PendingTable } from './pending.js';
import { LOCAL_URL, localWebSocket } from './peer.js';
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
}

const CLOSE_GRACE_MS = 2000;
const MAX_DISTINCT_FAULTS_LOGGED = 100;

export class Broker extends EventEmitter<BrokerEvents> implements ConnectionOwner {
  readonly options: ResolvedOptions;
  readonly limits: ResolvedOptions['limits'];
  readonly names: NameRegistry<Session> = new MemoryNameRegistry<Session>();
  readonly pending: PendingTable<Session>;
  readonly topics = new TopicTable<Session>();
  readonly mailboxes: MailboxStore<Session>;
  readonly #connections: Connections;
  readonly #durable: ((name: string) => boolean) | undefined;
  readonly #faultsLogged = new Set<string>();
  #http: Server | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  #closing: Promise<void> | undefined;
  #ownPeer: Promise<Client> | undefined;
  /** The clients of `peer()`, closed with the broker. */
  readonly #peers = new Set<Client>();
  readonly #LocalWebSocket: WebSocketConstructor;

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.limits = this.options.limits;
    this.#connections = new Connections(this);
    this.pending = new PendingTable<Session>(
      pendingHooks(this.names, () => this.pending, this.limits.maxInFlightPerMember, this.#connections.metrics),
    );
    this.mailboxes = new MemoryMailboxes<Session>(this.limits);
    this.#durable = this.options.durableNames === undefined ? undefined : patternMatcher(this.options.durableNames);
    this.#LocalWebSocket = localWebSocket({
      accept: (socket) => {
        if (this.#shuttingDown) return false;
        this.#connections.addLocal(socket);
        return true;
      },
      frame: (socket, data) => this.#connections.localFrame(socket, data),
    });
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
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.options.port, this.options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const address = http.address() as AddressInfo;
    const host = this.options.host ?? 'localhost';
    const shown = host.includes(':') ? `[${host}]` : host;
    const scheme = tls === undefined ? 'ws' : 'wss';
    const listening = { host, port: address.port, url: `${scheme}://${shown}:${address.port}${this.options.path}` };
    this.#heartbeat = setInterval(() => this.#connections.beat(), this.limits.heartbeatMs).unref();
    this.#sweeper = setInterval(() => this.#sweepMailboxes(), Math.min(1000, this.limits.maxMailboxAgeMs)).unref();
    this.options.logger.info(`listening on ${listening.url}`);
    return listening;
  }

  /** Shut down ([SB-2-6]): finish or end pending requests, close every connection (1001), stop listening. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** The broker's counters, for exporters (lib/monitor): read them, never write them. */
  get metrics(): BrokerMetrics {
    return this.#connections.metrics;
  }

  /** The open connections, for introspection: read them, never act on them but through the broker. */
  get sessions(): ReadonlySet<Session> {
    return this.#connections.sessions;
  }

  stats(): BrokerStats {
    const metrics = this.#connections.metrics;
    return {
      connections: this.#connections.sessions.size,
      names: this.names.size,
      pending: this.pending.open,
      deliveries: this.pending.deliveries,
      subscriptions: this.topics.size,
      queued: this.mailboxes.queued,
      queuedBytes: this.mailboxes.bytes,
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
  async peer(name: string, options: Omit<ClientOptions, 'WebSocket' | 'name' | 'names'> = {}): Promise<Client> {
    if (this.#shuttingDown) throw new SwitchboardError('closed', 'the broker is closing');
    const client = new Client(LOCAL_URL, {
      maxMessageBytes: this.limits.maxMessageBytes,
      ...options,
      name,
      WebSocket: this.#LocalWebSocket,
    });
    this.#peers.add(client);
    client.on('closed', () => this.#peers.delete(client));
    try {
      await client.ready;
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** Send as the broker's own peer (`peerName`, default `broker`); see lib/client's `Client.send`. */
  async send(dest: string | string[], message: unknown, options: SendOptions = {}): Promise<SendReport> {
    return (await this.#peer()).send(dest, message, options);
  }

  /** Request as the broker's own peer; see lib/client's `Client.request`. */
  async request<T = unknown>(dest: Destination, message: unknown, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return (await this.#peer()).request<T>(dest, message, options);
  }

  /** Gather as the broker's own peer; see lib/client's `Client.gather`. */
  async gather<T = unknown>(dest: Destination, message: unknown, options: GatherOptions = {}): Promise<GatherResult<T>[]> {
    return (await this.#peer()).gather<T>(dest, message, options);
  }

  /** Publish as the broker's own peer; see lib/client's `Client.publish`. */
  async publish(topic: string | string[], message: unknown, options: PublishOptions = {}): Promise<number> {
    return (await this.#peer()).publish(topic, message, options);
  }

  // BrokerContext and ConnectionOwner: what handlers and connections see.

  get acceptingRequests(): boolean {
    return !this.#shuttingDown;
  }

  takeName(session: Session, name: string, shared: boolean, ids: { ref?: string } = {}): void {
    takeName(this, session, name, shared, ids);
    this.#notify('registered', name, info(session));
  }

  releaseName(session: Session, name: string, explicit: boolean, ids: { ref?: string } = {}): void {
    if (releaseName(this, session, name, explicit, this.#durable?.(name) === true, ids)) {
      this.#notify('unregistered', name, info(session));
    }
  }

  *namedSessions(): Iterable<Session> {
    for (const session of this.#connections.sessions) if (session.names.size > 0) yield session;
  }

  authorize(session: Session, permission: Permission, target: string): boolean {
    const { allowed, fault } = authorize(this.options.auth, session.identity as Identity, permission, target);
    if (fault !== undefined) this.fault(fault);
    return allowed;
  }

  authenticate(session: Session, token: string): Authenticated | Promise<Authenticated> {
    return authenticate(this.options.auth, token, session.remoteAddress, this.limits.authTimeoutMs);
  }

  sessionById(id: string): Session | undefined {
    return this.#connections.byId(id);
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
    const cause = fault.cause instanceof Error ? `\ncaused by: ${fault.cause.stack ?? fault.cause.message}` : '';
    const key = (fault.stack ?? fault.message) + cause;
    if (this.#faultsLogged.has(key) || this.#faultsLogged.size >= MAX_DISTINCT_FAULTS_LOGGED) return;
    this.#faultsLogged.add(key);
    try {
      this.options.logger.error(`internal error: ${key}`);
    } catch {
      // a logger that throws has nowhere left to report to
    }
  }

  /** Tell the listeners of `event`; a listener that throws is a fault, never the broker's end. */
  #notify<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: BrokerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.fault(error);
    }
  }

  /** The broker's own peer, made on first use, and again if it has closed. */
  #peer(): Promise<Client> {
    const own = this.#ownPeer;
    if (own === undefined) {
      const made = this.peer(this.options.peerName);
      this.#ownPeer = made;
      made.then(
        (client) => client.on('closed', () => this.#ownPeer === made && (this.#ownPeer = undefined)),
        () => this.#ownPeer === made && (this.#ownPeer = undefined),
      );
      return made;
    }
    return own;
  }

  /**
   * [SB-6.3-2] Messages past their age leave their mailbox, and their senders hear it when they asked for
   * a report (`ref`): a send without one has nothing to identify it by.
   */
  #sweepMailboxes(): void {
    for (const { name, item } of this.mailboxes.sweep(Date.now())) {
      if (item.ref === undefined) continue;
      const message = `a message queued for "${name}" expired before it came back`;
      this.#connections.byId(item.senderId)?.error('expired', message, { id: name, ref: item.ref });
    }
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
    await Promise.all([...this.#peers].map((client) => client.close()));
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
