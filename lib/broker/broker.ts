/**
 * The broker: its lifecycle (an HTTP server whose upgrades go to the connections, listen and close),
 * the BrokerContext its handlers see (names, requests, topics, mailboxes, policy), its statistics, and
 * the embedding process as a peer (protocol.md section 4.9).
 */
import { EventEmitter } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CLOSE_CODES } from '../protocol/index.js';
import { OPEN_IDENTITY, allowedByPatterns, patternMatcher, type Identity, type Permission } from './auth/policy.js';
import { Connections, info, type ConnectionInfo, type ConnectionOwner } from './connections.js';
import { BrokerPeer, LocalSocket } from './local.js';
import { MemoryMailboxes, type MailboxStore } from './mailbox.js';
import { releaseName, takeName } from './naming.js';
import { MemoryNameRegistry, type NameRegistry } from './names.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { pendingHooks } from './outcomes.js';
import { PendingTable } from './pending.js';
import type { Session } from './session.js';
import { TopicTable } from './topics.js';

export type { ConnectionInfo } from './connections.js';

export interface BrokerEvents {
  connection: [info: ConnectionInfo];
  disconnect: [info: ConnectionInfo, code: number];
  registered: [name: string, info: ConnectionInfo];
  unregistered: [name: string, info: ConnectionInfo];
  /** A fault inside the broker (a handler threw). Emitted only when someone listens; logged otherwise. */
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
  #ownPeer: Promise<BrokerPeer> | undefined;

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.limits = this.options.limits;
    this.pending = new PendingTable<Session>(pendingHooks(this.names, () => this.pending, this.limits.maxInFlightPerMember));
    this.mailboxes = new MemoryMailboxes<Session>(this.limits);
    this.#durable = this.options.durableNames === undefined ? undefined : patternMatcher(this.options.durableNames);
    this.#connections = new Connections(this);
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

  stats(): BrokerStats {
    return {
      connections: this.#connections.sessions.size,
      names: this.names.size,
      pending: this.pending.open,
      deliveries: this.pending.deliveries,
      subscriptions: this.topics.size,
      queued: this.mailboxes.queued,
      ...this.#connections.counters,
      lateAnswers: this.pending.lateAnswers,
    };
  }

  /**
   * A connection inside this process, registered as `name` ([SB-4.9-1]): it sends, requests, publishes
   * and answers like any client, through the same code paths.
   */
  async peer(name: string): Promise<BrokerPeer> {
    const session = this.#connections.addLocal(new LocalSocket((text) => peer.receive(JSON.parse(text))));
    const peer = new BrokerPeer(name, (frame) => {
      const data = Buffer.from(JSON.stringify(frame));
      queueMicrotask(() => this.#connections.frame(session, data, false));
    });
    void session.closed.then(() => peer.closeAll());
    try {
      await peer.register();
    } catch (error) {
      session.close(CLOSE_CODES.normal, 'not registered');
      throw error;
    }
    return peer;
  }

  /** Send as the broker's own peer (`peerName`, default `broker`); see BrokerPeer.send. */
  async send(...args: Parameters<BrokerPeer['send']>): ReturnType<BrokerPeer['send']> {
    return (await this.#peer()).send(...args);
  }

  /** Request as the broker's own peer; see BrokerPeer.request. */
  async request(...args: Parameters<BrokerPeer['request']>): ReturnType<BrokerPeer['request']> {
    return (await this.#peer()).request(...args);
  }

  /** Publish as the broker's own peer; see BrokerPeer.publish. */
  async publish(...args: Parameters<BrokerPeer['publish']>): ReturnType<BrokerPeer['publish']> {
    return (await this.#peer()).publish(...args);
  }

  // BrokerContext and ConnectionOwner: what handlers and connections see.

  get acceptingRequests(): boolean {
    return !this.#shuttingDown;
  }

  takeName(session: Session, name: string, shared: boolean): void {
    takeName(this, session, name, shared);
    this.emit('registered', name, info(session));
  }

  releaseName(session: Session, name: string, explicit: boolean): void {
    if (releaseName(this, session, name, explicit, this.#durable?.(name) === true)) {
      this.emit('unregistered', name, info(session));
    }
  }

  *namedSessions(): Iterable<Session> {
    for (const session of this.#connections.sessions) if (session.names.size > 0) yield session;
  }

  authorize(session: Session, permission: Permission, target: string): boolean {
    const policy = this.options.auth;
    if (policy === undefined) return true;
    return (policy.authorize ?? allowedByPatterns)(session.identity as Identity, permission, target);
  }

  authenticate(session: Session, token: string): Identity | undefined | Promise<Identity | undefined> {
    const policy = this.options.auth;
    if (policy === undefined) return OPEN_IDENTITY;
    return policy.authenticate?.(token, { remoteAddress: session.remoteAddress });
  }

  holdWhile(session: Session, work: Promise<void>): void {
    this.#connections.holdWhile(session, work);
  }

  connected(connection: ConnectionInfo): void {
    this.emit('connection', connection);
  }

  disconnected(connection: ConnectionInfo, code: number): void {
    this.emit('disconnect', connection, code);
  }

  /** A fault inside the broker: to `error` listeners, or logged once per distinct stack. */
  fault(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    const key = error.stack ?? error.message;
    if (this.#faultsLogged.has(key) || this.#faultsLogged.size >= MAX_DISTINCT_FAULTS_LOGGED) return;
    this.#faultsLogged.add(key);
    this.options.logger.error(`internal error: ${key}`);
  }

  #peer(): Promise<BrokerPeer> {
    this.#ownPeer ??= this.peer(this.options.peerName);
    this.#ownPeer.catch(() => (this.#ownPeer = undefined));
    return this.#ownPeer;
  }

  /** [SB-6.3-2] Messages past their age leave their mailbox, and their senders hear it. */
  #sweepMailboxes(): void {
    for (const { name, item } of this.mailboxes.sweep(Date.now())) {
      const details = item.ref === undefined ? { id: name } : { id: name, ref: item.ref };
      item.sender.error('expired', `a message queued for "${name}" expired before it came back`, details);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
