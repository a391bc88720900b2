/**
 * The client's public types that are not classes: its status, its events, the destinations and the
 * options of a call.
 */
import type { SwitchboardError } from './errors.js';
import type { Trace } from '../protocol/wire.js';
import type { MessageContext } from './responder.js';

export type ClientStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface ClientEvents {
  [event: string]: unknown[];
  /** Every change of `client.status`. */
  status: [status: ClientStatus];
  /** A connection attempt starts (`attempt` counts consecutive attempts, from 1). */
  connecting: [info: { url: string; attempt: number }];
  /** Connected and every name registered: queued operations go out now. */
  ready: [info: { url: string; names: string[]; identity?: string }];
  /** The connection dropped or an attempt failed; the next attempt starts after `delayMs`. */
  reconnecting: [info: { url: string; attempt: number; delayMs: number; code?: number; reason?: string; error?: SwitchboardError }];
  /**
   * The client is closed for good: `close()` was called (no error), or it gave up on a refusal retrying
   * cannot change: `unreachable`, `protocol_error`, `unauthorized`, `forbidden`, `limit_exceeded`,
   * `name_taken` or `name_conflict` (a configured name held by another client before the first ready,
   * or taken over by its own identity).
   */
  closed: [info: { error?: SwitchboardError }];
  /** A message for one of this client's names; `ctx.answer()` answers a request. */
  message: [message: unknown, ctx: MessageContext];
  /** The broker confirmed a name (also after every reconnect). */
  registered: [name: string];
  /** The broker released a name at this client's request. */
  unregistered: [name: string];
  /** A problem that belongs to no call: a name taken, an unreadable frame, a late answer, a handler error. */
  error: [error: SwitchboardError];
}

/**
 * Where a request or gather goes: a name, several names, or the current subscribers of one or several
 * topics (`{ topic: 'jobs' }`). Names and topics share characters (`news.uk` is both), hence the object.
 */
export type Destination = string | string[] | { topic: string | string[] };

export interface RequestOptions {
  /** Deadline in milliseconds, from the call (time in the queue counts). Default: `requestTimeoutMs`. */
  timeout?: number;
  /**
   * Abort the request: it rejects with `aborted`. One already sent is cancelled at the broker, which
   * tells its receivers (their `ctx.signal` aborts); it may still have been processed.
   */
  signal?: AbortSignal;
  /** An event name delivered with the message (`ctx.event`; the receiver's handler for it). Default: none. */
  event?: string;
  /**
   * Safe to process twice: when the pool member it went to leaves before answering, the broker moves it
   * to another member (protocol.md 6.4). Names only. Default: false (that destination is `responder_gone`).
   */
  retry?: boolean;
  /**
   * W3C trace context to send with the request (protocol.md section 15), for code that does its own
   * tracing: no span is started for it. Default: the context of the span the client starts when
   * `@opentelemetry/api` and a tracer provider are present, else none.
   */
  trace?: Trace;
}

/** A gather takes the options of a request; its deadline ends it with the missing results `timeout`. */
export type GatherOptions = RequestOptions;

export interface SendOptions {
  /** Deadline in milliseconds, from the call, to go out and (with `report`) be reported. Default: `sendTimeoutMs`. */
  timeout?: number;
  /** Abort the send while it waits in the queue or for its report: it rejects with `aborted`. */
  signal?: AbortSignal;
  /** Ask the broker which destinations got it (`ref`), and resolve with that report. Default: true. */
  report?: boolean;
  /** An event name delivered with the message (`ctx.event`; the receiver's handler for it). Default: none. */
  event?: string;
  /** W3C trace context to send with the message, as for `request()`. */
  trace?: Trace;
}

/** Options of `publish()` and `broadcast()`: with `report` (the default) they resolve with the receiver count. */
export type PublishOptions = SendOptions;

export interface HandleOptions {
  /** Handle only the messages sent with this event name (not published ones). Default: every message no other handler takes. */
  event?: string;
}
