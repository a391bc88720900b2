/**
 * The broker's connections (protocol.md sections 2, 4.0 and 4.5): the upgrade checklist, one Session per
 * WebSocket, admission and authentication deadline, the decode of every frame on its way from the
 * executor (executor.ts, which owns the order) to the dispatch switch, the heartbeat, and the cleanup
 * when a connection ends.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { nanoid } from 'nanoid';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, SUBPROTOCOL, decodeFrame, type ClientFrame, type Dialect } from '../protocol/wire.js';
import { OPEN_IDENTITY, type AuthPolicy } from './auth/policy.js';
import type { BrokerContext } from './context.js';
import { dispatch } from './dispatch.js';
import type { ResolvedOptions } from './options.js';
import { Executor } from './executor.js';
import { BrokerMetrics } from './metrics.js';
import type { BrokerSide } from './peer.js';
import { LOCAL_ADDRESS, Session, type Corkable } from './session.js';
import { checkUpgrade } from './upgrade.js';

/** How long a connection the broker closes may take to answer the close before it is cut. */
const CLOSE_TIMEOUT_MS = 1000;

/**
 * A connection's id: 21 URL-safe characters, never starting with `-`, so that an operator can pass it to
 * a command line (`switchboard server kick <id>`) without it being read as an option.
 */
function connectionId(): string {
  const id = nanoid();
  return id.startsWith('-') ? `_${id.slice(1)}` : id;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly dialect: Dialect;
  readonly remoteAddress: string;
  /** The id of the connection's identity, once it has one (authenticated, or the policy's anonymous). */
  readonly identity?: string;
}

/** What the connections need of the broker that owns them. */
export interface ConnectionOwner extends BrokerContext {
  readonly options: ResolvedOptions;
  /** The auth policy in force (a reload may change it; `options.auth` is the one at start). */
  readonly auth: AuthPolicy | undefined;
  connected(info: ConnectionInfo): void;
  disconnected(info: ConnectionInfo, code: number, reason: string): void;
  limitExceeded(info: ConnectionInfo, limit: string): void;
  fault(error: unknown): void;
}

export function info(session: Session): ConnectionInfo {
  return { id: session.id, dialect: session.dialect, remoteAddress: session.remoteAddress, identity: session.identity?.id };
}

export class Connections {
  readonly sessions = new Set<Session>();
  readonly metrics = new BrokerMetrics();
  readonly #byId = new Map<string, Session>();
  readonly #perAddress = new Map<string, number>();
  readonly #owner: ConnectionOwner;
  readonly #wss: WebSocketServer;
  readonly #executor: Executor;
  readonly #local = new WeakMap<BrokerSide, Session>();

