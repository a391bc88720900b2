/**
 * The switchboard client (extended dialect, protocol.md): one logical connection to a broker that
 * survives the sockets under it. It owns the lifecycle (connect, authenticate with its token, register
 * every name, subscribe every topic, ready, drop, back off, fail over to the next URL, give up or
 * close), and routes broker frames to the part they concern: the outbox (requests, gathers, sends,
 * publishes, broadcasts: outbox.ts), the names (names.ts), the subscriptions (topics.ts) and the
 * receiving side (responder.ts). This file is the facade: the public API, and the connection's life.
 *
 * The promises it makes: every request and reported operation ends in exactly one outcome; what was
 * in flight when a connection dropped rejects at once with `disconnected` and is never re-sent (it may
 * have been delivered); what was made while not ready waits in a bounded queue and goes out in order
 * once every name and subscription is in place again; `close()` rejects everything pending with `closed`.
 *
 * A refusal that retrying cannot change closes the client with its code, so `ready` and every pending
 * call reject with it: `unauthorized`, `forbidden`, `limit_exceeded` always; until the client was first
 * ready, also a configured name another client holds (`name_taken`, `name_conflict`) and a URL with no
 * switchboard broker (`unreachable` with an HTTP status, `protocol_error`). Later those are retried: the
 * holder may be this client's own old connection, and a proxy may answer 404 while the broker restarts.
 */
import { CLOSE_CODES, OUTCOME_CODES, type ErrorFrame } from '../protocol/wire.js';
import { backoffDelay } from './backoff.js';
import { Connection, type CloseInfo } from './connection.js';
import { ControlReplies, type ControlAction } from './control.js';
import { Emitter } from './emitter.js';
import type { ReadFrame } from './frames.js';
import { SwitchboardError, callSite, type SwitchboardErrorCode } from './errors.js';
import { Names } from './names.js';
import { resolveOptions, type ClientOptions, type NameOptions, type ResolvedOptions } from './options.js';
import { asked, Outbox, told } from './outbox.js';
import type { GatherResult, RequestResult, SendReport } from './requests.js';
import { Responder, type Handler, type TopicHandler } from './responder.js';
import * as svc from './services.js';
import type { ServiceInfo } from '../protocol/wire.js';
import { AnswerStream } from './stream.js';
import { Subscriptions } from './topics.js';
import { loadTracing } from './trace.js';
import type {
  ClientEvents,
  ClientStatus,
  Destination,
  GatherOptions,
  HandleOptions,
  PublishOptions,
  RequestOptions,
  SendOptions,
} from './types.js';

export type {
  ClientEvents,
  ClientStatus,
  Destination,
  GatherOptions,
  HandleOptions,
  PublishOptions,
  RequestOptions,
  SendOptions,
} from './types.js';

/** Refusals of a token or a name that every later connection would get too; those of a taken name. */
const ALWAYS_FINAL: ReadonlySet<string> = new Set(['unauthorized', 'forbidden', 'limit_exceeded']);
const TAKEN: ReadonlySet<string> = new Set(['name_taken', 'name_conflict']);
/** How many mailbox ids a client remembers to drop repeats by (a mailbox holds 1,000 messages by default). */
const MAX_MAILBOX_IDS = 10_000;

export class Client extends Emitter<ClientEvents> {
  readonly options: ResolvedOptions;
  #status: ClientStatus = 'connecting';
  #conn: Connection | undefined;
  #url: string;
  #urlIndex = 0;
  #failures = 0;
  /** Once ready, a taken name may be held by this client's own old connection. */
  #beenReady = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;
  readonly #replies: ControlReplies;
  readonly #readyWaiters: Array<{ resolve(): void; reject(error: SwitchboardError): void }> = [];
  readonly #outbox: Outbox;
  readonly #names: Names;
  readonly #subscriptions: Subscriptions;
  readonly #responder: Responder;
  /** [SB-6.3-4] The `mailbox` ids of the messages received lately, the oldest first: one that comes again is dropped. */
  readonly #mailboxIds = new Set<string>();
  /** The `auth` frame of the current connection, waiting for `authenticated` or an error. */
  #authReply: { resolve(identity: string): void; reject(error: SwitchboardError): void } | undefined;
  #identity: string | undefined;
  /** What lib/client/services.ts needs of this client (protocol.md section 14). */
  readonly #services: svc.ServiceHost;

