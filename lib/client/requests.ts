/**
 * The pending-operation mux: every operation that waits for the broker (a request, a gather, a
 * reported send, publish or broadcast) is an Operation with its own deadline timer and its AbortSignal.
 * An operation is first queued (waiting for the client to be ready), then in flight under a correlation
 * id (`ack` for a request or gather, `ref` for a report) until the broker's outcome arrives. Whatever
 * ends it (outcome, timer, abort, disconnect, close) settles it exactly once and removes it from where
 * it was, so no map or queue keeps a finished one.
 *
 * The bounds: the queue holds at most `maxQueue` operations, and at most `maxInFlight` are out at once.
 */
import { Failure, type SwitchboardErrorCode, type SwitchboardErrorDetails } from './errors.js';
import { RenewingMap } from '../collections/renewing.js';
import { BoundedQueue } from './queue.js';
import type { AnswerStream } from './stream.js';

/** What a request resolves with: the winning answer and the name by which its responder was reached. */
export interface RequestResult<T = unknown> {
  from: string;
  message: T;
}

/**
 * One destination's part of a gather's outcome (protocol.md 5.10): its answer, its error answer, or
 * `timeout` (no answer by the deadline) or `responder_gone` (it left before answering).
 */
export type GatherResult<T = unknown> =
  | { from: string; message: T }
  | { from: string; error: { code: string; message: string } }
  | { from: string; code: 'timeout' | 'responder_gone' };

/** What a reported send resolves with (the broker's `sent` frame, protocol.md 5.6). */
export interface SendReport {
  /** Destinations that were registered and got the message. */
  delivered: string[];
  /** Destinations that were not registered: nobody got the message under these names. */
  unknown: string[];
  /** Offline durable names whose mailbox holds the message (protocol.md 6.3); absent when none. */
  queued?: string[];
}

/**
 * `request` and `gather` are correlated by `ack` and end in an outcome (`answer`, `gathered` or an
 * error); `send`, `publish` and `broadcast` by `ref` when they ask for a report (`sent`, `published`).
 */
export type OperationKind = 'request' | 'gather' | 'send' | 'publish' | 'broadcast';
type State = 'queued' | 'inflight' | 'done';

export interface OperationInit {
  kind: OperationKind;
  /** The destination names or topics, for errors (none for a broadcast). */
  dest: string | readonly string[] | undefined;
  /** The frame without its correlation fields and closing brace (outgoing.ts), built once at the call. */
  head: string;
  /** send, publish, broadcast: wait for the broker's report. (Requests and gathers always wait.) */
  report: boolean;
  /** The whole operation's deadline, Date.now() based. */
  deadline: number;
}

export class Operation<T = unknown> {
  readonly kind: OperationKind;
  readonly dest: string | readonly string[] | undefined;
  /**
   * The frame's head until the frame is written, then '': an answer may take long, and a head kept that
   * long (it holds the serialised message) survives garbage collections for nothing.
   */
  #head: string;
  /** True when it waits for the broker's reply (always for a request or gather): it takes an in-flight slot. */
  readonly report: boolean;
  readonly deadline: number;
  /** A streaming request's parts go here ([SB-13-2]). */
  stream: AnswerStream | undefined = undefined;
  /** Its value, or its Failure (it never rejects): `settle()` makes the caller's error. */
  readonly outcome: Promise<T | Failure>;
  #state: State = 'queued';
  #id: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedMs = 0;
  #graceMs = 0;
  #unwatch: (() => void) | undefined;
  // Typed loosely so that an Operation<T> fits where an Operation<unknown> is kept; resolve() is typed.
  #settle!: (value: unknown) => void;
  readonly #owner: Owner | undefined;

  /** `owner` is told when the operation ends (to forget it) and when an in-flight one is aborted. */
  constructor(init: OperationInit, owner?: Owner) {
    this.kind = init.kind;
    this.dest = init.dest;
    this.#head = init.head;
    this.report = init.report || init.kind === 'request' || init.kind === 'gather';
    this.deadline = init.deadline;
    this.#owner = owner;
    this.outcome = new Promise<T | Failure>((resolve) => {
      this.#settle = resolve as (value: unknown) => void;
    });
  }

  /** Correlated by `ack` (a request at the broker, which `cancel` ends), else by `ref` when it reports. */
  get isRequest(): boolean {
    return this.kind === 'request' || this.kind === 'gather';
  }

  get state(): State {
    return this.#state;
  }

  /** The correlation id while in flight. */
  get id(): string | undefined {
    return this.#id;
  }

