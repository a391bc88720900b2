/**
 * The WebSocket a local client connects with: on each attempt, one round of the election first
 * (host.ts), then a WebSocket to the app's socket. It is given to the lib/client `Client` as its
 * `WebSocket` constructor, so the client's own lifecycle (reconnect with backoff, register every name
 * again, queue what is sent meanwhile, fail what was in flight with `disconnected`) drives takeovers
 * with nothing added: when the host dies, every survivor's next attempt is a bid to host.
 *
 * Its inbound side passes through a gate (`InboundGate`): until the local client is handed to the code
 * that asked for it (connectLocal resolves, and that code's `await` continues), requests and messages
 * (`message` frames, and the `cancel` frames that follow them) wait, so the handler that code attaches
 * at once sees them instead of `no_handler` answering them. Everything else passes: the client needs
 * its `registered` replies to become ready.
 */
import type { Duplex } from 'node:stream';
import { connect } from 'node:net';
import type { WebSocketConstructor, WebSocketLike } from '../client/connection.js';
import type { Host } from './host.js';

/** A WebSocket constructor that takes ws's options (the `ws` package's, or a subclass of it). */
export type InnerWebSocketConstructor = new (
  url: string,
  protocols: string | string[] | undefined,
  options: { createConnection: () => Duplex; perMessageDeflate: boolean },
) => WebSocketLike;

/** The URL the inner WebSocket is given: the socket is reached through `createConnection`, not by host. */
const INNER_URL = 'ws://localhost/';

/** Messages the gate holds at most; more pass at once (an early one may then meet no handler). */
export const MAX_HELD_FRAMES = 1024;

const CONNECTING = 0;
const CLOSED = 3;

export class InboundGate {
  #held: Array<() => void> | undefined = [];

  /** Deliver `data` now, or once the gate opens. */
  pass(data: unknown, deliver: () => void): void {
    const held = this.#held;
    if (held === undefined || held.length >= MAX_HELD_FRAMES || !waits(data)) return deliver();
    held.push(deliver);
  }

  /** Deliver what waits, in order; from now on everything passes. */
  open(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const deliver of held) deliver();
  }
}

/** `message` and `cancel` frames wait at the gate; a frame that is not JSON is the client's to report. */
function waits(data: unknown): boolean {
  try {
    const action = (JSON.parse(String(data)) as { action?: unknown } | null)?.action;
    return action === 'message' || action === 'cancel';
  } catch {
    return false;
  }
}

/** The WebSocket constructor of one local client of `host`'s app. */
export function localWebSocket(host: Host, Inner: InnerWebSocketConstructor, gate: InboundGate): WebSocketConstructor {
  return class LocalWebSocket implements WebSocketLike {
    onopen: ((event: never) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: never) => void) | null = null;
    #inner: WebSocketLike | undefined;
    #state = CONNECTING;

    constructor(_url: string, protocols?: string | string[]) {
      host.tryHost().then(
        () => this.#connect(protocols),
        (error: unknown) => this.#fail(`cannot host ${host.place.app}: ${(error as Error).message}`),
      );
    }

    get readyState(): number {
      return this.#inner?.readyState ?? this.#state;
    }

    get protocol(): string {
      return this.#inner?.protocol ?? '';
    }

    send(data: string): void {
      this.#inner?.send(data);
    }

    close(code?: number, reason?: string): void {
      if (this.#inner !== undefined) return this.#inner.close(code, reason);
      if (this.#state === CLOSED) return;
      this.#state = CLOSED;
      queueMicrotask(() => this.onclose?.({ code: code ?? 1006, reason: reason ?? '' }));
    }

    #connect(protocols: string | string[] | undefined): void {
      if (this.#state === CLOSED) return; // closed while the round ran
      const path = host.place.socketPath;
      const inner = new Inner(INNER_URL, protocols, { createConnection: () => connect({ path }), perMessageDeflate: false });
      this.#inner = inner;
      inner.onopen = (event) => this.onopen?.(event);
      inner.onmessage = (event) => gate.pass(event.data, () => this.onmessage?.(event));
      inner.onerror = (event) => this.onerror?.(event);
      inner.onclose = (event) => this.onclose?.(event);
    }

    #fail(message: string): void {
      if (this.#state === CLOSED) return;
      this.#state = CLOSED;
      this.onerror?.({ message } as never);
      this.onclose?.({ code: 1006, reason: '' });
    }
  };
}