  /**
   * Connect to `url` (or the first of `urls`, failing over to the next) and register the names.
   * Throws a `SwitchboardError` with code `invalid_argument` when an option is wrong.
   */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super();
    this.options = resolveOptions(url, options);
    void loadTracing(); // @opentelemetry/api when the program has it (trace.ts); once per process
    this.#url = this.options.urls[0];
    this.#replies = new ControlReplies(this.options.connectTimeoutMs);
    const writable = () => (this.#writable() ? this.#conn : undefined);
    const control = (action: ControlAction, key: string, text: string, conn: Connection | undefined) =>
      this.#replies.request(action, key, text, (frame) => conn !== undefined && conn.send(frame), () => new SwitchboardError('disconnected', `cannot ${action} "${key}": not connected`));
    this.#outbox = new Outbox(this.options, { closed: () => this.#status === 'closed', writable });
    this.#names = new Names(
      { isReady: () => this.#status === 'ready', closed: () => this.#status === 'closed', ready: () => this.ready, current: () => this.#conn, control },
      this.options.registrations,
      this.options.takeover,
    );
    this.#subscriptions = new Subscriptions({
      ready: () => this.ready,
      nextReady: () => this.#nextReady(),
      writable,
      control,
      report: (error) => this.emit('error', error),
    });
    this.#responder = new Responder(
      this.options.maxMessageBytes,
      (message, ctx) => this.emit('message', message, ctx),
      (error) => this.emit('error', error),
      (topic) => this.#subscriptions.handler(topic),
    );
    this.#services = {
      register: (name, opts) => this.register(name, opts),
      handle: (handler, opts) => this.handle(handler, opts),
      request: (dest, message, opts) => this.request(dest, message, opts),
      control: <T>(action: 'announce' | 'services', key: string, frame: Record<string, unknown>) =>
        this.ready.then(() => control(action, key, JSON.stringify(frame), this.#conn) as Promise<unknown> as Promise<T>),
      onRegistered: (listener) => {
        this.on('registered', listener);
        return () => this.off('registered', listener);
      },
      report: (error) => this.emit('error', error),
    };
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
    return this.#names.names;
  }

  /** The topics this client subscribes to, or will subscribe to again after a reconnect. */
  get topics(): string[] {
    return this.#subscriptions.topics;
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
    return { queued: this.#outbox.ops.queue.size, inFlight: this.#outbox.ops.inFlight };
  }

  /**
   * Resolves when the client is ready (at once if it is); rejects with the code the client closes with
   * if it closes first: `closed`, `unreachable`, or a refusal such as `name_taken` (see the file's opening).
   */
  get ready(): Promise<void> {
    if (this.#status === 'ready') return Promise.resolve();
    return this.#nextReady();
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * Send a request and resolve with the first answer, `{ from, message }`. `dest` is a name, several
   * names, or `{ topic }`: the current subscribers of one or several topics. Rejects with a
   * `SwitchboardError` whose `code` is the outcome: `no_responders`, `timeout`, `responder_gone`,
   * `responder_error`, `disconnected`, `closed`, `aborted`, `queue_full`, `mailbox_full`, ...
   */
  request<T = unknown>(dest: Destination, message: unknown, options: RequestOptions = {}): Promise<RequestResult<T>> {
    return this.#outbox.submit(asked('request', dest, message, options, this.options.requestTimeoutMs));
  }

  /**
   * Send a request to every destination and resolve, once each has answered or failed (or at the
   * deadline), with one result per destination reached, in the order of `dest` (protocol.md 6.2):
   * `{ from, message }`, `{ from, error: { code, message } }` or `{ from, code: 'timeout' | 'responder_gone' }`.
   * `dest` as for `request()`; a topic's subscribers are listed by name. Rejects with `no_responders`
   * when no destination is reached, and as `request()` for everything else.
   */
  gather<T = unknown>(dest: Destination, message: unknown, options: GatherOptions = {}): Promise<GatherResult<T>[]> {
    return this.#outbox.submit(asked('gather', dest, message, options, this.options.requestTimeoutMs));
  }

  /**
   * Send a request whose responder may send progressive results before its answer (protocol.md section
   * 13): `for await (const { from, message } of client.stream(dest, message))` takes the parts as they
   * come, at the loop's pace (the broker holds at most its `streamWindow` parts per responder for a slow
   * loop), and `await stream.result` is the final answer, `{ from, message }`. The loop throws what the
   * request rejects with (as `request()`); leaving it early cancels the request. `dest` is one name or
   * several (never a topic); the request's deadline covers the whole stream.
   */
  stream<T = unknown, R = unknown>(dest: string | string[], message: unknown, options: RequestOptions = {}): AnswerStream<T, R> {
    const stream = new AnswerStream<T, R>();
    const submission = asked('request', dest, message, options, this.options.requestTimeoutMs);
    submission.fields.stream = true;
    stream.begin(this.#outbox.submit({ ...submission, stream: stream as AnswerStream<unknown, unknown> }));
    return stream;
  }

  /**
   * Send a message without asking for an answer. Resolves with the broker's delivery report
   * (`{ delivered, unknown, queued? }`), or with undefined once written when `report` is false.
   */
  send(dest: string | string[], message: unknown, options: SendOptions & { report: false }): Promise<undefined>;
  send(dest: string | string[], message: unknown, options?: SendOptions): Promise<SendReport>;
  send(dest: string | string[], message: unknown, options: SendOptions = {}): Promise<SendReport | undefined> {
    return this.#outbox.submit(told('send', dest, message, options, this.options.sendTimeoutMs));
  }

  /**
   * Publish a message to the subscribers of `topic` (or of several topics: each subscriber gets it once).
   * Resolves with the number of receivers, or with undefined once written when `report` is false.
   * For a request to the subscribers, use `request({ topic }, ...)` or `gather({ topic }, ...)`.
   */
  publish(topic: string | string[], message: unknown, options: PublishOptions & { report: false }): Promise<undefined>;
  publish(topic: string | string[], message: unknown, options?: PublishOptions): Promise<number>;
  publish(topic: string | string[], message: unknown, options: PublishOptions = {}): Promise<number | undefined> {
    return this.#outbox.submit(told('publish', topic, message, options, this.options.sendTimeoutMs));
  }

  /**
   * Send a message to every other client that holds a name (never a request). Resolves with the number
   * of receivers, or with undefined once written when `report` is false.
   */
  broadcast(message: unknown, options: PublishOptions & { report: false }): Promise<undefined>;
  broadcast(message: unknown, options?: PublishOptions): Promise<number>;
  broadcast(message: unknown, options: PublishOptions = {}): Promise<number | undefined> {
    return this.#outbox.submit(told('broadcast', undefined, message, options, this.options.sendTimeoutMs));
  }

  // ---- receiving -------------------------------------------------------------------------------

  /**
   * Serve requests: `handler`'s return value (or resolved value) is the answer; what it throws becomes
   * an error answer with the error's string `code` (1 to 64 characters) or `handler_error`. With
   * `{ event }`, the handler takes the messages sent with that event name; without, every message that
   * no subscription or event handler takes. One handler per event name, and one catch-all: a new one
   * replaces the old. Returns a function that removes it.
   */
  handle(handler: Handler, options: HandleOptions = {}): () => void {
    return this.#responder.use(handler, options.event, callSite(this.handle));
  }

  /**
   * Subscribe to `topic` and everything below it (`news` receives `news.uk`, not `newsroom`): `handler`
   * gets each published message once, with `ctx.topic` (where it was published), `ctx.context` (this
   * subscription, or a more specific one of this client that matched), `ctx.from` and `ctx.event`, and
   * answers a published request as a `handle()` handler does. One handler per topic: a new one replaces
   * the old. Resolves once the broker confirmed it, with a function that ends it; it is made again
   * after every reconnect. Rejects with `invalid_argument`, `limit_exceeded`, `forbidden`, `closed`, ...
   */
  subscribe<T = unknown>(topic: string, handler: TopicHandler<T>): Promise<() => Promise<void>> {
    return this.#subscriptions.subscribe(topic, handler as TopicHandler, callSite(this.subscribe));
  }

  /** End the subscription to `topic`; it is not made again after a reconnect. */
  unsubscribe(topic: string): Promise<void> {
    return this.#subscriptions.unsubscribe(topic);
  }

  // ---- services (protocol.md section 14; lib/client/services.ts) ---------------------------------

  /**
   * Serve `contract` as `name` (`{ shared: true }`: as a pool member): each request is checked against its
   * method's request schema before `implementation` runs (else an error answer `bad_request`), each answer
   * against its answer schema before it leaves (else `bad_answer`, also emitted as an `error` event). The
   * contract is announced once the name is held, and again after every reconnect. Resolves once
   * announced, with a function that removes the method handlers.
   */
  serve<M extends svc.MethodSpecs>(contract: svc.ServiceContract<M>, name: string, implementation: svc.ServiceImplementation<M>, options: svc.ServeOptions = {}): Promise<() => void> {
    return svc.serve(this.#services, contract, name, implementation, options);
  }

  /** A typed stub for the service `name`: its methods send requests and reject with `bad_answer` for an answer the schema refuses. */
  service<M extends svc.MethodSpecs>(contract: svc.ServiceContract<M>, name: string): svc.ServiceStub<M> {
    return svc.stub(this.#services, contract, name);
  }

  /** The announced services this identity may send to (or only `name`): contracts, members and stats. */
  services(name?: string): Promise<ServiceInfo[]> {
    return svc.services(this.#services, name);
  }

  // ---- names -----------------------------------------------------------------------------------

  /**
   * Register another name; resolves once the broker holds it for this client. A refusal rejects the call,
   * even before ready, and the name is not kept; once held, it is registered again after every reconnect.
   * `shared`: join the name's responder pool; `durable`: keep a mailbox while the client is away. A name
   * already held with other options rejects with `invalid_argument`.
   */
  register(name: string, options: NameOptions = {}): Promise<void> {
    return this.#names.register(name, options, callSite(this.register));
  }

  /** Release a name (every name when none is given); it is not registered again after a reconnect. */
  unregister(name?: string): Promise<void> {
    return this.#names.unregister(name);
  }

  /**
   * Close for good: every pending operation rejects with `closed`. Resolves once the socket is closed.
   * Durable names keep their mailbox (the broker sees a disconnect): `unregister()` them first to end it.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown('closed', 'the client was closed with operations pending');
    return this.#closing;
  }

  /** A promise for the next time the client becomes ready (not at once); rejects when it closes. */
  #nextReady(): Promise<void> {
    if (this.#status === 'closed') return Promise.reject(new SwitchboardError('closed', 'the client is closed'));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Ready, and the socket still open: between a socket starting to close and its close event the status
   * is still `ready`, and an operation sent then would be lost without being in flight; it waits instead.
   */
  #writable(): boolean {
    return this.#status === 'ready' && this.#conn !== undefined && this.#conn.isOpen;
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

  /** Open: authenticate (with a token), register every name, subscribe every topic, then ready. */
  #onOpen(conn: Connection): void {
    const token = this.options.token;
    (token === undefined ? Promise.resolve(undefined) : this.#authenticate(conn, token))
      .then((identity) => {
        this.#identity = identity;
        return this.#names.restore(conn);
      })
      // A subscription needs a name [SB-4.6-1]; one the broker refuses is dropped and reported.
      .then(() => this.#subscriptions.restore(conn))
      .then(
        () => {
          if (conn !== this.#conn || this.#status === 'closed') return;
          clearTimeout(this.#timer);
          this.#timer = undefined;
          this.#failures = 0;
          this.#beenReady = true;
          this.#setStatus('ready');
          this.emit('ready', { url: conn.url, names: this.names, ...(this.#identity === undefined ? {} : { identity: this.#identity }) });
          for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
          this.#outbox.pump();
        },
        (error: SwitchboardError) => {
          if (conn !== this.#conn) return;
          this.emit('error', error);
          void conn.close(1000, `refused: ${error.code}`, error);
        },
      );
  }


  /**
   * False for a message that waited in a mailbox and came before: a broker that keeps its mailboxes in
   * Redis or on disk may deliver one again after a crash ([SB-6.3-4]). The last MAX_MAILBOX_IDS ids count.
   */
  #firstTime(id: string): boolean {
    if (this.#mailboxIds.has(id)) return false;
    this.#mailboxIds.add(id);
    if (this.#mailboxIds.size > MAX_MAILBOX_IDS) this.#mailboxIds.delete(this.#mailboxIds.values().next().value as string);
    return true;
  }
  #onFrame(conn: Connection, frame: ReadFrame): void {
    if (conn !== this.#conn) return;
    switch (frame.action) {
      case 'registered':
        this.#replies.confirm('register', frame.id, frame.ref);
        this.emit('registered', frame.id);
        return;
      case 'unregistered':
        this.#replies.confirm('unregister', frame.id, frame.ref);
        this.emit('unregistered', frame.id);
        return;
      case 'subscribed':
        this.#replies.confirm('subscribe', frame.topic, frame.ref);
        return;
      case 'unsubscribed':
        this.#replies.confirm('unsubscribe', frame.topic, frame.ref);
        return;
      case 'announced':
        this.#replies.confirm('announce', frame.id, frame.ref);
        return;
      case 'services':
        this.#replies.confirm('services', '', frame.ref, frame);
        return;
      case 'message':
        if (frame.mailbox !== undefined && !this.#firstTime(frame.mailbox)) return;
        return this.#responder.receive(frame, (text) => conn === this.#conn && conn.send(text));
      case 'answer':
        return this.#outbox.answer(frame);
      case 'gathered':
        return this.#outbox.gathered(frame);
      case 'sent':
        return this.#outbox.sent(frame);
      case 'published':
        return this.#outbox.published(frame);
      case 'authenticated':
        this.#authReply?.resolve(frame.identity);
        this.#authReply = undefined;
        return;
      case 'cancel':
        return this.#responder.cancel(frame.ack, frame.reason);
      case 'progress':
        return this.#outbox.progress(frame);
      case 'pull':
        return this.#responder.pull(frame.ack, frame.n);
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
    if (this.#outbox.error(frame, details)) return;
    // The outcome of an operation the client already ended (its own timer, its signal): nothing to tell.
    if ((OUTCOME_CODES as readonly string[]).includes(frame.code) && frame.ack !== undefined) return;
    const error = new SwitchboardError(frame.code, frame.message, details);
    // The refusal of a control frame, by the ref the broker echoes [SB-4.0-5].
    if (frame.ack === undefined && frame.ref !== undefined && this.#replies.refuse(error, frame.id, frame.ref)) return;
    if (frame.ack === undefined && frame.ref === undefined) {
      // Errors without ack or ref answer the `auth` [SB-4.5-2], or a control frame ([SB-4.1-2], [SB-4.2-3], [SB-4.6-1]).
      const auth = this.#authReply;
      this.#authReply = undefined;
      if (auth !== undefined) return auth.reject(error);
      if (this.#replies.refuse(error, frame.id)) return;
    }
    // What belongs to no call: `expired` [SB-6.3-2], the refusal of a send without report, ...
    this.emit('error', error);
  }

  #onClose(conn: Connection, info: CloseInfo): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wasReady = this.#status === 'ready';
    const lost = new SwitchboardError('disconnected', `the connection to ${conn.url} closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`);
    this.#responder.abortAll('disconnected');
    this.#replies.failAll(lost);
    this.#authReply?.reject(lost);
    this.#authReply = undefined;
    this.#identity = undefined;
    this.#outbox.ops.failInFlight(
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
    // Refusals retrying cannot change (the file's opening says which, and why a taken name is retried once ready).
    const error = info.error;
    if (error !== undefined && (ALWAYS_FINAL.has(error.code) || (!this.#beenReady && (info.final || TAKEN.has(error.code))))) {
      this.#closing ??= this.#shutdown(error.code, error.message, error);
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
    this.#outbox.ops.failAll(code, message, cause);
    this.#replies.failAll(error);
    this.#names.close(error);
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