  /**
   * (Re)arm the deadline timer: when it fires, after `ms` (of which `graceMs` past the broker's own
   * deadline), the operation fails with `timeout`. The message is written then, not now.
   */
  arm(ms: number, graceMs = 0): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedMs = ms;
    this.#graceMs = graceMs;
    this.#timer = setTimeout(expire, Math.max(0, ms), this);
  }

  /** The timer fired. */
  expired(): void {
    const ms = this.#armedMs;
    if (this.#state === 'queued') this.fail('timeout', `${this.kind} timed out after ${ms} ms while waiting for the connection`);
    else if (this.isRequest) this.fail('timeout', `no outcome from the broker within ${ms - this.#graceMs} ms (+${this.#graceMs} ms grace)`);
    else this.fail('timeout', `no report from the broker within ${ms} ms`);
  }

  /** Fail with `aborted` when `signal` fires. */
  watch(signal: AbortSignal): void {
    const onAbort = () => this.fail('aborted', `${this.kind} aborted by its signal`, { cause: signal.reason });
    signal.addEventListener('abort', onAbort, { once: true });
    this.#unwatch = () => signal.removeEventListener('abort', onAbort);
  }

  get head(): string {
    return this.#head;
  }

  /** Called by the mux when the operation goes out under `id`, its frame built: the head is let go. */
  sent(id: string): void {
    this.#state = 'inflight';
    this.#id = id;
    this.#head = '';
  }

  resolve(value: T): void {
    if (this.#finish()) this.#settle(value);
  }

  fail(code: SwitchboardErrorCode, message: string, details: SwitchboardErrorDetails = {}): void {
    if (this.#state === 'inflight' && code === 'aborted') this.#owner?.aborted(this);
    if (this.#finish()) {
      this.#settle(new Failure(code, message, { dest: this.dest, ...details }));
    }
  }

  #finish(): boolean {
    if (this.#state === 'done') return false;
    this.#owner?.release(this);
    this.#state = 'done';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#unwatch?.();
    return true;
  }
}

function expire(op: Operation<unknown>): void {
  op.expired();
}

/** What an Operation tells the mux it belongs to. */
interface Owner {
  /** It ended: remove it from the queue or the in-flight map. */
  release(op: Operation<unknown>): void;
  /** It was aborted while in flight. */
  aborted(op: Operation<unknown>): void;
}

/** Queued and in-flight operations of one client. */
export class PendingOperations implements Owner {
  readonly queue: BoundedQueue<Operation<unknown>>;
  readonly maxInFlight: number;
  readonly #inflight = new RenewingMap<string, Operation<unknown>>(); // collections/renewing.ts
  #counter = 0;

  readonly #onSlotFreed: () => void;
  readonly #onAbort: (op: Operation<unknown>) => void;

  /**
   * `onSlotFreed` runs (on a microtask) after an in-flight operation ends, so the queue can move on;
   * `onAbort` runs when an in-flight operation is aborted by its signal, so the broker can be told.
   */
  constructor(maxQueue: number, maxInFlight: number, onSlotFreed: () => void = () => {}, onAbort: (op: Operation<unknown>) => void = () => {}) {
    this.queue = new BoundedQueue(maxQueue);
    this.maxInFlight = maxInFlight;
    this.#onSlotFreed = onSlotFreed;
    this.#onAbort = onAbort;
  }

  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Create an operation bound to this mux: settling it removes it from the queue or the map. */
  create<T>(init: OperationInit): Operation<T> {
    return new Operation<T>(init, this);
  }

  /** A fresh correlation id. Ids are scoped to the connection [SB-6-1], so a counter suffices. */
  nextId(): string {
    this.#counter += 1;
    return this.#counter.toString(36);
  }

  /** Record `op` as in flight under `id` (it must have left the queue). */
  track(op: Operation<unknown>, id: string): void {
    op.sent(id);
    this.#inflight.set(id, op);
  }

  /** The in-flight operation with correlation id `id`, if any; it stays tracked until settled. */
  get(id: string): Operation<unknown> | undefined {
    return this.#inflight.get(id);
  }

  /** Fail every in-flight operation (the connection dropped: they may have been delivered). */
  failInFlight(code: SwitchboardErrorCode, message: string, cause?: unknown): void {
    for (const op of [...this.#inflight.values()]) op.fail(code, message, cause === undefined ? {} : { cause });
  }

  /** Fail everything, queued and in flight (the client closes). */
  failAll(code: SwitchboardErrorCode, message: string, cause?: unknown): void {
    this.failInFlight(code, message, cause);
    for (const op of this.queue.drain()) op.fail(code, message, cause === undefined ? {} : { cause });
  }

  release(op: Operation<unknown>): void {
    if (op.state === 'inflight' && op.id !== undefined) {
      this.#inflight.delete(op.id);
      if (this.queue.size > 0) queueMicrotask(this.#onSlotFreed);
    } else this.queue.delete(op);
  }

  aborted(op: Operation<unknown>): void {
    this.#onAbort(op);
  }
}
