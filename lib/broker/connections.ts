/**
 * The broker's connections (protocol.md sections 2, 4.0 and 4.5): the upgrade checklist, one Session per
 * WebSocket, admission and authentication deadline, the path of every frame from bytes to the dispatch
 * switch, the heartbeat, and the cleanup when a connection ends.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { nanoid } from 'nanoid';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, SUBPROTOCOL, decode, type ClientFrame, type Dialect } from '../protocol/index.js';
import { OPEN_IDENTITY } from './auth/policy.js';
import type { BrokerContext } from './context.js';
import { dispatch } from './dispatch.js';
import type { ResolvedOptions } from './options.js';
import { Session, beginBatch, endBatch, type Corkable, type SessionCounters, type SessionSocket } from './session.js';
import { checkUpgrade } from './upgrade.js';

/** Frames a connection may send while its asynchronous authentication runs. */
const MAX_HELD_FRAMES = 64;
/** Frames handled per connection per pass ([SB-7-5]). */
const BATCH = 16;
/** How long a connection the broker closes may take to answer the close before it is cut. */
const CLOSE_TIMEOUT_MS = 1000;
/** Unhandled frames at which a connection stops being read, and below which it is read again. */
const INBOX_HIGH = 256;
const INBOX_LOW = 64;

export interface ConnectionInfo {
  readonly id: string;
  readonly dialect: Dialect;
  readonly remoteAddress: string;
}

export interface Counters extends SessionCounters {
  framesIn: number;
  badFrames: number;
  internalErrors: number;
}

/** What the connections need of the broker that owns them. */
export interface ConnectionOwner extends BrokerContext {
  readonly options: ResolvedOptions;
  connected(info: ConnectionInfo): void;
  disconnected(info: ConnectionInfo, code: number): void;
  fault(error: Error): void;
}

export function info(session: Session): ConnectionInfo {
  return { id: session.id, dialect: session.dialect, remoteAddress: session.remoteAddress };
}

export class Connections {
  readonly sessions = new Set<Session>();
  readonly counters: Counters = { framesIn: 0, framesOut: 0, badFrames: 0, internalErrors: 0 };
  readonly #perAddress = new Map<string, number>();
  readonly #owner: ConnectionOwner;
  readonly #wss: WebSocketServer;
  /** Connections with unhandled frames, in the order they got them: the round-robin of a pass. */
  readonly #ready = new Set<Session>();
  #scheduled = false;

