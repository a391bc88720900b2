/**
 * The broker's lifecycle: an HTTP server whose upgrades pass a short checklist before ws takes them
 * (protocol.md section 2), one Session per connection, and the wiring of frames to the dispatch switch.
 * Everything a handler needs is in the BrokerContext this class implements.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type RequestListener } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { nanoid } from 'nanoid';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, SUBPROTOCOL, decode, type ClientFrame, type Dialect } from '../protocol/index.js';
import type { BrokerContext } from './context.js';
import { dispatch } from './dispatch.js';
import { MemoryNameRegistry, type NameRegistry } from './names.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { MemoryMailboxes, type MailboxStore } from './mailbox.js';
import { releaseName, takeName } from './naming.js';
import { BrokerPeer, LocalSocket } from './local.js';
import { pendingHooks } from './outcomes.js';
import { PendingTable } from './pending.js';
import { TopicTable } from './topics.js';
import { Session } from './session.js';
import { OPEN_IDENTITY, allowedByPatterns, patternMatcher, type Identity, type Permission } from './auth/policy.js';
import { checkUpgrade } from './upgrade.js';

export interface ConnectionInfo {
  readonly id: string;
  readonly dialect: Dialect;
  readonly remoteAddress: string;
}

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
/** Frames a connection may send while its asynchronous authentication runs. */
const MAX_HELD_FRAMES = 64;
const MAX_DISTINCT_FAULTS_LOGGED = 100;

