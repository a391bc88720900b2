/**
 * The embedding process as a peer (protocol.md section 4.9): `broker.peer(name)` is a lib/client
 * `Client` whose WebSocket is an in-process pair of sockets. It takes every code path a remote client
 * takes (the same executor, decode, limits, routing and outcomes [SB-4.9-1]) and, on its side, lib/client's
 * one request mux, error class and handler runner with its guards. Its session is trusted: exempt from the
 * heartbeat (it never answers a ping) and from the bad-frame budget. If its session ends while the broker
 * runs, the client connects again, as it would to a remote broker.
 *
 * This is the one place the broker imports lib/client: its browser-safe core, which imports nothing of
 * the broker's.
 */
import type { Client } from '../client/client.js';
import type { WebSocketConstructor, WebSocketLike } from '../client/connection.js';
import { SwitchboardError } from '../client/errors.js';
import type { ClientOptions } from '../client/options.js';
import { SUBPROTOCOL } from '../protocol/wire.js';
import type { SessionSocket } from './session.js';

/** What a peer may be given: everything a Client takes but its socket and its names. */
export type PeerOptions = Omit<ClientOptions, 'WebSocket' | 'name' | 'names'>;

/**
 * The broker's peers: the clients `broker.peer()` made, closed with the broker, and its own peer (the one
 * `broker.send()`, `request()`, `gather()` and `publish()` go through), made on first use and again if
 * it has closed.
 */
export class Peers {
  readonly #clients = new Set<Client>();
  readonly #WebSocket: WebSocketConstructor;
  readonly #closing: () => boolean;
  readonly #maxMessageBytes: number;
  readonly #ownName: string;
  #own: Promise<Client> | undefined;

  /**
   * `closing`: true once the broker takes no new connection; `maxMessageBytes`: the broker's limit, each
   * peer's default; `ownName`: the name of the broker's own peer.
   */
  constructor(acceptor: LocalAcceptor, closing: () => boolean, maxMessageBytes: number, ownName: string) {
    this.#WebSocket = localWebSocket(acceptor);
    this.#closing = closing;
    this.#maxMessageBytes = maxMessageBytes;
    this.#ownName = ownName;
  }

  /** A client registered as `name` ([SB-4.9-1]); rejects with the client's error (`name_taken`, ...). */
  async make(name: string, options: PeerOptions = {}): Promise<Client> {
    if (this.#closing()) throw new SwitchboardError('closed', 'the broker is closing');
    // The client loads on first use: a broker that never makes a peer does not load it (nor TypeBox, for contracts).
    const { Client } = await import('../client/client.js');
    if (this.#closing()) throw new SwitchboardError('closed', 'the broker is closing');
    const client = new Client(LOCAL_URL, { maxMessageBytes: this.#maxMessageBytes, ...options, name, WebSocket: this.#WebSocket });
    this.#clients.add(client);
    client.on('closed', () => this.#clients.delete(client));
    try {
      await client.ready;
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** The broker's own peer. */
  own(): Promise<Client> {
    const own = this.#own;
    if (own !== undefined) return own;
    const made = this.make(this.#ownName);
    this.#own = made;
    made.then(
      (client) => client.on('closed', () => this.#own === made && (this.#own = undefined)),
      () => this.#own === made && (this.#own = undefined),
    );
    return made;
  }

  /** Close every peer. */
  async close(): Promise<void> {
    await Promise.all([...this.#clients].map((client) => client.close()));
  }
}

/** Where in-process sockets connect: the broker's connections. */
export interface LocalAcceptor {
  /** Accept the broker side of a new pair; false when the broker takes no connection (it is closing). */
  accept(socket: BrokerSide): boolean;
  /** A frame the client side wrote, for the session of `socket`. */
  frame(socket: BrokerSide, data: Buffer): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The broker's end of the pair: what its Session writes arrives at the client's `onmessage`. */
export class BrokerSide implements SessionSocket {
  readonly OPEN = OPEN;
  readyState = OPEN;
  readonly bufferedAmount = 0;
  readonly #client: ClientSide;
  readonly #onClose: Array<(code: number) => void> = [];

  constructor(client: ClientSide) {
    this.#client = client;
  }

  send(data: string | Buffer): void {
    const text = typeof data === 'string' ? data : data.toString();
    // Later, never inside the broker's handler that wrote it: the client's code must not run re-entrantly.
    queueMicrotask(() => this.#client.receive(text));
  }

  close(code = 1000, reason = ''): void {
    this.end(code, reason);
  }

  terminate(): void {
    this.end(1006, '');
  }

  ping(_data?: undefined, _mask?: undefined, done?: (error?: Error) => void): void {
    if (done !== undefined) queueMicrotask(() => done()); // after the frames sent before it
  }

  once(_event: 'close', listener: (code: number) => void): this {
    this.#onClose.push(listener);
    return this;
  }

  /** Close both ends once: the session hears it now, the client on a microtask. */
  end(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#client.ended(code, reason);
    for (const listener of this.#onClose.splice(0)) listener(code);
  }
}

/** The client's end of the pair, a WHATWG-like WebSocket. */
class ClientSide implements WebSocketLike {
  readyState = CONNECTING;
  readonly protocol = SUBPROTOCOL;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  readonly #acceptor: LocalAcceptor;
  readonly #broker: BrokerSide;

  constructor(acceptor: LocalAcceptor) {
    this.#acceptor = acceptor;
    this.#broker = new BrokerSide(this);
    queueMicrotask(() => {
      if (this.readyState !== CONNECTING) return;
      if (!acceptor.accept(this.#broker)) {
        this.onerror?.({ message: 'the broker is closing' } as never);
        this.ended(1006, '');
        return;
      }
      this.readyState = OPEN;
      this.onopen?.({} as never);
    });
  }

  send(data: string): void {
    if (this.readyState !== OPEN) return;
    this.#acceptor.frame(this.#broker, Buffer.from(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CONNECTING) this.ended(code, reason);
    else this.#broker.end(code, reason);
  }

  receive(text: string): void {
    if (this.readyState === OPEN) this.onmessage?.({ data: text });
  }

  ended(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

/** The WebSocket constructor a broker's own clients connect with (the URL is not used). */
export function localWebSocket(acceptor: LocalAcceptor): WebSocketConstructor {
  return class LocalWebSocket extends ClientSide {
    constructor(_url: string, _protocols?: string | string[]) {
      super(acceptor);
    }
  };
}

/** The URL a broker's own clients are given: any ws:// URL would do, this one says what it is. */
export const LOCAL_URL = 'ws://in-process.switchboard/';