  constructor(owner: ConnectionOwner) {
    this.#owner = owner;
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

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, closing: boolean): void {
    socket.on('error', () => socket.destroy());
    const { options } = this.#owner;
    const refusal = checkUpgrade(req, {
      closing,
      path: options.path,
      allowedOrigins: options.allowedOrigins,
      limits: options.limits,
      connections: this.sessions.size,
      connectionsFrom: (address) => this.#perAddress.get(address) ?? 0,
    });
    if (refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  /** A connection inside this process (the broker as a peer): trusted, extended, never counted per address. */
  addLocal(socket: SessionSocket): Session {
    const session = new Session(nanoid(), socket, 'extended', 'local', this.#owner.limits, this.counters);
    session.identity = OPEN_IDENTITY;
    this.sessions.add(session);
    void session.closed.then(() => this.#onClose(session, CLOSE_CODES.normal));
    return session;
  }

  /**
   * One frame from a connection, into its inbox. Frames are handled in passes, one per turn of the event
   * loop: each pass takes up to BATCH frames from every connection in turn, so a flooding connection
   * cannot hold the loop, and a connection whose inbox fills is not read until it drains ([SB-7-5]).
   * Every socket written to during a pass is corked until its end: its frames leave in one write.
   */
  frame(session: Session, data: Buffer, isBinary: boolean): void {
    if (!session.isOpen) return;
    session.alive = true;
    this.counters.framesIn++;
    if (isBinary) {
      session.close(CLOSE_CODES.unsupportedData, 'binary frames are not supported'); // [SB-2-4]
      return;
    }
    const queued = session.inbox.push(data) - session.inboxHead;
    if (queued === 1) this.#ready.add(session);
    if (queued >= INBOX_HIGH && !session.paused) session.pause();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#pass);
    }
  }

  readonly #pass = (): void => {
    this.#scheduled = false;
    beginBatch();
    try {
      for (const session of this.#ready) {
        const { inbox } = session;
        const end = Math.min(inbox.length, session.inboxHead + BATCH);
        while (session.inboxHead < end && session.isOpen) this.#decode(session, inbox[session.inboxHead++]);
        if (session.inboxHead >= inbox.length || !session.isOpen) {
          inbox.length = 0;
          session.inboxHead = 0;
          this.#ready.delete(session);
        }
        if (session.paused && inbox.length - session.inboxHead < INBOX_LOW) session.resume();
      }
    } finally {
      endBatch();
    }
    if (this.#ready.size > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#pass);
    }
  };

  /** The only decode ([SB-4.0-1]). */
  #decode(session: Session, data: Buffer): void {
    const { limits } = this.#owner;
    const decoded = decode(data.toString(), data.length, limits.maxMessageBytes, limits.maxDepth);
    if (!decoded.ok) {
      this.counters.badFrames++;
      session.refuse(decoded.failure);
      return;
    }
    if (session.held !== undefined) {
      if (session.held.length < MAX_HELD_FRAMES) session.held.push({ frame: decoded.frame, raw: decoded.body });
      else session.close(CLOSE_CODES.policyViolation, 'too many frames before authentication');
      return;
    }
    this.#handle(session, decoded.frame, decoded.body);
  }

  /** Hold the session's next frames until `work` settles, then handle them in order. */
  holdWhile(session: Session, work: Promise<void>): void {
    session.held = [];
    void work.then(() => {
      const held = session.held ?? [];
      session.held = undefined;
      for (const { frame, raw } of held) this.#handle(session, frame, raw);
    });
  }

  /** [SB-2-7] A session that did not answer the last ping (nor sent anything since) is dropped. */
  beat(): void {
    for (const session of this.sessions) {
      if (session.alive) session.ping();
      else session.terminate();
    }
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const dialect: Dialect = ws.protocol === SUBPROTOCOL ? 'extended' : 'legacy';
    const address = req.socket.remoteAddress ?? '';
    const stream = (ws as unknown as { _socket: Corkable })._socket; // ws exposes no cork of its own
    const session = new Session(nanoid(), ws, dialect, address, this.#owner.limits, this.counters, stream);
    this.sessions.add(session);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    ws.on('error', () => {}); // ws closes the socket itself (1002, 1007, 1008, 1009); the close handler cleans up
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('message', (data, isBinary) => this.frame(session, data as Buffer, isBinary));
    ws.once('close', (code) => this.#onClose(session, code));
    this.#owner.connected(info(session));
    this.#admit(session);
  }

  /**
   * [SB-4.5-1] Without a policy everyone may do everything; with one, a connection is the anonymous
   * identity if there is one, and must otherwise authenticate within `authTimeoutMs` (legacy clients,
   * which cannot, are closed at once).
   */
  #admit(session: Session): void {
    const policy = this.#owner.options.auth;
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

  #handle(session: Session, frame: ClientFrame, raw: string | undefined): void {
    if (!session.isOpen) return;
    if (session.identity === undefined && frame.action !== 'auth') {
      session.error('unauthorized', 'authenticate first'); // [SB-4.5-2]
      session.close(CLOSE_CODES.policyViolation, 'authentication required');
      return;
    }
    try {
      dispatch(this.#owner, session, frame, raw);
    } catch (error) {
      this.#internalError(session, frame, error);
    }
  }

  #onClose(session: Session, code: number): void {
    if (!this.sessions.delete(session)) return;
    this.#ready.delete(session);
    if (session.remoteAddress !== 'local') {
      const left = (this.#perAddress.get(session.remoteAddress) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(session.remoteAddress);
      else this.#perAddress.set(session.remoteAddress, left);
    }
    const owner = this.#owner;
    for (const name of [...session.names]) owner.releaseName(session, name, false); // [SB-4.2-4]
    owner.pending.peerGone(session); // [SB-6-9], [SB-6-10]
    owner.topics.peerGone(session);
    owner.disconnected(info(session), code);
  }

  /** [SB-7-4] The client hears `internal_error`, the connection stays, the fault is reported. */
  #internalError(session: Session, frame: ClientFrame, error: unknown): void {
    this.counters.internalErrors++;
    const ids: { ack?: string; ref?: string } = {};
    if ('ack' in frame && frame.ack !== undefined) ids.ack = frame.ack;
    if ('ref' in frame && frame.ref !== undefined) ids.ref = frame.ref;
    session.error('internal_error', 'the broker failed while handling this frame', ids);
    this.#owner.fault(error instanceof Error ? error : new Error(String(error)));
  }
}