export class Broker extends EventEmitter<BrokerEvents> implements BrokerContext {
  readonly options: ResolvedOptions;
  readonly limits: ResolvedOptions['limits'];
  readonly names: NameRegistry<Session> = new MemoryNameRegistry<Session>();
  readonly pending: PendingTable<Session>;
  readonly topics = new TopicTable<Session>();
  readonly mailboxes: MailboxStore<Session>;
  readonly #durable: ((name: string) => boolean) | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #defaultPeer: Promise<BrokerPeer> | undefined;
  readonly #sessions = new Set<Session>();
  readonly #perAddress = new Map<string, number>();
  #heartbeat: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  readonly #counters = { framesIn: 0, framesOut: 0, badFrames: 0, internalErrors: 0 };
  readonly #faultsLogged = new Set<string>();
  readonly #wss: WebSocketServer;
  #http: Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.limits = this.options.limits;
    this.pending = new PendingTable<Session>(pendingHooks(this.names, () => this.pending, this.limits.maxInFlightPerMember));
    this.mailboxes = new MemoryMailboxes<Session>(this.limits);
    this.#durable = this.options.durableNames === undefined ? undefined : patternMatcher(this.options.durableNames);
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.limits.maxMessageBytes * 2, // [SB-9-1] the transport's hard cap
      maxFragments: this.limits.maxFragments,
      // One message per connection per turn of the event loop: a flooding connection gets its turn like
      // every other and cannot hold the loop for a whole TCP read of frames.
      allowSynchronousEvents: false,
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false), // [SB-2-2]
    });
    this.#wss.on('error', (error) => this.#fault(error));
  }

  /** Start listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<ListenAddress> {
    if (this.#http !== undefined) throw new Error('broker is already listening');
    const answerPlainHttp: RequestListener = (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('switchboard: connect with a WebSocket\n');
    };
    const tls = this.options.tls;
    const http = tls === undefined ? createServer(answerPlainHttp) : createTlsServer(tls, answerPlainHttp);
    http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
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
    this.#heartbeat = setInterval(() => this.#beat(), this.limits.heartbeatMs).unref();
    const sweepMs = Math.min(1000, this.limits.maxMailboxAgeMs);
    this.#sweeper = setInterval(() => this.#sweepMailboxes(), sweepMs).unref();
    this.options.logger.info(`listening on ${listening.url}`);
    return listening;
  }

  /** Close every connection (1001), free all state, stop listening. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  stats(): BrokerStats {
    return {
      connections: this.#sessions.size,
      names: this.names.size,
      pending: this.pending.open,
      deliveries: this.pending.deliveries,
      subscriptions: this.topics.size,
      queued: this.mailboxes.queued,
      ...this.#counters,
      lateAnswers: this.pending.lateAnswers,
    };
  }

  /**
   * A connection inside this process, registered as `name` ([SB-4.9-1]): it sends, requests, publishes
   * and answers like any client, through the same code paths.
   */
  async peer(name: string): Promise<BrokerPeer> {
    const session: Session = new Session(
      nanoid(),
      new LocalSocket((text) => peer.receive(JSON.parse(text))),
      'extended',
      'local',
      this.limits,
      this.#counters,
    );
    const peer = new BrokerPeer(name, (frame) => {
      const data = Buffer.from(JSON.stringify(frame));
      queueMicrotask(() => this.#onFrame(session, data, false));
    });
    session.identity = OPEN_IDENTITY;
    this.#sessions.add(session);
    void session.closed.then(() => {
      peer.closeAll();
      this.#onClose(session, CLOSE_CODES.normal);
    });
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
    return (await this.#ownPeer()).send(...args);
  }

  /** Request as the broker's own peer; see BrokerPeer.request. */
  async request(...args: Parameters<BrokerPeer['request']>): ReturnType<BrokerPeer['request']> {
    return (await this.#ownPeer()).request(...args);
  }

  /** Publish as the broker's own peer; see BrokerPeer.publish. */
  async publish(...args: Parameters<BrokerPeer['publish']>): ReturnType<BrokerPeer['publish']> {
    return (await this.#ownPeer()).publish(...args);
  }

  #ownPeer(): Promise<BrokerPeer> {
    this.#defaultPeer ??= this.peer(this.options.peerName);
    this.#defaultPeer.catch(() => (this.#defaultPeer = undefined));
    return this.#defaultPeer;
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
    for (const session of this.#sessions) if (session.names.size > 0) yield session;
  }

  /** Sessions that may still send a request: not while shutting down ([SB-2-6]). */
  get acceptingRequests(): boolean {
    return !this.#shuttingDown;
  }

  authorize(session: Session, permission: Permission, target: string): boolean {
    const policy = this.options.auth;
    if (policy === undefined) return true;
    const identity = session.identity as Identity;
    return (policy.authorize ?? allowedByPatterns)(identity, permission, target);
  }

  authenticate(session: Session, token: string): Identity | undefined | Promise<Identity | undefined> {
    const policy = this.options.auth;
    if (policy === undefined) return OPEN_IDENTITY;
    return policy.authenticate?.(token, { remoteAddress: session.remoteAddress });
  }

  holdWhile(session: Session, work: Promise<void>): void {
    session.held = [];
    void work.then(() => {
      const held = session.held ?? [];
      session.held = undefined;
      for (const frame of held) this.#handle(session, frame);
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refusal = checkUpgrade(req, {
      closing: this.#shuttingDown,
      path: this.options.path,
      allowedOrigins: this.options.allowedOrigins,
      limits: this.limits,
      connections: this.#sessions.size,
      connectionsFrom: (address) => this.#perAddress.get(address) ?? 0,
    });
    if (refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  /** [SB-6.3-2] Messages past their age leave their mailbox, and their senders hear it. */
  #sweepMailboxes(): void {
    for (const { name, item } of this.mailboxes.sweep(Date.now())) {
      const details = item.ref === undefined ? { id: name } : { id: name, ref: item.ref };
      item.sender.error('expired', `a message queued for "${name}" expired before it came back`, details);
    }
  }

  /** [SB-2-7] A session that did not answer the last ping (nor sent anything since) is dropped. */
  #beat(): void {
    for (const session of this.#sessions) {
      if (session.alive) session.ping();
      else session.terminate();
    }
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const dialect: Dialect = ws.protocol === SUBPROTOCOL ? 'extended' : 'legacy';
    const session = new Session(nanoid(), ws, dialect, req.socket.remoteAddress ?? '', this.limits, this.#counters);
    this.#sessions.add(session);
    this.#perAddress.set(session.remoteAddress, (this.#perAddress.get(session.remoteAddress) ?? 0) + 1);
    ws.on('error', () => {});
    ws.on('pong', () => {
      session.alive = true;
    }); // ws closes the socket itself (1002, 1007, 1009); the close handler cleans up
    ws.on('message', (data, isBinary) => this.#onFrame(session, data as Buffer, isBinary));
    ws.once('close', (code) => this.#onClose(session, code));
    this.emit('connection', info(session));
    this.#admit(session);
  }

  /**
   * [SB-4.5-1] Without a policy everyone may do everything; with one, a connection is the anonymous
   * identity if there is one, and must otherwise authenticate within `authTimeoutMs` (legacy clients,
   * which cannot, are closed at once).
   */
  #admit(session: Session): void {
    const policy = this.options.auth;
    session.identity = policy === undefined ? OPEN_IDENTITY : policy.anonymous;
    if (session.identity !== undefined) return;
    if (session.dialect === 'legacy') {
      session.close(CLOSE_CODES.policyViolation, 'authentication required');
      return;
    }
    const timer = setTimeout(() => {
      if (!session.authenticated) session.close(CLOSE_CODES.policyViolation, 'authentication timeout');
    }, this.limits.authTimeoutMs);
    void session.closed.then(() => clearTimeout(timer));
  }

  #onFrame(session: Session, data: Buffer, isBinary: boolean): void {
    if (!session.isOpen) return;
    session.alive = true;
    this.#counters.framesIn++;
    if (isBinary) {
      session.close(CLOSE_CODES.unsupportedData, 'binary frames are not supported'); // [SB-2-4]
      return;
    }
    const decoded = decode(data.toString(), data.length, this.limits.maxMessageBytes);
    if (!decoded.ok) {
      this.#counters.badFrames++;
      session.refuse(decoded.failure);
      return;
    }
    if (session.held !== undefined) {
      if (session.held.length >= MAX_HELD_FRAMES) session.close(CLOSE_CODES.policyViolation, 'too many frames before authentication');
      else session.held.push(decoded.frame);
      return;
    }
    this.#handle(session, decoded.frame);
  }

  #handle(session: Session, frame: ClientFrame): void {
    if (!session.isOpen) return;
    if (session.identity === undefined && frame.action !== 'auth') {
      session.error('unauthorized', 'authenticate first'); // [SB-4.5-2]
      session.close(CLOSE_CODES.policyViolation, 'authentication required');
      return;
    }
    try {
      dispatch(this, session, frame);
    } catch (error) {
      this.#internalError(session, frame, error);
    }
  }

  #onClose(session: Session, code: number): void {
    if (!this.#sessions.delete(session)) return;
    const fromAddress = (this.#perAddress.get(session.remoteAddress) ?? 1) - 1;
    if (fromAddress === 0) this.#perAddress.delete(session.remoteAddress);
    else this.#perAddress.set(session.remoteAddress, fromAddress);
    for (const name of [...session.names]) this.releaseName(session, name, false); // [SB-4.2-4]
    this.pending.peerGone(session); // [SB-6-9], [SB-6-10]
    this.topics.peerGone(session);
    this.emit('disconnect', info(session), code);
  }

  /** [SB-7-4] The client hears `internal_error`, the connection stays, the fault is logged once. */
  #internalError(session: Session, frame: ClientFrame, error: unknown): void {
    this.#counters.internalErrors++;
    const ids: { ack?: string; ref?: string } = {};
    if ('ack' in frame && frame.ack !== undefined) ids.ack = frame.ack;
    if ('ref' in frame && frame.ref !== undefined) ids.ref = frame.ref;
    session.error('internal_error', 'the broker failed while handling this frame', ids);
    this.#fault(error instanceof Error ? error : new Error(String(error)));
  }

  #fault(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    const key = error.stack ?? error.message;
    if (this.#faultsLogged.has(key) || this.#faultsLogged.size >= MAX_DISTINCT_FAULTS_LOGGED) return;
    this.#faultsLogged.add(key);
    this.options.logger.error(`internal error: ${key}`);
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
    const closed = [...this.#sessions].map((session) => session.closed);
    for (const session of this.#sessions) session.close(CLOSE_CODES.goingAway, 'broker shutting down');
    const grace = setTimeout(() => {
      for (const session of this.#sessions) session.terminate();
    }, CLOSE_GRACE_MS);
    await Promise.all(closed);
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

function info(session: Session): ConnectionInfo {
  return { id: session.id, dialect: session.dialect, remoteAddress: session.remoteAddress };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
