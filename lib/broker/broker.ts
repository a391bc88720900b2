/**
 * The broker's lifecycle: an HTTP server whose upgrades pass a short checklist before ws takes them
 * (protocol.md section 2), one Session per connection, and the wiring of frames to the dispatch switch.
 * Everything a handler needs is in the BrokerContext this class implements.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { nanoid } from 'nanoid';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, SUBPROTOCOL, decode, type AnswerOutFrame, type ClientFrame, type Dialect } from '../protocol/index.js';
import type { BrokerContext } from './context.js';
import { dispatch } from './dispatch.js';
import { MemoryNameRegistry, type NameRegistry } from './names.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { PendingTable, type Outcome, type PendingRequest } from './pending.js';
import { Session } from './session.js';

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
  /** Delivery ids that may still be answered (pending requests and losers of finished races). */
  deliveries: number;
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

export class Broker extends EventEmitter<BrokerEvents> implements BrokerContext {
  readonly options: ResolvedOptions;
  readonly limits: ResolvedOptions['limits'];
  readonly names: NameRegistry<Session> = new MemoryNameRegistry<Session>();
  readonly pending: PendingTable<Session>;
  readonly #sessions = new Set<Session>();
  readonly #counters = { framesIn: 0, framesOut: 0, badFrames: 0, internalErrors: 0 };
  readonly #faultsLogged = new Set<string>();
  readonly #wss: WebSocketServer;
  #http: Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BrokerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.limits = this.options.limits;
    this.pending = new PendingTable<Session>((request, outcome) => this.#deliverOutcome(request, outcome));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.limits.maxMessageBytes * 2, // [SB-9-1] the transport's hard cap
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false), // [SB-2-2]
    });
    this.#wss.on('error', (error) => this.#fault(error));
  }

  /** Start listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<ListenAddress> {
    if (this.#http !== undefined) throw new Error('broker is already listening');
    const http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('switchboard: connect with a WebSocket\n');
    });
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
    const listening = { host, port: address.port, url: `ws://${shown}:${address.port}${this.options.path}` };
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
      ...this.#counters,
      lateAnswers: this.pending.lateAnswers,
    };
  }

  takeName(session: Session, name: string): void {
    this.names.take(name, session);
    session.names.add(name);
    session.send({ action: 'registered', id: name });
    this.emit('registered', name, info(session));
  }

  releaseName(session: Session, name: string): void {
    if (!session.names.delete(name)) return;
    this.names.release(name, session);
    this.pending.nameReleased(session, name);
    session.send({ action: 'unregistered', id: name });
    this.emit('unregistered', name, info(session));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.#closing !== undefined) return reject(socket, 503, 'Service Unavailable');
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== this.options.path) return reject(socket, 404, 'Not Found'); // [SB-2-1]
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const dialect: Dialect = ws.protocol === SUBPROTOCOL ? 'extended' : 'legacy';
    const session = new Session(nanoid(), ws, dialect, req.socket.remoteAddress ?? '', this.limits, this.#counters);
    this.#sessions.add(session);
    ws.on('error', () => {}); // ws closes the socket itself (1002, 1007, 1009); the close handler cleans up
    ws.on('message', (data, isBinary) => this.#onFrame(session, data as Buffer, isBinary));
    ws.once('close', (code) => this.#onClose(session, code));
    this.emit('connection', info(session));
  }

  #onFrame(session: Session, data: Buffer, isBinary: boolean): void {
    if (!session.isOpen) return;
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
    try {
      dispatch(this, session, decoded.frame);
    } catch (error) {
      this.#internalError(session, decoded.frame, error);
    }
  }

  #onClose(session: Session, code: number): void {
    if (!this.#sessions.delete(session)) return;
    for (const name of [...session.names]) this.releaseName(session, name); // [SB-4.2-4]
    this.pending.peerGone(session); // [SB-6-9], [SB-6-10]
    this.emit('disconnect', info(session), code);
  }

  #deliverOutcome(request: PendingRequest<Session>, outcome: Outcome): void {
    const sender = request.sender;
    if (outcome.kind === 'failure') {
      sender.error(outcome.code, outcome.message, { ack: request.ack }); // [SB-6-5]; dropped for legacy [SB-6-11]
      return;
    }
    const frame: AnswerOutFrame = { action: 'answer', ack: request.ack, from: outcome.from };
    if (outcome.error !== undefined) frame.error = outcome.error;
    else frame.message = outcome.message;
    sender.send(frame);
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

  async #close(): Promise<void> {
    const closed = [...this.#sessions].map((session) => session.closed);
    for (const session of this.#sessions) session.close(CLOSE_CODES.goingAway, 'broker shutting down');
    const grace = setTimeout(() => {
      for (const session of this.#sessions) session.terminate();
    }, CLOSE_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(grace);
    this.pending.clear();
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

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
