/**
 * The switchboard client (extended dialect, protocol.md): one logical connection to a broker that
 * survives the sockets under it. It owns the lifecycle (connect, authenticate with its token, register
 * every name, ready, drop, back off, fail over to the next URL, give up or close), routes broker frames
 * to the operation they answer, and hands incoming messages to the handler, with their cancellation.
 *
 * The promises it makes: every request and reported send ends in exactly one outcome; what was in
 * flight when a connection dropped rejects at once with `disconnected` and is never re-sent (it may
 * have been delivered); what was made while not ready waits in a bounded queue and goes out in order
 * once every name is registered again; `close()` rejects everything pending with `closed`.
 */
import { CLOSE_CODES, OUTCOME_CODES, isName, type ErrorFrame } from '../protocol/index.js';
import { backoffDelay } from './backoff.js';
import { Connection } from './connection.js';
import { Emitter } from './emitter.js';
import type { ReadFrame } from './frames.js';
import { SwitchboardError, callSite, type SwitchboardErrorCode } from './errors.js';
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import { PendingOperations, type Operation, type RequestResult, type SendReport } from './requests.js';
import { NameReplies, type NameAction } from './names.js';
import { prepare, sendFrame } from './outgoing.js';
import { Responder, type Handler } from './responder.js';
import type { ClientEvents, ClientStatus, RequestOptions, SendOptions } from './types.js';

export type { ClientEvents, ClientStatus, RequestOptions, SendOptions } from './types.js';

export class Client extends Emitter<ClientEvents> {
  readonly options: ResolvedOptions;
  #status: ClientStatus = 'connecting';
  #conn: Connection | undefined;
  #url: string;
  #urlIndex = 0;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;
  readonly #names: Set<string>;
  readonly #nameReplies = new NameReplies();
  readonly #readyWaiters: Array<{ resolve(): void; reject(error: SwitchboardError): void }> = [];
  readonly #ops: PendingOperations;
  readonly #responder: Responder;
  /** The `auth` frame of the current connection, waiting for `authenticated` or an error. */
  #authReply: { resolve(identity: string): void; reject(error: SwitchboardError): void } | undefined;
  #identity: string | undefined;

