/**
 * The `send` frames the client writes (protocol.md 4.3): an operation's arguments checked and its
 * message serialised once, at the call, so that a bad argument rejects at once with the caller's stack;
 * and the frame text put together when it goes out, with the correlation id and the deadline left.
 */
import { isName } from '../protocol/index.js';
import type { SwitchboardErrorCode } from './errors.js';
import { exceedsBytes } from './responder.js';

/** Bytes a send frame adds around its body and destination (action, keys, ack or ref, timeout). */
const FRAME_OVERHEAD = 96;

export type Prepared = { ok: true; bodyJson: string } | { ok: false; code: SwitchboardErrorCode; message: string };

/** Check the arguments of a request or send and serialise its message. */
export function prepare(dest: unknown, message: unknown, timeout: unknown, maxMessageBytes: number): Prepared {
  const dests = typeof dest === 'string' ? [dest] : dest;
  if (!Array.isArray(dests) || dests.length === 0 || !dests.every((d) => typeof d === 'string' && isName(d))) {
    return refuse('invalid_argument', `dest must be a valid name or a non-empty array of them, not ${safeJson(dest)}`);
  }
  if (!Number.isInteger(timeout) || (timeout as number) < 1) {
    return refuse('invalid_argument', `timeout must be an integer >= 1, not ${safeJson(timeout)}`);
  }
  let bodyJson: string | undefined;
  try {
    bodyJson = JSON.stringify(message === undefined ? null : message);
  } catch (error) {
    return refuse('invalid_argument', `the message cannot be serialised as JSON: ${(error as Error).message}`);
  }
  if (typeof bodyJson !== 'string') return refuse('invalid_argument', 'the message cannot be serialised as JSON');
  // The broker refuses a frame over its limit with too_large [SB-9-1], and closes the connection (1009)
  // over twice it, failing everything in flight: better to refuse it here, before it leaves.
  if (exceedsBytes(bodyJson, maxMessageBytes - JSON.stringify(dest).length - FRAME_OVERHEAD)) {
    return refuse('too_large', `the message exceeds maxMessageBytes (${maxMessageBytes})`);
  }
  return { ok: true, bodyJson };
}

/** The frame of a send: fire-and-forget, with `ref` (a reported send), or with `ack` and `timeout` (a request). */
export function sendFrame(
  dest: string | string[],
  bodyJson: string,
  id?: { ack: string; timeout: number } | { ref: string },
): string {
  const base = `{"action":"send","dest":${JSON.stringify(dest)},"message":${bodyJson}`;
  if (id === undefined) return `${base}}`;
  // Correlation ids are the client's own base-36 counters: safe to splice without escaping.
  return 'ack' in id ? `${base},"ack":"${id.ack}","timeout":${id.timeout}}` : `${base},"ref":"${id.ref}"}`;
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