  constructor(owner: ConnectionOwner) {
    this.#owner = owner;
    this.#executor = new Executor({
      handle: (session, data) => this.#decode(session, data),
      closed: (session, code) => this.#onClosed(session, code),
      fault: (error) => owner.fault(error),
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: owner.limits.maxMessageBytes * 2, // [SB-9-1] the transport's hard cap
      maxFragments: owner.limits.maxFragments,
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false), // [SB-2-2]
      // A peer that ignores the broker's close (1003, 1008, 4008, ...) is cut after a second, not ws's 30.
      ...({ closeTimeout: CLOSE_TIMEOUT_MS } as object),
    });
    this.#wss.on('error', (error) => owner.fault(error));
  }

  /** The open connection with this id, if any (a queued message's sender, for its report). */
  byId(id: string): Session | undefined {
    return this.#byId.get(id);
  }

  /** Cork the sockets written to until this synchronous run ends (executor.ts Batch.untilMicrotask). */
  corkWrites(): void {
    this.#executor.batch.untilMicrotask();
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, closing: boolean): void {
    socket.on('error', () => socket.destroy());
    const { options } = this.#owner;
    const refusal = checkUpgrade(req, {
      closing,
      path: options.path,
      allowedOrigins: options.allowedOrigins,
      limits: this.#owner.limits,
      connections: this.sessions.size,
      connectionsFrom: (address) => this.#perAddress.get(address) ?? 0,
    });
    if (refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  /**
   * A connection inside this process (the broker's own peer, peer.ts): trusted, extended, never counted
   * per address. Its client's frames arrive through `localFrame`.
   */
  addLocal(socket: BrokerSide): void {
    const session = new Session(connectionId(), socket, 'extended', LOCAL_ADDRESS, this.#owner.limits, this.metrics, this.#executor.batch);
    session.identity = OPEN_IDENTITY;
    this.#local.set(socket, session);
    this.#add(session);
    socket.once('close', (code) => this.close(session, code));
    this.#owner.connected(info(session));
  }

  localFrame(socket: BrokerSide, data: Buffer): void {
    const session = this.#local.get(socket);
    if (session !== undefined) this.frame(session, data, false);
  }

  /**
   * A frame from a connection, to its executor ([SB-7-5]). `more`: the same read from the socket holds
   * more of what the connection sent, so this frame is part of a burst.
   */
  frame(session: Session, data: Buffer, isBinary: boolean, more = false): void {
    session.alive = true;
    this.metrics.bytesIn += data.length;
    session.traffic.framesIn++;
    session.traffic.bytesIn += data.length;
    if (isBinary) {
      session.close(CLOSE_CODES.unsupportedData, 'binary frames are not supported'); // [SB-2-4]
      return;
    }
    this.#executor.frame(session, data, more);
  }

  /**
   * The connection's socket closed (with the peer's `reason`, if it gave one); the cleanup follows the
   * frames that arrived before ([SB-2-8]).
   */
  close(session: Session, code: number, reason = ''): void {
    if (session.closeReason === '') session.closeReason = reason;
    this.#executor.close(session, code);
  }

  /** [SB-2-7] A session that did not answer the last ping (nor sent anything since) is dropped. */
  beat(): void {
    for (const session of this.sessions) {
      if (session.trusted) continue;
      if (session.alive) session.ping();
      else session.terminate('no answer to ping');
    }
  }

  #add(session: Session): void {
    this.sessions.add(session);
    this.#byId.set(session.id, session);
    session.onLimitExceeded = (limit) => this.#owner.limitExceeded(info(session), limit);
    if (!session.trusted) this.#perAddress.set(session.remoteAddress, (this.#perAddress.get(session.remoteAddress) ?? 0) + 1);
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const dialect: Dialect = ws.protocol === SUBPROTOCOL ? 'extended' : 'legacy';
    const address = req.socket.remoteAddress ?? '';
    const stream = (ws as unknown as { _socket: Corkable })._socket; // ws exposes no cork of its own
    const session = new Session(connectionId(), ws, dialect, address, this.#owner.limits, this.metrics, this.#executor.batch, stream);
    this.#add(session);
    ws.on('error', () => {}); // ws closes the socket itself (1002, 1007, 1008, 1009); the close handler cleans up
    ws.on('pong', () => {
      session.alive = true;
    });
    // ws says nothing of what is left of the chunk a message came in; its receiver counts it (a private field).
    const receiver = (ws as unknown as { _receiver?: { _bufferedBytes?: number } })._receiver;
    ws.on('message', (data, isBinary) => this.frame(session, data as Buffer, isBinary, (receiver?._bufferedBytes ?? 0) > 0));
    ws.once('close', (code, reason) => this.close(session, code, reason.toString()));
    this.#owner.connected(info(session));
    this.#requireIdentity(session);
  }

  /**
   * [SB-4.5-1] Without a policy everyone may do everything; with one, a connection is the anonymous
   * identity if there is one, and must otherwise authenticate within `authTimeoutMs` (legacy clients,
   * which cannot, are closed at once).
   */
  #requireIdentity(session: Session): void {
    const policy = this.#owner.auth;
    session.identity = policy === undefined ? OPEN_IDENTITY : policy.anonymous;
    if (session.identity !== undefined) return;
    if (session.dialect === 'legacy') {
      session.close(CLOSE_CODES.policyViolation, 'authentication required');
      return;
    }
    const timer = setTimeout(() => {
      if (!session.authenticated) session.close(CLOSE_CODES.policyViolation, 'authentication timeout');
    }, this.#owner.limits.authTimeoutMs);
    void session.closed.then(() => clearTimeout(timer));
  }

  /** The only decode ([SB-4.0-1]), then the dispatch. */
  #decode(session: Session, data: Buffer): void {
    const { limits } = this.#owner;
    const decoded = decodeFrame(data, limits.maxMessageBytes, limits.maxDepth);
    if (!decoded.ok) {
      this.metrics.badFrames++;
      session.refuse(decoded.failure);
      return;
    }
    const { frame } = decoded;
    this.metrics.framesIn[frame.action]++;
    if (session.identity === undefined && frame.action !== 'auth' && frame.action !== 'hello') {
      session.error('unauthorized', 'authenticate first'); // [SB-4.5-2]
      session.close(CLOSE_CODES.policyViolation, 'authentication required');
      return;
    }
    try {
      const work = dispatch(this.#owner, session, frame, decoded.body);
      if (work !== undefined) this.#executor.hold(session, work); // its next frames wait for it, in order
    } catch (error) {
      this.#internalError(session, frame, error);
    }
  }

  #onClosed(session: Session, code: number): void {
    if (!this.sessions.delete(session)) return;
    this.#byId.delete(session.id);
    if (!session.trusted) {
      const left = (this.#perAddress.get(session.remoteAddress) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(session.remoteAddress);
      else this.#perAddress.set(session.remoteAddress, left);
    }
    const owner = this.#owner;
    // Each step on its own: a fault in one must not leave the others undone.
    for (const name of [...session.names]) this.#guard(() => owner.releaseName(session, name, false)); // [SB-4.2-4]
    this.#guard(() => owner.pending.peerGone(session)); // [SB-6-9], [SB-6-10]
    this.#guard(() => owner.topics.peerGone(session));
    if (owner.cluster !== undefined) this.#guard(() => owner.cluster!.closed(session)); // [SB-16-2]
    this.metrics.closed(code);
    owner.disconnected(info(session), code, session.closeReason);
  }

  #guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.metrics.internalErrors++;
      this.#owner.fault(error);
    }
  }

  /** [SB-7-4] The client hears `internal_error`, the connection stays, the fault is reported. */
  #internalError(session: Session, frame: ClientFrame, error: unknown): void {
    this.metrics.internalErrors++;
    const ids: { ack?: string; ref?: string } = {};
    if ('ack' in frame && frame.ack !== undefined) ids.ack = frame.ack;
    if ('ref' in frame && frame.ref !== undefined) ids.ref = frame.ref;
    session.error('internal_error', 'the broker failed while handling this frame', ids);
    this.#owner.fault(error);
  }
}
