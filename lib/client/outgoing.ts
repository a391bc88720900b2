/**
 * The frames that carry a message, as the client writes them: `send` (protocol.md 4.3), `publish` (4.7)
 * and `broadcast` (4.8). An operation's arguments are checked and its frame put together once, at the
 * call, so that a bad argument rejects at once with the caller's stack; only the correlation id and the
 * deadline left are added when it goes out.
 */
import { isName, type Trace } from '../protocol/wire.js';
import { isTrace } from './trace.js';
import type { SwitchboardErrorCode } from './errors.js';
import { exceedsBytes } from './responder.js';
import { isTopic } from './topics.js';

/** Bytes a frame adds around its head (ack or ref, timeout, closing brace). */
const FRAME_OVERHEAD = 96;

export type MessageAction = 'send' | 'publish' | 'broadcast';

/** The optional fields of a message frame. */
export interface FrameFields {
  /** An event name (name grammar), delivered with the message. */
  event?: string | undefined;
  /** With an ack: wait for every destination's answer (section 6.2). */
  gather?: boolean | undefined;
  /** With an ack, `send` only: safe to move to another pool member (section 6.4). */
  retry?: boolean | undefined;
  /** W3C trace context carried with the message (protocol.md section 15). */
  trace?: Trace | undefined;
  /** With an ack, `send` only: accept progressive results (protocol.md section 13). */
  stream?: boolean | undefined;
}

/** `head` is the frame without its correlation fields and closing brace. */
export type Prepared = { ok: true; head: string } | { ok: false; code: SwitchboardErrorCode; message: string };

/**
 * Check the arguments of a send (`target`: names), a publish (`target`: topics) or a broadcast (no
 * target), serialise the message and build the frame's head.
 */
export function prepare(
  action: MessageAction,
  target: unknown,
  message: unknown,
  timeout: unknown,
  maxMessageBytes: number,
  fields: FrameFields = {},
): Prepared {
  let targetJson = '';
  if (action !== 'broadcast') {
    const key = action === 'send' ? 'dest' : 'topic';
    if (!isTargetList(action, target)) {
      return refuse('invalid_argument', `${key} must be a valid ${action === 'send' ? 'name' : 'topic'} or a non-empty array of them, not ${safeJson(target)}`);
    }
    targetJson = `,"${key}":${JSON.stringify(target)}`;
  }
  if (!Number.isInteger(timeout) || (timeout as number) < 1) {
    return refuse('invalid_argument', `timeout must be an integer >= 1, not ${safeJson(timeout)}`);
  }
  const { event, gather, retry } = fields;
  // The schemas are strict [SB-4.0-1]: `publish` has no `retry`, `broadcast` neither `retry` nor `gather`.
  if (retry === true && action !== 'send') return refuse('invalid_argument', 'retry applies to requests to names only');
  if (gather === true && action === 'broadcast') return refuse('invalid_argument', 'a broadcast is never a request');
  if (fields.stream === true && (action !== 'send' || gather === true)) return refuse('invalid_argument', 'a stream is a request to names, never a gather');
  if (event !== undefined && !(typeof event === 'string' && isName(event))) {
    return refuse('invalid_argument', `event must be a valid name (1 to 128 of A-Z a-z 0-9 _ . : @ / ~ -), not ${safeJson(event)}`);
  }
  let bodyJson: string | undefined;
  try {
    bodyJson = JSON.stringify(message === undefined ? null : message);
  } catch (error) {
    return refuse('invalid_argument', `the message cannot be serialised as JSON: ${(error as Error).message}`);
  }
  if (typeof bodyJson !== 'string') return refuse('invalid_argument', 'the message cannot be serialised as JSON');
  let head = `{"action":"${action}"${targetJson},"message":${bodyJson}`;
  if (event !== undefined) head += `,"event":"${event}"`; // the name grammar needs no escaping
  if (gather === true) head += ',"gather":true';
  if (retry === true) head += ',"retry":true';
  if (fields.stream === true) head += ',"stream":true'; // [SB-13-1]
  if (fields.trace !== undefined) {
    if (!isTrace(fields.trace)) return refuse('invalid_argument', `trace must be {traceparent, tracestate?} in W3C format, not ${safeJson(fields.trace)}`);
    head += `,"trace":${JSON.stringify(fields.trace)}`; // [SB-15-1]
  }
  // The broker refuses a frame over its limit with too_large [SB-9-1], and closes the connection (1009)
  // over twice it, failing everything in flight: better to refuse it here, before it leaves.
  if (exceedsBytes(head, maxMessageBytes - FRAME_OVERHEAD)) {
    return refuse('too_large', `the message exceeds maxMessageBytes (${maxMessageBytes})`);
  }
  return { ok: true, head };
}

/** A request's whole frame: its head with the correlation id and the deadline left. */
export function requestFrame(head: string, ack: string, timeout: number): string {
  // Correlation ids are the client's own base-36 counters: safe to splice without escaping.
  return `${head},"ack":"${ack}","timeout":${timeout}}`;
}

/** A reported send, publish or broadcast's whole frame: its head with the correlation id. */
export function reportFrame(head: string, ref: string): string {
  return `${head},"ref":"${ref}"}`;
}

/** A name or topic (by `action`), or a non-empty array of them. */
function isTargetList(action: 'send' | 'publish', target: unknown): boolean {
  const valid = action === 'send' ? isName : isTopic;
  if (typeof target === 'string') return valid(target);
  if (!Array.isArray(target) || target.length === 0) return false;
  for (const each of target) if (typeof each !== 'string' || !valid(each)) return false;
  return true;
}

function refuse(code: SwitchboardErrorCode, message: string): Prepared {
  return { ok: false, code, message };
}

function safeJson(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 100);
  } catch {
    return String(value);
  }
}
