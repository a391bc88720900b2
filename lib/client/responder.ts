/**
 * The receiving side: what a handler sees (`MessageContext`), which handler a message goes to, and how
 * its result becomes an `answer` frame (protocol.md 4.4). A published message (it has a `context`,
 * [SB-4.7-2]) goes to the handler of the subscription that matched; any other message to the handler of
 * its event name when there is one, else to the catch-all handler. A request may be answered once; the
 * answer goes out only on the connection that delivered the request, because a delivery id dies with its
 * connection ([SB-6-4], [SB-4.2-4]): an answer for a request received before a reconnect is dropped,
 * never queued. A request the broker cancels ([SB-6.1-2]) aborts the context's signal, and is not answered.
 */
import { isName, type Trace } from '../protocol/wire.js';
import { RenewingMap } from '../collections/renewing.js';
import { SwitchboardError } from './errors.js';
import { startIncoming, type IncomingSpan } from './trace.js';

/** Who sent a message, and the means to answer it. */
export interface MessageContext {
  /** The primary name of the sender. (The name it was addressed to is not on the wire.) */
  readonly from: string;
  /** For a published message: the topic it was published to (the first of its topics that matched). */
  readonly topic: string | undefined;
  /** For a published message: the subscription that matched, the most specific one [SB-4.7-2]. */
  readonly context: string | undefined;
  /** The event name the sender gave, if any. */
  readonly event: string | undefined;
  /** The delivery id when the message is a request, undefined otherwise. */
  readonly ack: string | undefined;
  /** The W3C trace context the sender gave (protocol.md section 15), if any. */
  readonly trace: Trace | undefined;
  /** True when the sender waits for an answer. */
  readonly isRequest: boolean;
  /** True once an answer (value or error) has been given. */
  readonly answered: boolean;
  /**
   * Aborts when nobody will read the answer any more: the broker sent `cancel` (the sender cancelled,
   * another receiver won, the deadline passed, the sender left; the reason is `signal.reason`), or the
   * connection that delivered the request dropped (`'disconnected'`). Never aborts for a message without ack.
   */
  readonly signal: AbortSignal;
  /** Answer with a value. False when this is not a request, it was already answered, or its connection is gone. */
  answer(value?: unknown): boolean;
  /** Answer with an error: a code of your choosing (1 to 64 characters) and a message. Same result as `answer`. */
  fail(code: string, message: string): boolean;
  /** True when the sender accepts progressive results (`client.stream()`, protocol.md section 13). */
  readonly streaming: boolean;
  /**
   * Send one part of the answer before the answer itself (a streaming request only). Resolves once the
   * part is written: at once while the sender has credit, else when it has taken earlier parts, so
   * `await ctx.progress(part)` in a loop goes at the sender's pace. Rejects with `cancelled` when the
   * request ended (it was cancelled, answered, or its connection dropped), with `invalid_argument` when
   * the request is not a stream or the part is not JSON, with `too_large` over maxMessageBytes.
   */
  progress(value: unknown): Promise<void>;
}

/** A request handler: the value it returns (or resolves) is the answer; what it throws is an error answer. */
export type Handler = (message: unknown, ctx: MessageContext) => unknown;

/** The context of a published message: `topic` and `context` are always set. */
export interface TopicContext extends MessageContext {
  readonly topic: string;
  readonly context: string;
}

/** A subscription's handler: as a Handler, for the messages published to the subscription's topics. */
export type TopicHandler<T = unknown> = (message: T, ctx: TopicContext) => unknown;

/** The fields of a `message` frame (protocol.md 5.3) that the receiving side reads. */
export interface Incoming {
  message: unknown;
  from: string;
  ack?: string | undefined;
  topic?: string | undefined;
  context?: string | undefined;
  event?: string | undefined;
  trace?: Trace | undefined;
  /** A streaming request: the parts the handler may send before the sender pulls more. */
  credit?: number | undefined;
}

const MAX_ERROR_MESSAGE = 1024;
/** Parts a handler may have waiting for credit at once; more reject with `queue_full`. */
const MAX_WAITING_PARTS = 1024;

interface WaitingPart {
  readonly text: string;
  resolve(): void;
  reject(error: SwitchboardError): void;
}
const ANSWER_CODE = /^[\s\S]{1,64}$/;