  /**
   * Connect to `url` (or the first of `urls`, failing over to the next) and register the names.
   * Throws a `SwitchboardError` with code `invalid_argument` when an option is wrong.
   */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super();
    this.options = resolveOptions(url, options);
    this.#names = new Set(this.options.names);
    this.#url = this.options.urls[0];
    this.#ops = new PendingOperations(
      this.options.maxQueue,
      this.options.maxInFlight,
      () => this.#pump(),
      // An aborted request is cancelled at the broker too, which tells its receivers [SB-6.1-1].
      (op) => void this.#conn?.send(`{"action":"cancel","ack":"${op.id}"}`),
    );
    this.#responder = new Responder(
      this.options.maxMessageBytes,
      (message, ctx) => this.emit('message', message, ctx),
      (error) => this.emit('error', error),
    );
    // Start on a microtask, so listeners attached right after `new` see the first events.
    queueMicrotask(() => {
      if (this.#status !== 'closed') this.#attempt();
    });
  }

  get status(): ClientStatus {
    return this.#status;
  }

  /** The names this client holds, or will register again after a reconnect. */
  get names(): string[] {
    return [...this.#names];
  }

  /** The identity the broker confirmed for the current connection (with `token`), else undefined. */
  get identity(): string | undefined {
    return this.#identity;
  }

  /** The URL of the current (or last) connection. */
  get url(): string {
    return this.#url;
  }

  /** Operations waiting for the connection, and operations in flight. */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.#ops.queue.size, inFlight: this.#ops.inFlight };
  }

  /**
   * Resolves when the client is ready (at once if it is); rejects with `closed` or `unreachable` if the
   * client closes first.
   */
  get ready(): Promise<void> {
    if (this.#status === 'ready') return Promise.resolve();
    if (this.#status === 'closed') return Promise.reject(new SwitchboardError('closed', 'the client is closed'));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Send a request to `dest` (one name, or several: the first answer wins) and resolve with the answer.
   * Rejects with a `SwitchboardError` whose `code` is the outcome: `no_responders`, `timeout`,
   * `responder_gone`, `responder_error`, `disconnected`, `closed`, `aborted`, `queue_full`, ...
   */
  request<T = unknown>(dest: string | string[], message: unknown, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return this.#submit<RequestResult<T>>('request', callSite(this.request), dest, message, options.timeout ?? this.options.requestTimeoutMs, options.signal, false);
  }

  /**
   * Send a message without asking for an answer. Resolves with the broker's delivery report
   * (`{ delivered, unknown }`), or with undefined once written when `report` is false.
   */
  send(dest: string | string[], message: unknown, options: SendOptions & { report: false }): Promise<undefined>;
  send(dest: string | string[], message: unknown, options?: SendOptions): Promise<SendReport>;
  send(dest: string | string[], message: unknown, options: SendOptions = {}): Promise<SendReport | undefined> {
    return this.#submit<SendReport | undefined>('send', callSite(this.send), dest, message, options.timeout ?? this.options.sendTimeoutMs, options.signal, options.report ?? true);
  }

  /**
   * Serve requests: `handler`'s return value (or resolved value) is the answer; what it throws becomes
   * an error answer with the error's string `code` (1 to 64 characters) or `handler_error`. One handler
   * per client: a new one replaces the old. Returns a function that removes it.
   */
  handle(handler: Handler): () => void {
    const responder = this.#responder;
    responder.handler = handler;
    return () => {
      if (responder.handler === handler) responder.handler = undefined;
    };
  }

  /** Register another name; resolves once the broker holds it for this client (and again after reconnects). */
  async register(name: string): Promise<void> {
    const origin = callSite(this.register);
    if (!isName(name)) throw new SwitchboardError('invalid_argument', `${JSON.stringify(name)} is not a valid name`, { origin });
    if (this.#status === 'closed') throw new SwitchboardError('closed', 'the client is closed', { origin });
    this.#names.add(name);
    if (this.#status !== 'ready') return this.ready;
    try {
      await this.#nameRequest('register', name);
    } catch (error) {
      if ((error as SwitchboardError).code === 'disconnected') return this.ready;
      this.#names.delete(name);
      throw new SwitchboardError((error as SwitchboardError).code, (error as Error).message, { origin, from: name });
    }
  }

  /** Release a name (every name when none is given); it is not registered again after a reconnect. */
  async unregister(name?: string): Promise<void> {
    const names = name === undefined ? [...this.#names] : [name];
    for (const each of names) this.#names.delete(each);
    if (this.#status !== 'ready') return;
    await Promise.all(
      names.map((each) =>
        this.#nameRequest('unregister', each).catch((error: SwitchboardError) => {
          // A dropped connection released the name anyway [SB-4.2-4].
          if (error.code !== 'disconnected') throw error;
        }),
      ),
    );
  }

  /** Close for good: every pending operation rejects with `closed`. Resolves once the socket is closed. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown('closed', 'the client was closed with operations pending');
    return this.#closing;
  }

  // ---- operations ------------------------------------------------------------------------------

  #submit<T>(
    kind: 'request' | 'send',
    origin: Error,
    dest: string | string[],
    message: unknown,
    timeout: number,
    signal: AbortSignal | undefined,
    report: boolean,
  ): Promise<T> {
    const refuse = (code: SwitchboardErrorCode, text: string) => Promise.reject(new SwitchboardError(code, text, { origin, dest }));
    if (this.#status === 'closed') return refuse('closed', `${kind} on a closed client`);
    const prepared = prepare(dest, message, timeout, this.options.maxMessageBytes);
    if (!prepared.ok) return refuse(prepared.code, prepared.message);
    const bodyJson = prepared.bodyJson;
    if (signal?.aborted) return Promise.reject(new SwitchboardError('aborted', `${kind} aborted before it started`, { origin, dest, cause: signal.reason }));

    const op = this.#ops.create<T>({ kind, dest, bodyJson, report, deadline: Date.now() + timeout, origin });
    if (signal !== undefined) op.watch(signal);
    const generic = op as unknown as Operation;
    if (this.#writable() && this.#ops.queue.size === 0 && this.#hasSlot(generic)) {
      this.#transmit(generic);
    } else if (!this.#ops.queue.push(generic)) {
      op.fail('queue_full', `the client is not ready and ${this.#ops.queue.capacity} operations already wait (maxQueue)`);
    } else {
      op.arm(timeout, `${kind} timed out after ${timeout} ms while waiting for the connection`);
    }
    return op.promise;
  }

  /**
   * Ready, and the socket still open: between a socket starting to close and its close event the status
   * is still `ready`, and an operation sent then would be lost without being in flight; it waits instead.
   */
  #writable(): boolean {
    return this.#status === 'ready' && this.#conn !== undefined && this.#conn.isOpen;
  }

  #hasSlot(op: Operation): boolean {
    return !(op.kind === 'request' || op.report) || this.#ops.inFlight < this.#ops.maxInFlight;
  }

  /** Send the queue's head operations while the client is ready and in-flight slots are free. */
  #pump(): void {
    for (;;) {
      if (!this.#writable()) return;
      const op = this.#ops.queue.peek();
      if (op === undefined || !this.#hasSlot(op)) return;
      this.#ops.queue.shift();
      this.#transmit(op);
    }
  }

  #transmit(op: Operation): void {
    const conn = this.#conn;
    const remaining = op.deadline - Date.now();
    if (conn === undefined || remaining < 1) {
      op.fail('timeout', `${op.kind} reached its deadline before it could be sent`);
      return;
    }
    if (op.kind === 'send' && !op.report) {
      conn.send(sendFrame(op.dest, op.bodyJson));
      op.resolve(undefined);
      return;
    }
    const id = this.#ops.nextId();
    this.#ops.track(op, id);
    if (op.kind === 'request') {
      // The broker enforces the deadline [SB-6-8]; the client's own timer is a backstop a little later.
      const grace = this.options.timeoutGraceMs;
      op.arm(remaining + grace, `no outcome from the broker within ${remaining} ms (+${grace} ms grace)`);
      conn.send(sendFrame(op.dest, op.bodyJson, { ack: id, timeout: remaining }));
    } else {
      op.arm(remaining, `no delivery report from the broker within ${remaining} ms`);
      conn.send(sendFrame(op.dest, op.bodyJson, { ref: id }));
    }
  }

  // ---- names -----------------------------------------------------------------------------------

  #nameRequest(kind: NameAction, name: string): Promise<void> {
    const conn = this.#conn;
    const takeover = kind === 'register' && this.options.takeover;
    return this.#nameReplies.request(kind, name, (text) => conn !== undefined && conn.send(text), takeover);
  }

  /** [SB-4.5-1] Present the token; resolves with the identity the broker confirms. */
  #authenticate(conn: Connection, token: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.#authReply = { resolve, reject };
      conn.send(JSON.stringify({ action: 'auth', token }));
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  #setStatus(status: ClientStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.emit('status', status);
  }

  #attempt(): void {
    this.#timer = undefined;
    const url = this.options.urls[this.#urlIndex % this.options.urls.length];
    this.#url = url;
    this.emit('connecting', { url, attempt: this.#failures + 1 });
    let conn: Connection;
    try {
      conn = new Connection(this.options.WebSocket!, url, {
        open: () => this.#onOpen(conn),
        frame: (frame) => this.#onFrame(conn, frame),
        problem: (error) => this.emit('error', error),
        close: (info) => this.#onClose(conn, info),
      });
    } catch (error) {
      this.#retry(false, 1006, '', new SwitchboardError('unreachable', `cannot open ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    this.#conn = conn;
    this.#timer = setTimeout(() => {
      void conn.close(1000, 'connect timeout', new SwitchboardError('timeout', `${url}: not ready within connectTimeoutMs (${this.options.connectTimeoutMs} ms)`));
    }, this.options.connectTimeoutMs);
  }

  /** Open: authenticate (with a token), register every name, then ready. */
  #onOpen(conn: Connection): void {
    const token = this.options.token;
    (token === undefined ? Promise.resolve(undefined) : this.#authenticate(conn, token))
      .then((identity) => {
        this.#identity = identity;
        return Promise.all([...this.#names].map((name) => this.#nameRequest('register', name)));
      })
      .then(
        () => {
          if (conn !== this.#conn || this.#status === 'closed') return;
          clearTimeout(this.#timer);
          this.#timer = undefined;
          this.#failures = 0;
          this.#setStatus('ready');
          this.emit('ready', { url: conn.url, names: this.names, ...(this.#identity === undefined ? {} : { identity: this.#identity }) });
          for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
          this.#pump();
        },
        (error: SwitchboardError) => {
          if (conn !== this.#conn) return;
          this.emit('error', error);
          // Retrying cannot fix a refused token or a name the identity may not hold.
          if (error.code === 'unauthorized' || error.code === 'forbidden') {
            this.#closing ??= this.#shutdown(error.code, `the broker refused this client: ${error.message}`, error);
            return;
          }
          // A taken name may be our own previous connection, not yet seen dead by the broker: retry later.
          void conn.close(1000, `registration failed: ${error.code}`);
        },
      );
  }

  #onFrame(conn: Connection, frame: ReadFrame): void {
    if (conn !== this.#conn) return;
    switch (frame.action) {
      case 'registered':
        this.#nameReplies.confirm('register', frame.id);
        this.emit('registered', frame.id);
        return;
      case 'unregistered':
        this.#nameReplies.confirm('unregister', frame.id);
        this.emit('unregistered', frame.id);
        return;
      case 'message':
        return this.#responder.receive(frame, (text) => conn === this.#conn && conn.send(text));
      case 'answer': {
        const op = this.#ops.get(frame.ack);
        if (op === undefined || op.kind !== 'request') return; // late: the client's own timer ended it
        if (frame.error === undefined) {
          op.resolve({ from: frame.from, message: frame.message ?? null });
        } else {
          const { code, message } = frame.error;
          op.fail('responder_error', `${frame.from} answered with error ${code}: ${message}`, { remoteCode: code, remoteMessage: message, from: frame.from });
        }
        return;
      }
      case 'sent': {
        const { delivered, unknown, queued } = frame;
        this.#ops.get(frame.ref)?.resolve(queued === undefined ? { delivered, unknown } : { delivered, unknown, queued });
        return;
      }
      case 'authenticated':
        this.#authReply?.resolve(frame.identity);
        this.#authReply = undefined;
        return;
      case 'cancel':
        return this.#responder.cancel(frame.ack, frame.reason);
      case 'error':
        return this.#onError(frame);
      default:
        frame satisfies never;
    }
  }

  #onError(frame: ErrorFrame): void {
    const details = {
      ...(frame.limit === undefined ? {} : { limit: frame.limit }),
      ...(frame.path === undefined ? {} : { path: frame.path }),
      ...(frame.id === undefined ? {} : { from: frame.id }),
    };
    const op = (frame.ack === undefined ? undefined : this.#ops.get(frame.ack)) ?? (frame.ref === undefined ? undefined : this.#ops.get(frame.ref));
    if (op !== undefined) {
      op.fail(frame.code, frame.message, details);
      return;
    }
    // The outcome of an operation the client already ended (its own timer, its signal): nothing to tell.
    if ((OUTCOME_CODES as readonly string[]).includes(frame.code) && frame.ack !== undefined) return;
    const error = new SwitchboardError(frame.code, frame.message, details);
    if (frame.ack === undefined && frame.ref === undefined) {
      // Errors without ack or ref answer the `auth` [SB-4.5-2], or a register or unregister ([SB-4.1-2], [SB-4.2-3]).
      const auth = this.#authReply;
      this.#authReply = undefined;
      if (auth !== undefined) return auth.reject(error);
      if (this.#nameReplies.refuse(error, frame.id)) return;
    }
    this.emit('error', error);
  }

  #onClose(conn: Connection, info: { code: number; reason: string; opened: boolean; error?: SwitchboardError }): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wasReady = this.#status === 'ready';
    const lost = new SwitchboardError('disconnected', `the connection to ${conn.url} closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`);
    this.#responder.abortAll('disconnected');
    this.#nameReplies.failAll(lost);
    this.#authReply?.reject(lost);
    this.#authReply = undefined;
    this.#identity = undefined;
    this.#ops.failInFlight(
      'disconnected',
      `the connection to ${conn.url} closed (${info.code}) while this was in flight: it may have been delivered, so it is not retried`,
    );
    // A wrong server is a configuration problem worth an event; refused connections are routine.
    if (info.error?.code === 'protocol_error') this.emit('error', info.error);
    if (this.#status === 'closed') return;
    if (info.code === CLOSE_CODES.takenOver) {
      // Another connection of this identity took a name over [SB-4.1-6]: taking it back would start a tug of war.
      const message = `a connection of the same identity took over this client's name (${info.reason})`;
      this.#closing ??= this.#shutdown('name_taken', message);
      return;
    }
    this.#retry(wasReady, info.code, info.reason, info.error);
  }

  /** Schedule the next attempt, or give up. A dropped connection retries its URL first; a failed attempt moves on. */
  #retry(wasReady: boolean, code: number, reason: string, error?: SwitchboardError): void {
    const policy = this.options.reconnect;
    if (!wasReady) {
      this.#failures += 1;
      this.#urlIndex += 1;
    }
    if (policy === false || this.#failures >= policy.maxAttempts) {
      const why = policy === false ? 'reconnect is off' : `${this.#failures} attempts failed in a row`;
      const last = error === undefined ? '' : `; last: ${error.message}`;
      this.#closing ??= this.#shutdown('unreachable', `the client gave up connecting (${why})${last}`, error);
      return;
    }
    if (wasReady) this.#setStatus('reconnecting');
    const delayMs = backoffDelay(policy, this.#failures);
    const url = this.options.urls[this.#urlIndex % this.options.urls.length];
    this.emit('reconnecting', { url, attempt: this.#failures + 1, delayMs, code, ...(reason ? { reason } : {}), ...(error ? { error } : {}) });
    this.#timer = setTimeout(() => this.#attempt(), delayMs);
  }

  async #shutdown(code: SwitchboardErrorCode, message: string, cause?: SwitchboardError): Promise<void> {
    this.#setStatus('closed');
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const error = new SwitchboardError(code, message, cause === undefined ? {} : { cause });
    this.#ops.failAll(code, message, cause);
    this.#nameReplies.failAll(error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
    this.#authReply?.reject(error);
    this.#authReply = undefined;
    this.#responder.abortAll(code);
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close(1000, 'client closed');
    this.emit('closed', code === 'closed' ? {} : { error });
  }
}
