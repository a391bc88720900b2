/**
 * Everything the client sends that carries a message, and the broker's replies to it: requests and
 * gathers (protocol.md 6, 6.2), sends (4.3), publishes (4.7) and broadcasts (4.8). An operation goes out
 * at once when the client is ready and an in-flight slot is free, else waits in the bounded queue (in
 * order) until it is; the replies (`answer`, `gathered`, `sent`, `published`, `error`) settle it by its
 * correlation id. The connection itself belongs to the Client, which says when it may be written.
 */
import type { AnswerOutFrame, ErrorFrame, GatheredFrame, ProgressOutFrame, PublishedFrame, SentFrame, Trace } from '../protocol/wire.js';
import type { Connection } from './connection.js';
import { Failure, settle, type SwitchboardErrorDetails } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { prepare, reportFrame, requestFrame, type FrameFields, type MessageAction } from './outgoing.js';
import { PendingOperations, type GatherResult, type Operation, type OperationKind } from './requests.js';
import type { AnswerStream } from './stream.js';
import { startOutgoing, type OutgoingSpan } from './trace.js';

const isFailure = (value: unknown): value is Failure => value instanceof Failure;

/** One call's operation, before it is checked. */
export interface Submission {
  kind: OperationKind;
  action: MessageAction;
  /** Names (`send`), topics (`publish`), nothing (`broadcast`). */
  target: string | readonly string[] | undefined;
  message: unknown;
  timeout: number;
  signal: AbortSignal | undefined;
  /** send, publish, broadcast: wait for the broker's report. */
  report: boolean;
  fields: FrameFields;
  /** A streaming request: where its parts go (stream.ts). */
  stream?: AnswerStream<unknown, unknown>;
}

/** A request or gather to names or topics (`{ topic }`), as a Submission. */
export function asked(
  kind: 'request' | 'gather',
  dest: string | string[] | { topic: string | string[] },
  message: unknown,
  options: { timeout?: number; signal?: AbortSignal; event?: string; retry?: boolean; trace?: Trace },
  defaultTimeout: number,
): Submission {
  const topics = typeof dest === 'object' && dest !== null && !Array.isArray(dest) ? (dest as { topic: unknown }).topic : undefined;
  return {
    kind,
    action: topics === undefined ? 'send' : 'publish',
    target: (topics ?? dest) as string | string[],
    message,
    timeout: options.timeout ?? defaultTimeout,
    signal: options.signal,
    report: true,
    fields: { event: options.event, gather: kind === 'gather', retry: options.retry, trace: options.trace },
  };
}

/** A send, publish or broadcast, as a Submission. */
export function told(
  kind: 'send' | 'publish' | 'broadcast',
  target: string | string[] | undefined,
  message: unknown,
  options: { timeout?: number; signal?: AbortSignal; report?: boolean; event?: string; trace?: Trace },
  defaultTimeout: number,
): Submission {
  const timeout = options.timeout ?? defaultTimeout;
  return { kind, action: kind, target, message, timeout, signal: options.signal, report: options.report ?? true, fields: { event: options.event, trace: options.trace } };
}

export interface OutboxLink {
  /** True once the client is closed for good. */
  closed(): boolean;
  /** The connection to write on when the client is ready and the socket open, else undefined. */
  writable(): Connection | undefined;
}

export class Outbox {
  readonly ops: PendingOperations;
  readonly #options: ResolvedOptions;
  readonly #link: OutboxLink;

  constructor(options: ResolvedOptions, link: OutboxLink) {
    this.#options = options;
    this.#link = link;
    this.ops = new PendingOperations(
      options.maxQueue,
      options.maxInFlight,
      () => this.pump(),
      (op) => {
        // [SB-6.1-1] An aborted request is cancelled at the broker too, which ends it with `cancelled` and
        // tells its receivers [SB-6.1-2]. A report has nothing to cancel.
        if (op.isRequest && op.id !== undefined) link.writable()?.send(`{"action":"cancel","ack":"${op.id}"}`);
      },
    );
  }

  /**
   * Check `s`, then send it now, or queue it until the client is ready and a slot is free. Resolves with
   * the outcome, or rejects with the caller's SwitchboardError (errors.ts: `settle`).
   */
  submit<T>(s: Submission): Promise<T> {
    return settle(this.#start<T>(s));
  }

  #start<T>(s: Submission): Promise<T | Failure> | Failure {
    // [SB-15-3] A span for the operation when the program traces, unless the caller brought its own trace.
    const span = s.fields.trace === undefined ? startOutgoing(s, isFailure) : undefined;
    if (span === undefined) return this.#begin<T>(s, undefined);
    const begun = this.#begin<T>({ ...s, fields: { ...s.fields, trace: span.trace } }, span);
    if (begun instanceof Failure) span.end(begun, undefined);
    return begun;
  }

