/**
 * The client's errors: one class, `SwitchboardError`, whose `code` is either a broker code (protocol.md
 * section 7, e.g. `no_responders`, `timeout`) or one of the client codes below. Callers match on `code`,
 * never on the message. The README's error table is checked against `CLIENT_ERROR_CODES` by a test.
 *
 * An operation's error is rejected long after the call returned (an answer, a timer, a dropped socket),
 * so the stack trace of the moment of rejection points at the client's internals. Each operation
 * therefore captures an `Error` at its call site, and the error it rejects with takes that stack, so the
 * trace shows the user's line that made the request.
 */
import type { ErrorCode } from '../protocol/index.js';

/** Codes the client itself produces, each with its one-sentence meaning. */
export const CLIENT_ERROR_CODES = {
  disconnected:
    'The connection dropped while the operation was in flight: it may have been delivered, so it is never retried.',
  closed: 'The client was closed (client.close()) before the operation completed.',
  aborted: "The caller's AbortSignal fired before the operation completed.",
  queue_full: 'The client was not ready and its queue already held maxQueue operations.',
  responder_error: 'The responder answered with an error; remoteCode and remoteMessage hold what it said.',
  handler_error: 'A handler threw for a message that had no ack, so there was nobody to answer (emitted as an "error" event).',
  invalid_argument: 'A name is not valid by the name grammar, an option is wrong, or a message cannot be serialised as JSON.',
  unreachable: 'The client gave up connecting: reconnect is off, or reconnect.maxAttempts was reached.',
  protocol_error: 'The server did not select the switchboard.v1 subprotocol, or sent a frame the client cannot read.',
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
