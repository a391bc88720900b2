/**
 * A drop-in for the client of wsmsgbroker 1.7.2: the same constructor, methods and events, built on
 * the switchboard Client, so a program moves over by changing its import and gains reconnect, names
 * re-registered after a restart, and errors instead of callbacks that wait forever.
 *
 * What is kept from wsmsgbroker: `new WSMsgBroker(id, host, port, path)`; `send(message, dest,
 * callback?(from, answer))`; `on('message', (message, response) => response.send(answer))` where
 * `response` is absent for a message without ack; events `open`, `registered`, `unregistered`, `close`,
 * `error`; `unregister()`, `close()`, `off()`; the `id` property.
 *
 * What differs, on purpose:
 * - A request that fails (no responders, timeout after `options.timeout`, responder gone, disconnected)
 *   emits `error` with a `SwitchboardError` whose `code` says which; wsmsgbroker waited forever. Like
 *   every `error` here but one, it is dropped when nobody listens (wsmsgbroker threw from its EventEmitter).
 * - The one kept as wsmsgbroker had it: when the connection cannot be had (the broker does not serve
 *   `path`: HTTP 404; not a switchboard broker; the name taken; the token refused), `error` is emitted,
 *   then `close`, and with no `error` listener the error is thrown, an uncaught exception, as wsmsgbroker's
 *   EventEmitter threw the 404 of its socket. Otherwise a program would wait for `open` forever. A broker
 *   that is merely down is retried instead, silently.
 * - `open` and `registered` are emitted once, the first time the name is registered: after a reconnect
 *   the name is registered again silently, so code that attaches listeners in `registered` (as the
 *   wsmsgbroker README does) does not attach them twice. `reconnecting` and `ready` tell about later ones.
 * - A request that arrives while no `message` listener is attached is answered at once with the error
 *   `no_handler` instead of being left to time out.
 * - A `message` listener that throws is reported as `error` (`handler_error`, the thrown error as
 *   `cause`), as wsmsgbroker reported it, but never thrown when nobody listens.
 */
import { Client, type ClientStatus } from './client.js';
import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';
import type { ClientOptions } from './options.js';

export interface WSMsgBrokerOptions extends Omit<ClientOptions, 'name' | 'names'> {
  /** Deadline of a `send` with a callback, in milliseconds. Default: 30000 (the broker's default). */
  timeout?: number;
  /** Connect with `wss://` instead of `ws://`. Default: false. */
  secure?: boolean;
}

/** The object a request's receiver answers with; absent for messages sent without a callback. */
export interface WSMsgBrokerResponse {
  send(answer: unknown): void;
}

export interface WSMsgBrokerEvents {
  [event: string]: unknown[];
  open: [];
  registered: [id: string];
  unregistered: [id: string];
  message: [message: unknown, response?: WSMsgBrokerResponse];
  close: [];
  error: [error: SwitchboardError];
  ready: [];
  reconnecting: [];
}

export class WSMsgBroker extends Emitter<WSMsgBrokerEvents> {
  /** The name this client registers. */
  readonly id: string;
  /** The switchboard client underneath, for everything wsmsgbroker did not have. */
  readonly client: Client;
  #registeredOnce = false;
  /** The last error emitted, so the close it causes does not say it twice. */
  #reported: SwitchboardError | undefined;

  constructor(id: string, host: string, port: number | string, path?: string, options: WSMsgBrokerOptions = {}) {
    super();
    this.id = id;
    let route = path ?? '';
    if (!route.startsWith('/')) route = `/${route}`;
    const { timeout, secure, ...clientOptions } = options;
    this.client = new Client(`${secure ? 'wss' : 'ws'}://${host}:${port}${route}`, {
      ...clientOptions,
      name: id,
      ...(timeout === undefined ? {} : { requestTimeoutMs: timeout }),
    });
    this.client.on('ready', () => {
      if (this.#registeredOnce) return void this.emit('ready');
      this.#registeredOnce = true;
      this.emit('open');
      this.emit('registered', id);
      this.emit('ready');
    });
    this.client.on('status', (status: ClientStatus) => {
      if (status === 'reconnecting') this.emit('reconnecting');
    });
    this.client.on('unregistered', (name) => this.emit('unregistered', name));
    this.client.on('closed', ({ error }) => {
      if (error !== undefined) this.#fatal(error);
      this.emit('close');
    });
    this.client.on('error', (error) => this.#error(error));
    this.client.on('message', (message, ctx) => {
      if (this.listenerCount('message') === 0) {
        ctx.fail('no_handler', `${id} has no "message" listener`);
        return;
      }
      if (ctx.isRequest) this.emit('message', message, { send: (answer: unknown) => void ctx.answer(answer) });
      else this.emit('message', message);
    });
  }

  /**
   * Send `message` to `dest` (a name or an array of names). With `callback`, it is a request: the first
   * answer calls `callback(from, answer)`; a failure emits `error` instead.
   */
  send(message: unknown, dest: string | string[], callback?: (from: string, answer: unknown) => void): void {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError('Client.send(data, callback) expects "callback" to be a Function');
    }
    if (callback === undefined) {
      this.client.send(dest, message, { report: false }).catch((error: SwitchboardError) => this.#error(error));
      return;
    }
    this.client.request(dest, message).then(
      ({ from, message: answer }) => callback(from, answer),
      (error: SwitchboardError) => this.#error(error),
    );
  }

  /** Release the name; `unregistered` follows. It is not registered again after a reconnect. */
  unregister(): void {
    this.client.unregister(this.id).catch((error: SwitchboardError) => this.#error(error));
  }

  /** Close the connection for good; `close` follows. */
  close(): void {
    void this.client.close();
  }

  /**
   * A `message` listener that throws is reported as an `error` event (`handler_error`), as wsmsgbroker
   * did; the README example of wsmsgbroker does throw, calling `response.send` on a message without ack.
   */
  protected override listenerFailed(error: unknown, event: keyof WSMsgBrokerEvents): void {
    if (event !== 'message') return super.listenerFailed(error, event);
    const reason = error instanceof Error ? error.message : String(error);
    this.#error(new SwitchboardError('handler_error', `a "message" listener of ${this.id} threw: ${reason}`, { cause: error }));
  }

  #error(error: SwitchboardError): void {
    if (this.listenerCount('error') === 0) return;
    this.#reported = error;
    this.emit('error', error);
  }

  /** The client gave up: said as wsmsgbroker said a failed connection, thrown when nobody listens. */
  #fatal(error: SwitchboardError): void {
    if (this.listenerCount('error') === 0) {
      queueMicrotask(() => {
        throw error;
      });
    } else if (error.cause === undefined || error.cause !== this.#reported) this.#error(error);
  }
}