/** The `error` of an answer for a thrown value: its string `code` when valid, else `handler_error`. */
export function answerErrorOf(thrown: unknown): { code: string; message: string } {
  const record = typeof thrown === 'object' && thrown !== null ? (thrown as { code?: unknown; message?: unknown }) : {};
  const code = typeof record.code === 'string' && ANSWER_CODE.test(record.code) ? record.code : 'handler_error';
  const message = typeof record.message === 'string' ? record.message : String(thrown);
  return { code, message: message.slice(0, MAX_ERROR_MESSAGE) };
}

const NEVER = new AbortController().signal;

/**
 * The context of one received message: one object per message, its methods on the prototype (a busy
 * responder makes tens of thousands a second; closures per message were a fifth of its time). The
 * AbortController behind `signal` is made only when a handler reads it: most never do. `done` runs once,
 * when a request is answered, so its owner can forget it. Call `answer` and `fail` as methods.
 */
class Context implements MessageContext {
  readonly from: string;
  readonly topic: string | undefined;
  readonly context: string | undefined;
  readonly event: string | undefined;
  readonly ack: string | undefined;
  readonly trace: Trace | undefined;
  /** The span the message is handled in, when the program traces (trace.ts); its answer carries its context. */
  span: IncomingSpan | undefined;
  #answered = false;
  #cancelled = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  /** A streaming request's credit ([SB-13-3]); undefined when the request is no stream. */
  #credit: number | undefined;
  #waiting: WaitingPart[] | undefined;
  readonly #write: (text: string) => boolean;
  readonly #maxBytes: number;
  readonly #done: ((ctx: Context) => void) | undefined;

  constructor(frame: Omit<Incoming, 'message'>, write: (text: string) => boolean, maxBytes: number, done?: (ctx: Context) => void) {
    this.from = frame.from;
    this.topic = frame.topic;
    this.context = frame.context;
    this.event = frame.event;
    this.ack = frame.ack;
    this.trace = frame.trace;
    this.#credit = frame.ack === undefined ? undefined : frame.credit;
    this.#write = write;
    this.#maxBytes = maxBytes;
    this.#done = done;
  }

  get isRequest(): boolean {
    return this.ack !== undefined;
  }

  get answered(): boolean {
    return this.#answered;
  }

