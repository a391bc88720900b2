/**
 * The client's errors: one class, `SwitchboardError`, whose `code` is either a broker code (protocol.md
 * section 7, e.g. `no_responders`, `timeout`) or one of the client codes below. Callers match on `code`,
 * never on the message. The README's error table is checked against `CLIENT_ERROR_CODES` by a test.
 *
 * An operation's error comes long after the call returned (an answer, a timer, a dropped socket), so the
 * stack of the moment it is made would point at the client's internals. Two remedies, by cost:
 * - The operations that carry messages (request, gather, send, publish, broadcast), which a busy client
 *   makes tens of thousands of times a second, end in `settle()`: their error is made there, in an async
 *   function resumed by the outcome, so V8's zero-cost async stack traces (Node, Chromium) list the
 *   caller's `await`s. Nothing is captured at the call: capturing a stack per call was a fifth of a busy
 *   client's CPU. A caller that uses `.then()` instead of `await`, or another engine, sees no caller frame.
 * - The setup calls (register, subscribe, handle) capture their call site (`callSite()`), and their
 *   errors take that stack, whoever awaits them.
 */
import type { ErrorCode } from '../protocol/wire.js';

/** Codes the client itself produces, each with its one-sentence meaning. */
export const CLIENT_ERROR_CODES = {
  disconnected:
    'The connection dropped while the operation was in flight: it may have been delivered, so it is never retried.',
  closed: 'The client was closed (client.close()) before the operation completed.',
  aborted: "The caller's AbortSignal fired before the operation completed.",
  queue_full: 'The client was not ready and its queue already held maxQueue operations.',
  responder_error: 'The responder answered with an error; remoteCode and remoteMessage hold what it said.',
  bad_answer: "A service's answer does not match its method's answer schema (client.service() stubs; lib/client/services.ts).",
  handler_error: 'A handler threw for a message that had no ack, so there was nobody to answer (emitted as an "error" event).',
  invalid_argument: 'A name is not valid by the name grammar, an option is wrong, or a message cannot be serialised as JSON.',
  unreachable:
    'The client gave up connecting: reconnect is off, reconnect.maxAttempts was reached, or the server refused the upgrade with an HTTP status retrying cannot change (404: no broker serves that path).',
  protocol_error:
    'The server did not select the switchboard.v1 subprotocol (not a switchboard broker), or sent a frame the client cannot read.',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** Every code a `SwitchboardError` may carry. */
export type SwitchboardErrorCode = ErrorCode | ClientErrorCode;

export interface SwitchboardErrorDetails {
  /** The error (or abort reason) that caused this one. */
  cause?: unknown;
  /** An `Error` captured at the call site: its stack frames become this error's. */
  origin?: Error;
  /** For `responder_error`: the code the responder chose. */
  remoteCode?: string;
  /** For `responder_error`: the message the responder gave. */
  remoteMessage?: string;
  /** The name that answered (`responder_error`) or the name an error is about (`name_taken`). */
  from?: string;
  /** The destination(s) of the failed operation. */
  dest?: string | readonly string[];
  /** For `limit_exceeded`: the broker limit that was exceeded. */
  limit?: string;
  /** For `bad_frame`: the JSON Pointer of the refused field. */
  path?: string;
}

export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: SwitchboardErrorCode;
  declare readonly remoteCode?: string;
  declare readonly remoteMessage?: string;
  declare readonly from?: string;
  declare readonly dest?: string | readonly string[];
  declare readonly limit?: string;
  declare readonly path?: string;

  constructor(code: SwitchboardErrorCode, message: string, details: SwitchboardErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.remoteCode !== undefined) this.remoteCode = details.remoteCode;
    if (details.remoteMessage !== undefined) this.remoteMessage = details.remoteMessage;
    if (details.from !== undefined) this.from = details.from;
    if (details.dest !== undefined) this.dest = details.dest;
    if (details.limit !== undefined) this.limit = details.limit;
    if (details.path !== undefined) this.path = details.path;
    if (details.origin !== undefined) adoptStack(this, details.origin);
  }
}

/**
 * The failure of an operation, until `settle()` makes it the caller's error. An operation's promise
 * resolves with its value or with a Failure (never rejects), so the error is made where the caller's
 * async stack is known.
 */
export class Failure {
  constructor(
    readonly code: SwitchboardErrorCode,
    readonly message: string,
    readonly details: SwitchboardErrorDetails = {},
  ) {}
}

/**
 * The caller's end of an operation: its value, or its Failure thrown as a SwitchboardError whose stack
 * lists the async functions that await it, without the client's frames.
 */
export async function settle<T>(outcome: Promise<T | Failure> | Failure): Promise<T> {
  const result = await outcome;
  if (!(result instanceof Failure)) return result;
  const error = new SwitchboardError(result.code, result.message, result.details);
  dropOwnFrames(error);
  throw error;
}

/**
 * Drop the frames that are the client's, not the caller's: in V8, the synchronous frames (this function,
 * resumed by whatever ran the microtask) that precede the first awaiting caller ("at async ..."); where
 * there is none (the caller used `.then()`), or in another engine, this function's own frame.
 */
function dropOwnFrames(error: SwitchboardError): void {
  const stack = error.stack;
  if (typeof stack !== 'string') return;
  // V8: a header line ("SwitchboardError: message", the message may span lines), then "    at ..." frames.
  const at = stack.indexOf('\n    at ');
  if (at !== -1) {
    const awaiting = stack.indexOf('\n    at async ', at);
    const from = awaiting !== -1 ? awaiting : stack.indexOf('\n', at + 1);
    error.stack = `${error.name} [${error.code}]: ${error.message}${from === -1 ? '' : stack.slice(from)}`;
    return;
  }
  // Firefox and Safari list frames only, one per line.
  const next = stack.indexOf('\n');
  error.stack = next === -1 ? '' : stack.slice(next + 1);
}

/** Give `error` the stack frames of `origin`, keeping its own header line. */
function adoptStack(error: Error, origin: Error): void {
  const stack = origin.stack;
  if (typeof stack !== 'string') return;
  // V8 starts a stack with the "Error" header line; Firefox and Safari list frames only.
  const frames = /^Error\b/.test(stack) ? stack.slice(stack.indexOf('\n') + 1) : stack;
  error.stack = `${error.name} [${(error as SwitchboardError).code}]: ${error.message}\n${frames}`;
}

/**
 * An Error holding the stack of the caller of `fn`: the origin of an operation's future errors.
 * `Error.captureStackTrace` (V8: Node, Chromium) drops the client's own frames; elsewhere the stack
 * simply starts one frame deeper.
 */
export function callSite(fn: (...args: never[]) => unknown): Error {
  const capture = (Error as { captureStackTrace?: (target: object, fn: unknown) => void }).captureStackTrace;
  if (capture === undefined) return new Error();
  // One capture, not two: `new Error()` would take a stack only for captureStackTrace to take it again.
  const origin = { name: 'Error', message: '' } as Error;
  capture(origin, fn);
  return origin;
}
