/**
 * One WebSocket to one broker URL, from the attempt to the close. It offers the extended dialect's
 * subprotocol and refuses a server that does not select it (protocol.md section 2, [SB-2-2]); it turns
 * text frames into broker frames (frames.ts); it reports its end exactly once. Reconnecting, registering
 * and routing are the Client's business: a Connection never outlives its socket.
 *
 * Only the WHATWG WebSocket surface is used (onopen/onmessage/onclose/onerror, send, close, protocol),
 * which both browsers and the `ws` package provide, so the constructor is injected and the core stays
 * free of `node:*` and `ws`.
 */
import { SUBPROTOCOL } from '../protocol/index.js';
import { SwitchboardError } from './errors.js';
import { readBrokerFrame, type ReadFrame } from './frames.js';

/** The part of a WHATWG WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, the `ws` package's in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;

export interface ConnectionHandlers {
  /** The socket is open and speaks switchboard.v1. */
  open(): void;
  frame(frame: ReadFrame): void;
  /** A frame the client cannot read; the connection goes on. */
  problem(error: SwitchboardError): void;
  /**
   * The end, exactly once. `opened` tells a dropped connection from a failed attempt; `error` says why
   * an attempt failed (`unreachable`, `protocol_error`, `timeout`) or why the client closed it.
   */
  close(info: { code: number; reason: string; opened: boolean; error?: SwitchboardError }): void;
}

export class Connection {
  readonly url: string;
  readonly #ws: WebSocketLike;
  readonly #handlers: ConnectionHandlers;
  #opened = false;
  #ended = false;
  #error: SwitchboardError | undefined;
  #closedWaiters: Array<() => void> = [];

  constructor(WebSocket: WebSocketConstructor, url: string, handlers: ConnectionHandlers) {
    this.url = url;
    this.#handlers = handlers;
    // The constructor throws on a malformed URL (SyntaxError): the caller treats it as a failed attempt.
    this.#ws = new WebSocket(url, [SUBPROTOCOL]);
    this.#ws.onopen = () => this.#onOpen();
    this.#ws.onmessage = (event) => this.#onMessage(event.data);
    this.#ws.onerror = (event: unknown) => {
      // The close event follows. `ws` says why in `message`; browsers hide the reason on purpose.
      const message = (event as { message?: unknown } | null)?.message;
      if (typeof message === 'string' && message !== '' && this.#error === undefined && !this.#opened) {
        this.#error = new SwitchboardError('unreachable', `cannot connect to ${url}: ${message}`);
      }
    };
    this.#ws.onclose = (event) => this.#end(event.code, event.reason);
  }

  /** True while the socket is open and speaks the extended dialect. */
  get isOpen(): boolean {
    return this.#opened && !this.#ended && this.#ws.readyState === OPEN;
  }

  /** Send one frame; false when the socket is not open (the frame is not sent). */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.#ws.send(text);
    return true;
  }

  /**
   * Close the socket. `error` is reported as the reason of the end. Resolves when the socket has closed
   * or after `graceMs`, whichever comes first; the end is reported at once either way, so the client
   * never waits on a peer that does not answer the closing handshake.
   */
  close(code = 1000, reason = '', error?: SwitchboardError, graceMs = 1000): Promise<void> {
    if (error !== undefined && this.#error === undefined) this.#error = error;
    const closed = new Promise<void>((resolve) => {
      if (this.#ended && this.#ws.readyState === 3) return resolve();
      const timer = setTimeout(resolve, graceMs);
      this.#closedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      this.#ws.close(code, reason);
    } catch {
      // Closing a socket that is still connecting throws in some implementations; it is ending anyway.
    }
    this.#end(code, reason);
    return closed;
  }

  #onOpen(): void {
    if (this.#ended) return;
    if (this.#ws.protocol !== SUBPROTOCOL) {
      const error = new SwitchboardError(
        'protocol_error',
        `${this.url} did not select the ${SUBPROTOCOL} subprotocol (selected "${this.#ws.protocol}"): not a switchboard broker?`,
      );
      void this.close(1000, 'subprotocol not selected', error);
      return;
    }
    this.#opened = true;
    this.#handlers.open();
  }

  #onMessage(data: unknown): void {
    if (this.#ended) return;
    const read = readBrokerFrame(data);
    if (read.kind === 'frame') this.#handlers.frame(read.frame);
    else if (read.kind === 'invalid') this.#handlers.problem(new SwitchboardError('protocol_error', read.reason));
  }

  #end(code: number, reason: string): void {
    if (this.#ws.readyState === 3) for (const wake of this.#closedWaiters.splice(0)) wake();
    if (this.#ended) return;
    this.#ended = true;
    const opened = this.#opened;
    const error =
      this.#error ?? (opened ? undefined : new SwitchboardError('unreachable', `cannot connect to ${this.url} (closed with ${code})`));
    this.#handlers.close({ code, reason, opened, ...(error ? { error } : {}) });
  }
}