  #begin<T>(s: Submission, span: OutgoingSpan | undefined): Promise<T | Failure> | Failure {
    const { kind, target: dest } = s;
    if (this.#link.closed()) return new Failure('closed', `${kind} on a closed client`, { dest });
    const prepared = prepare(s.action, dest, s.message, s.timeout, this.#options.maxMessageBytes, s.fields);
    if (!prepared.ok) return new Failure(prepared.code, prepared.message, { dest });
    if (s.signal?.aborted) return new Failure('aborted', `${kind} aborted before it started`, { dest, cause: s.signal.reason });

    const now = Date.now();
    const op = this.ops.create<T>({ kind, dest, head: prepared.head, report: s.report, deadline: now + s.timeout });
    if (s.signal !== undefined) op.watch(s.signal);
    if (s.stream !== undefined) this.#attach(op as unknown as Operation, s.stream);
    if (span !== undefined) void op.outcome.then((outcome) => span.end(outcome, op.id)); // it never rejects
    const generic = op as unknown as Operation;
    const conn = this.#link.writable();
    if (conn !== undefined && this.ops.queue.size === 0 && this.#hasSlot(generic)) {
      this.#transmit(generic, conn, now);
    } else if (!this.ops.queue.push(generic)) {
      op.fail('queue_full', `the client is not ready and ${this.ops.queue.capacity} operations already wait (maxQueue)`);
    } else {
      op.arm(s.timeout);
    }
    return op.outcome;
  }

  /** Send the queue's head operations while the client is ready and in-flight slots are free. */
  pump(): void {
    for (;;) {
      const conn = this.#link.writable();
      if (conn === undefined) return;
      const op = this.ops.queue.peek();
      if (op === undefined || !this.#hasSlot(op)) return;
      this.ops.queue.shift();
      this.#transmit(op, conn, Date.now());
    }
  }

  // ---- replies ---------------------------------------------------------------------------------

  /** [SB-13-2] A part of a streaming request's answer. */
  progress(frame: ProgressOutFrame): void {
    const op = this.ops.get(frame.ack);
    if (op?.kind === 'request') op.stream?.part(frame.from, frame.message ?? null);
  }

  /** Connect a streaming request's parts, credit and cancellation to its operation. */
  #attach(op: Operation, stream: AnswerStream<unknown, unknown>): void {
    op.stream = stream;
    stream.attach({
      pull: (n) => {
        // [SB-13-3] Credit only for the request in flight on this connection; a new one starts with a full window.
        if (op.state === 'inflight' && op.id !== undefined) this.#link.writable()?.send(`{"action":"pull","ack":"${op.id}","n":${n}}`);
      },
      cancel: () => op.fail('aborted', 'the stream was left before its end'),
    });
  }

  /** [SB-6-7] The first answer of a request. */
  answer(frame: AnswerOutFrame): void {
    const op = this.ops.get(frame.ack);
    if (op === undefined || op.kind !== 'request') return; // late: the client's own timer ended it
    if (frame.error === undefined) {
      op.resolve({ from: frame.from, message: frame.message ?? null });
    } else {
      const { code, message } = frame.error;
      op.fail('responder_error', `${frame.from} answered with error ${code}: ${message}`, { remoteCode: code, remoteMessage: message, from: frame.from });
    }
  }

  /** [SB-6.2-1] The outcome of a gather: one result per destination reached. */
  gathered(frame: GatheredFrame): void {
    const op = this.ops.get(frame.ack);
    if (op?.kind === 'gather') op.resolve(frame.results as GatherResult[]);
  }

  /** [SB-4.3-3] The delivery report of a send. */
  sent(frame: SentFrame): void {
    const op = this.ops.get(frame.ref);
    if (op?.kind !== 'send') return;
    const { delivered, unknown, queued } = frame;
    op.resolve(queued === undefined ? { delivered, unknown } : { delivered, unknown, queued });
  }

  /** [SB-4.7-1] [SB-4.8-1] The receiver count of a publish or broadcast. (A publish request's comes with its ack: the outcome follows.) */
  published(frame: PublishedFrame): void {
    if (frame.ref === undefined) return;
    const op = this.ops.get(frame.ref);
    if (op?.kind === 'publish' || op?.kind === 'broadcast') op.resolve(frame.receivers);
  }

  /** An error frame about an operation in flight (by its ack, else its ref): it fails. False when there is none. */
  error(frame: ErrorFrame, details: SwitchboardErrorDetails): boolean {
    const op = (frame.ack === undefined ? undefined : this.ops.get(frame.ack)) ?? (frame.ref === undefined ? undefined : this.ops.get(frame.ref));
    if (op === undefined) return false;
    op.fail(frame.code, frame.message, details);
    return true;
  }

  // ---- sending ---------------------------------------------------------------------------------

  #hasSlot(op: Operation): boolean {
    return !op.report || this.ops.inFlight < this.ops.maxInFlight;
  }

  /** Send `op` at `now`: one clock reading per call, so a request sent at once asks for its whole timeout. */
  #transmit(op: Operation, conn: Connection, now: number): void {
    const remaining = op.deadline - now;
    if (remaining < 1) {
      op.fail('timeout', `${op.kind} reached its deadline before it could be sent`);
      return;
    }
    if (!op.report) {
      conn.send(`${op.head}}`);
      op.resolve(undefined);
      return;
    }
    const id = this.ops.nextId();
    const frame = op.isRequest ? requestFrame(op.head, id, remaining) : reportFrame(op.head, id);
    this.ops.track(op, id);
    // The broker enforces a request's deadline [SB-6-8]; the client's own timer is a backstop a little later.
    const grace = op.isRequest ? this.#options.timeoutGraceMs : 0;
    op.arm(remaining + grace, grace);
    conn.send(frame);
  }
}
