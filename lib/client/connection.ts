/**
 * One WebSocket to one broker URL, from the attempt to the close. It offers the extended dialect's
 * subprotocol and refuses a server that does not select it (protocol.md section 2, [SB-2-2]); it turns
 * text frames into broker frames (frames.ts); it reports its end exactly once. Reconnecting, registering
 * and routing are the Client's business: a Connection never outlives its socket.
 *
 * It also tells a refusal that retrying cannot change (`final`): a server that is not a switchboard
 * broker (no subprotocol), and an upgrade answered with an HTTP status that says the URL is wrong (404:
 * no broker at that path; 403: an origin the broker refuses; 200 or a redirect: not a WebSocket
 * endpoint). A busy or restarting broker (5xx, 429, 408) is worth another try. Only `ws` says the status,
 * in its error event's message; browsers hide it, so there every failed upgrade is retried.
 *
 * Only the WHATWG WebSocket surface is used (onopen/onmessage/onclose/onerror, send, close, protocol),
 * which both browsers and the `ws` package provide, so the constructor is injected and the core stays
 * free of `node:*` and `ws`.
 */
import { SUBPROTOCOL } from '../protocol/wire.js';
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
   * an attempt failed (`unreachable`, `protocol_error`, `timeout`) or why the client closed it; `final`
   * says the server refused in a way another attempt will not change.
   */
  close(info: CloseInfo): void;
}

export interface CloseInfo {
  code: number;
  reason: string;
  opened: boolean;
  final: boolean;
  error?: SwitchboardError;
}

/** `ws` reports an upgrade answered with another status than 101 as this error message. */
const UNEXPECTED_RESPONSE = /^Unexpected server response: (\d{3})$/;

/** `ws` refuses a server that selects none of the offered subprotocols, or another one, with these. */
const NO_SUBPROTOCOL = /^Server sent (no|an invalid) subprotocol$/;

/** True for the HTTP statuses of an upgrade that another attempt may turn into a connection. */
function worthRetrying(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export class Connection {
  readonly url: string;
  readonly #ws: WebSocketLike;
  readonly #handlers: ConnectionHandlers;
  #opened = false;
  #ended = false;
  #final = false;
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
      if (typeof message === 'string' && message !== '' && this.#error === undefined && !this.#opened) this.#failed(message);
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

  /** Why the attempt failed, from the message of `ws`'s error event; whether another attempt could help. */
  #failed(message: string): void {
    if (NO_SUBPROTOCOL.test(message)) {
      this.#final = true;
      this.#error = new SwitchboardError('protocol_error', `${this.url} did not select the ${SUBPROTOCOL} subprotocol (${message}): not a switchboard broker?`);
      return;
    }
    const status = Number(UNEXPECTED_RESPONSE.exec(message)?.[1] ?? NaN);
    if (Number.isNaN(status) || worthRetrying(status)) {
      this.#error = new SwitchboardError('unreachable', `cannot connect to ${this.url}: ${message}`);
      return;
    }
    this.#final = true;
    const why = status === 404 ? 'no broker serves that path' : 'not a switchboard broker, or not one that accepts this client';
    this.#error = new SwitchboardError('unreachable', `cannot connect to ${this.url}: the server answered the upgrade with HTTP ${status} (${why})`);
  }

  #onOpen(): void {
    if (this.#ended) return;
    if (this.#ws.protocol !== SUBPROTOCOL) {
      const error = new SwitchboardError(
        'protocol_error',
        `${this.url} did not select the ${SUBPROTOCOL} subprotocol (selected "${this.#ws.protocol}"): not a switchboard broker?`,
      );
      this.#final = true;
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
    this.#handlers.close({ code, reason, opened, final: this.#final, ...(error ? { error } : {}) });
  }
}