  get signal(): AbortSignal {
    if (this.ack === undefined) return NEVER;
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Nobody will read the answer any more [SB-6.1-2]: abort the signal, refuse answers. */
  cancel(reason: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#dropWaiting(`the request was cancelled (${String(reason)})`);
    this.span?.end();
  }

  get streaming(): boolean {
    return this.#credit !== undefined;
  }

  progress(value: unknown): Promise<void> {
    if (this.#credit === undefined) {
      return Promise.reject(new SwitchboardError('invalid_argument', 'this message accepts no progressive results: its sender did not ask for a stream'));
    }
    if (!this.#open()) return Promise.reject(new SwitchboardError('cancelled', 'the request has ended: nobody reads its parts'));
    let text: string;
    try {
      text = JSON.stringify({ action: 'progress', ack: this.ack, message: value === undefined ? null : value, trace: this.#answerTrace() });
    } catch (error) {
      return Promise.reject(new SwitchboardError('invalid_argument', `the part cannot be serialised as JSON: ${(error as Error).message}`));
    }
    if (exceedsBytes(text, this.#maxBytes)) return Promise.reject(new SwitchboardError('too_large', `the part exceeds ${this.#maxBytes} bytes`));
    if (this.#credit > 0 && (this.#waiting === undefined || this.#waiting.length === 0)) {
      this.#credit--;
      this.#write(text); // [SB-13-2]
      return Promise.resolve();
    }
    const waiting = (this.#waiting ??= []);
    if (waiting.length >= MAX_WAITING_PARTS) {
      return Promise.reject(new SwitchboardError('queue_full', `${MAX_WAITING_PARTS} parts already wait for the sender to take earlier ones`));
    }
    return new Promise<void>((resolve, reject) => waiting.push({ text, resolve, reject }));
  }

  /** The sender took `n` more parts ([SB-13-3]): send what waits, as far as the credit goes. */
  grant(n: number): void {
    if (this.#credit === undefined || !this.#open()) return;
    this.#credit += n;
    const waiting = this.#waiting;
    while (waiting !== undefined && waiting.length > 0 && this.#credit > 0) {
      const part = waiting.shift() as WaitingPart;
      this.#credit--;
      this.#write(part.text);
      part.resolve();
    }
  }

  #dropWaiting(why: string): void {
    const waiting = this.#waiting;
    if (waiting === undefined || waiting.length === 0) return;
    this.#waiting = undefined;
    for (const part of waiting) part.reject(new SwitchboardError('cancelled', why));
  }

  answer(value?: unknown): boolean {
    if (!this.#open()) return false;
    const trace = this.#answerTrace();
    let text: string;
    try {
      text = JSON.stringify(value === undefined ? { action: 'answer', ack: this.ack, trace } : { action: 'answer', ack: this.ack, message: value, trace });
    } catch (error) {
      return this.fail('handler_error', `the answer cannot be serialised as JSON: ${(error as Error).message}`);
    }
    if (exceedsBytes(text, this.#maxBytes)) return this.fail('answer_too_large', `the answer exceeds ${this.#maxBytes} bytes`);
    return this.#deliver(text);
  }

  fail(code: string, message: string): boolean {
    if (!this.#open()) return false;
    const error = answerErrorOf({ code, message });
    return this.#deliver(JSON.stringify({ action: 'answer', ack: this.ack, error, trace: this.#answerTrace() }), error);
  }

  /**
   * [SB-15-3] The trace an answer carries: the context of the span it was made in, only when the request
   * came with one (a broker that does not list `trace` never passes one on, and would refuse the field).
   * Undefined is left out of the frame.
   */
  #answerTrace(): Trace | undefined {
    return this.trace === undefined ? undefined : this.span?.trace;
  }

  #open(): boolean {
    return this.ack !== undefined && !this.#answered && !this.#cancelled;
  }

  #deliver(text: string, error?: { code: string; message: string }): boolean {
    this.#answered = true;
    this.#dropWaiting('the request was answered: parts after the answer are not sent');
    this.#done?.(this);
    const written = this.#write(text);
    this.span?.end(error);
    return written;
  }
}

/** The context of one received message (see MessageContext); `write` sends its answer. */
export function createContext(frame: Omit<Incoming, 'message'>, write: (text: string) => boolean, maxBytes: number): MessageContext {
  return new Context(frame, write, maxBytes);
}

/**
 * Run `handler` for one message and answer with its outcome: at once when it returns a value, when its
 * promise settles when it returns one. Errors of a handler that cannot answer (no ack) go to `report`,
 * which the client emits as an `error` event.
 */
export function runHandler(
  handler: Handler,
  message: unknown,
  ctx: MessageContext,
  report: (error: SwitchboardError) => void,
): Promise<void> | undefined {
  let result: unknown;
  try {
    result = handler(message, ctx);
  } catch (thrown) {
    failed(thrown, ctx, report);
    return undefined;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') {
    if (ctx.isRequest && !ctx.answered) ctx.answer(result);
    return undefined;
  }
  // Returned so that the span of a message without ack can end when its handler is done (trace.ts).
  return Promise.resolve(result).then(
    (value) => {
      if (ctx.isRequest && !ctx.answered) ctx.answer(value);
    },
    (thrown: unknown) => failed(thrown, ctx, report),
  );
}

function failed(thrown: unknown, ctx: MessageContext, report: (error: SwitchboardError) => void): void {
  if (ctx.isRequest) {
    if (!ctx.answered) {
      const { code, message } = answerErrorOf(thrown);
      ctx.fail(code, message);
    }
    return;
  }
  report(new SwitchboardError('handler_error', `the handler failed for a message from ${ctx.from}: ${answerErrorOf(thrown).message}`, { cause: thrown }));
}

/**
 * True when `text` is longer than `maxBytes` in UTF-8. A UTF-16 unit is 1 to 3 UTF-8 bytes, so the exact
 * (costly) count is needed only between those bounds.
 */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return false;
  if (text.length > maxBytes) return true;
  return new TextEncoder().encode(text).length > maxBytes;
}

/**
 * The receiving side of one client: its handlers, and the contexts of the requests received on the
 * current connection that were not answered by the time their handler returned. Entries leave when
 * the request is answered, cancelled by the broker, or the connection ends, so the map is bounded by the
 * deliveries the broker holds for this client.
 */
export class Responder {
  /** The catch-all handler: messages that no subscription or event handler takes. */
  handler: Handler | undefined;
  /** Handlers by event name, for messages that are not published (event names are names: a Map key). */
  readonly events = new Map<string, Handler>();
  readonly #handling = new RenewingMap<string, Context>(); // collections/renewing.ts
  readonly #forget = (ctx: Context) => this.#handling.delete(ctx.ack!);
  readonly #maxBytes: number;
  readonly #emit: (message: unknown, ctx: MessageContext) => boolean;
  readonly #report: (error: SwitchboardError) => void;
  readonly #subscription: (context: string) => TopicHandler | undefined;

  /**
   * `emit` gives the message to `message` listeners (true when there were some); `report` emits errors;
   * `subscription` finds the handler of a subscription by its topic.
   */
  constructor(
    maxBytes: number,
    emit: (message: unknown, ctx: MessageContext) => boolean,
    report: (error: SwitchboardError) => void,
    subscription: (context: string) => TopicHandler | undefined = () => undefined,
  ) {
    this.#maxBytes = maxBytes;
    this.#emit = emit;
    this.#report = report;
    this.#subscription = subscription;
  }

  /** Set the catch-all handler, or the handler of `event`; returns a function that removes it. */
  use(handler: Handler, event: string | undefined, origin: Error): () => void {
    if (typeof handler !== 'function') throw new SwitchboardError('invalid_argument', 'the handler must be a function', { origin });
    if (event === undefined) {
      this.handler = handler;
      return () => {
        if (this.handler === handler) this.handler = undefined;
      };
    }
    if (typeof event !== 'string' || !isName(event)) {
      throw new SwitchboardError('invalid_argument', `event must be a valid name, not ${JSON.stringify(event)}`, { origin });
    }
    this.events.set(event, handler);
    return () => {
      if (this.events.get(event) === handler) this.events.delete(event);
    };
  }

  /** The handler a message goes to: its subscription's (published), its event's, or the catch-all. */
  handlerFor(frame: Omit<Incoming, 'message'>): Handler | undefined {
    // A message published to a subscription that ended here while it travelled goes to no handler.
    if (frame.context !== undefined) return this.#subscription(frame.context) as Handler | undefined;
    return (frame.event === undefined ? undefined : this.events.get(frame.event)) ?? this.handler;
  }

  /**
   * A `message` frame: listeners and its handler see it; `write` sends the answer on its connection. A
   * request still unanswered when they return (an async handler, a listener that answers later) is kept
   * until it is answered, so that the broker's `cancel` and a dropped connection can reach its signal.
   */
  receive(frame: Incoming, write: (text: string) => boolean): void {
    const ctx = new Context(frame, write, this.#maxBytes, frame.ack === undefined ? undefined : this.#forget);
    const span = startIncoming(frame); // undefined unless the program traces (trace.ts)
    if (span === undefined) {
      this.#handle(frame, ctx);
      return;
    }
    ctx.span = span;
    const handled = span.run(() => this.#handle(frame, ctx));
    // A request's span ends with its answer or cancel; a message's when its handler is done.
    if (frame.ack === undefined) {
      if (handled === undefined) span.end();
      else void handled.then(() => span.end());
    }
  }

  #handle(frame: Incoming, ctx: Context): Promise<void> | undefined {
    let handled: Promise<void> | undefined;
    const listened = this.#emit(frame.message, ctx);
    const handler = this.handlerFor(frame);
    if (handler !== undefined) {
      handled = runHandler(handler, frame.message, ctx, this.#report);
    } else if (!listened && frame.context === undefined) {
      // Nobody will answer: say so now rather than let the sender wait for its deadline. Not for a
      // published request: another subscriber may answer it, and an error answer would win [SB-6-7].
      ctx.fail('no_handler', 'the receiving client has no handler for requests');
    }
    if (frame.ack !== undefined && !ctx.answered) this.#handling.set(frame.ack, ctx);
    return handled;
  }

  /** The broker's `cancel` for a delivery id [SB-6.1-2]: abort its signal. */
  /** [SB-13-3] The broker's `pull`: the sender of a streaming request this client serves took `n` more parts. */
  pull(ack: string, n: number): void {
    this.#handling.get(ack)?.grant(n);
  }

  cancel(ack: string, reason: string): void {
    const ctx = this.#handling.get(ack);
    this.#handling.delete(ack);
    ctx?.cancel(reason);
  }

  /** The connection ended (or the client closed): every request received on it is cancelled. */
  abortAll(reason: string): void {
    for (const ctx of this.#handling.values()) ctx.cancel(reason);
    this.#handling.clear();
  }
}
