/**
 * A connection held on another node, as this node's pending table and routing see it (protocol.md
 * section 16): a Session whose way out is the owning node's channel. The node where a request's sender
 * is connected keeps the request and decides its one outcome; a receiver on another node is a
 * RemoteSession there, so first answer wins, gather, cancel, deadlines, streams and `responder_gone` take
 * the same code paths as on one broker. The owning node writes what arrives to its own connection
 * (node.ts) and sends back what that connection answers.
 */
import { BROKER_ACTIONS, type BrokerAction, type BrokerFrame, type Dialect, LEGACY_BROKER_ACTIONS, DEFAULT_LIMITS } from '../../protocol/wire.js';
import { Session, type SessionCounters, type SessionSocket } from '../session.js';

/** What a remote session writes through: the node that holds the connection, over Redis. */
export interface Outlet {
  /** Write an encoded frame to connection `conn` of `node`; `delivery` names a request's delivery it starts or (cancel) ends. */
  write(node: string, conn: string, action: BrokerAction, data: string | Buffer, delivery?: { id: string; name?: string }): void;
  closeRemote(node: string, conn: string, code: number, reason: string): void;
}

const OPEN = 1;
const CLOSED = 3;

/** The socket under a remote session: open until the owning node says the connection is gone. */
class RemoteSocket implements SessionSocket {
  readonly OPEN = OPEN;
  readyState = OPEN;
  readonly bufferedAmount = 0;
  readonly #onClose: Array<(code: number) => void> = [];
  readonly #close: (code: number, reason: string) => void;

  constructor(close: (code: number, reason: string) => void) {
    this.#close = close;
  }

  send(): void {
    throw new Error('a remote session writes through its outlet');
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.#close(code, reason);
    this.gone(code);
  }

  terminate(): void {
    this.close(1006, '');
  }

  ping(): void {}

  once(_event: 'close', listener: (code: number) => void): this {
    this.#onClose.push(listener);
    return this;
  }

  gone(code: number): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    for (const listener of this.#onClose.splice(0)) listener(code);
  }
}

/** Remote sessions count nothing: the node that holds the connection counts what it writes. */
const UNCOUNTED: SessionCounters = {
  framesOut: Object.fromEntries(BROKER_ACTIONS.map((action) => [action, 0])) as Record<BrokerAction, number>,
  bytesOut: 0,
  slowConsumerCloses: 0,
};

export class RemoteSession extends Session {
  readonly node: string;
  readonly #outlet: Outlet;
  readonly #socket: RemoteSocket;
  /** When it was last written to (ms since the epoch): idle remote sessions are forgotten (RemoteSessions.idle). */
  lastUsed = Date.now();
  /** The names this node has it cached as the holder of (claims.ts). */
  readonly cachedNames = new Set<string>();

  constructor(node: string, conn: string, dialect: Dialect, outlet: Outlet) {
    const socket = new RemoteSocket((code, reason) => outlet.closeRemote(node, conn, code, reason));
    super(conn, socket, dialect, `node:${node}`, DEFAULT_LIMITS, UNCOUNTED);
    this.node = node;
    this.#outlet = outlet;
    this.#socket = socket;
  }

  override send(frame: BrokerFrame): void {
    if (frame.action === 'cancel') this.#ship('cancel', JSON.stringify(frame), { id: frame.ack });
    else super.send(frame);
  }

  override write(action: BrokerAction, data: string | Buffer): void {
    this.#ship(action, data);
  }

  override writeDelivery(id: string, name: string, data: string | Buffer): void {
    this.#ship('message', data, { id, name });
  }

  /**
   * The owning node said the connection is reached by `name` as a subscriber now ([SB-4.7-4]); '' for no
   * name: it is not reached.
   */
  renamed(name: string): void {
    this.names.clear();
    if (name !== '') this.names.add(name);
  }

  /** The owning node said the connection is gone. */
  gone(): void {
    this.#socket.gone(1006);
  }

  #ship(action: BrokerAction, data: string | Buffer, delivery?: { id: string; name?: string }): void {
    if (this.dialect === 'legacy' && !LEGACY_BROKER_ACTIONS.has(action)) return; // [SB-2-3], as Session.write
    if (!this.isOpen) return;
    this.lastUsed = Date.now();
    this.#outlet.write(this.node, this.id, action, data, delivery);
  }
}

/** The remote sessions this node knows, by node and connection id. */
export class RemoteSessions {
  readonly #byNode = new Map<string, Map<string, RemoteSession>>();
  readonly #outlet: Outlet;

  constructor(outlet: Outlet) {
    this.#outlet = outlet;
  }

  get(node: string, conn: string, dialect: Dialect): RemoteSession {
    let sessions = this.#byNode.get(node);
    if (sessions === undefined) this.#byNode.set(node, (sessions = new Map()));
    let session = sessions.get(conn);
    if (session === undefined || !session.isOpen) sessions.set(conn, (session = new RemoteSession(node, conn, dialect, this.#outlet)));
    return session;
  }

  find(node: string, conn: string): RemoteSession | undefined {
    return this.#byNode.get(node)?.get(conn);
  }

  /** Forget one connection; returns it so that its deliveries can end. */
  remove(node: string, conn: string): RemoteSession | undefined {
    const sessions = this.#byNode.get(node);
    const session = sessions?.get(conn);
    if (session === undefined) return undefined;
    sessions!.delete(conn);
    if (sessions!.size === 0) this.#byNode.delete(node);
    session.gone();
    return session;
  }

  /** Forget every connection of a node; returns them. */
  removeNode(node: string): RemoteSession[] {
    const sessions = [...(this.#byNode.get(node)?.values() ?? [])];
    this.#byNode.delete(node);
    for (const session of sessions) session.gone();
    return sessions;
  }

  /** Remote sessions not written to since `before` and with nothing in flight (`busy` says). */
  *idle(before: number, busy: (session: RemoteSession) => boolean): Iterable<RemoteSession> {
    for (const sessions of this.#byNode.values()) {
      for (const session of sessions.values()) if (session.lastUsed < before && !busy(session)) yield session;
    }
  }

  get size(): number {
    let size = 0;
    for (const sessions of this.#byNode.values()) size += sessions.size;
    return size;
  }
}
