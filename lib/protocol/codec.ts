/**
 * The one decode path for client frames and the encoders for broker frames (protocol.md section 4.0).
 *
 * decode: size check, the envelope scan of the frame's UTF-8 bytes (envelope.ts: every top-level value
 * is checked for depth and JSON, the `message` value is located, not parsed), a depth bound on whatever
 * the scan could not vouch for, JSON.parse of the envelope, a per-action check (validators.ts, generated
 * ahead of time; schema-errors.ts explains a refusal), then a typed
 * frame and the message's raw text; or a coded failure that names the problem and carries the
 * correlation id when one can be read [SB-7-2]. No frame is parsed whole before its depth is known to be
 * bounded [SB-4.0-4]. Each byte of a frame is read once by the scan; only the envelope is parsed, and the
 * body is made text once, to be spliced into the frames that carry it on.
 */
import type { BrokerFrame } from './broker-frames.js';
import type { ClientAction, ClientFrame } from './client-frames.js';
import { envelopeOf, findMessage, nestsDeeper, textOf, topLevelIds } from './envelope.js';
import type { ErrorCode } from './errors.js';
import type { Trace } from './grammar.js';
import { schemaErrors, type SchemaError } from './schema-errors.js';
import { CLIENT_FRAME_CHECKS, CLIENT_FRAME_SCHEMAS } from './validators.js';

export interface DecodeFailure {
  readonly code: Extract<ErrorCode, 'bad_frame' | 'unknown_action' | 'too_large'>;
  readonly message: string;
  readonly path?: string;
  readonly ack?: string;
  readonly ref?: string;
}

/**
 * A decoded frame. `body` is the raw JSON text of its `message`, as the sender wrote it; when present,
 * `frame.message` is only a placeholder and must not be used. Absent when the frame has no message or
 * the split could not vouch for it (then `frame.message` is the parsed value).
 */
export type Decoded = { ok: true; frame: ClientFrame; body: string | undefined } | { ok: false; failure: DecodeFailure };

const validators = new Map(Object.entries(CLIENT_FRAME_CHECKS) as Array<[ClientAction, (value: unknown) => boolean]>);

const encoder = new TextEncoder();

/** Decode a frame given as text (`byteLength`: its size in UTF-8). The broker decodes bytes: see decodeFrame. */
export function decode(text: string, byteLength: number, maxBytes: number, maxDepth: number): Decoded {
  if (byteLength > maxBytes) return tooLarge(text, byteLength, maxBytes);
  return decodeFrame(encoder.encode(text), maxBytes, maxDepth);
}

/**
 * Decode a frame from its UTF-8 bytes as the transport delivered them (it has checked that they are
 * UTF-8): the broker's one decode ([SB-4.0-1]).
 */
export function decodeFrame(bytes: Uint8Array, maxBytes: number, maxDepth: number): Decoded {
  if (bytes.length > maxBytes) return tooLarge(textOf(bytes, 0, bytes.length), bytes.length, maxBytes);
  const span = findMessage(bytes, maxDepth);
  if (span === undefined) {
    // The scan cannot vouch for the frame: parse it whole for the precise error, once its depth is bounded.
    const text = textOf(bytes, 0, bytes.length);
    if (nestsDeeper(text, maxDepth + 1)) {
      const message = `the frame is nested deeper than ${maxDepth} levels`;
      return fail({ code: 'bad_frame', message, path: '', ...readableIds(topLevelIds(text)) }); // [SB-4.0-4]
    }
    return check(text, undefined);
  }
  if (span.kind === 'too-deep') {
    const message = `${span.path.slice(1) || 'a field'} is nested deeper than ${maxDepth} levels`;
    return fail({ code: 'bad_frame', message, path: span.path, ...readableIds(topLevelIds(textOf(bytes, 0, bytes.length))) }); // [SB-4.3-5], [SB-4.0-4]
  }
  if (span.kind === 'no-message') return check(textOf(bytes, 0, bytes.length), undefined);
  return check(envelopeOf(bytes, span), textOf(bytes, span.start, span.end));
}

function tooLarge(text: string, byteLength: number, maxBytes: number): Decoded {
  const message = `frame of ${byteLength} bytes exceeds the limit of ${maxBytes}`;
  return fail({ code: 'too_large', message, ...readableIds(topLevelIds(text)) });
}

/** Parse `envelope` (the frame, its message replaced when `body` was split off) and check it against its action's schema. */
function check(envelope: string, body: string | undefined): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(envelope);
  } catch {
    return fail({ code: 'bad_frame', message: 'frame is not valid JSON', path: '' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail({ code: 'bad_frame', message: 'frame must be a JSON object', path: '' });
  }
  const record = value as Record<string, unknown>;
  const action = record.action;
  if (typeof action !== 'string') {
    return fail({ code: 'bad_frame', message: 'frame has no string "action"', path: '/action', ...readableIds(record) });
  }
  const validator = validators.get(action as ClientAction);
  if (validator === undefined) {
    return fail({ code: 'unknown_action', message: `unknown action "${action.slice(0, 64)}"`, path: '/action', ...readableIds(record) });
  }
  if (!validator(value)) {
    return fail({ code: 'bad_frame', ...describe(schemaErrors(CLIENT_FRAME_SCHEMAS[action], value)[0], action), ...readableIds(record) });
  }
  return { ok: true, frame: value as ClientFrame, body };
}

function fail(failure: DecodeFailure): Decoded {
  return { ok: false, failure };
}

/** The correlation ids of a rejected frame, when they are well-formed enough to echo back. */
function readableIds(record: { ack?: unknown; ref?: unknown }): { ack?: string; ref?: string } {
  const ids: { ack?: string; ref?: string } = {};
  if (isShortString(record.ack)) ids.ack = record.ack;
  if (isShortString(record.ref)) ids.ref = record.ref;
  return ids;
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128;
}

function describe(error: SchemaError | undefined, action: string): { message: string; path: string } {
  if (error === undefined) return { message: `invalid "${action}" frame`, path: '' };
  const path = error.instancePath;
  const missing = error.keyword === 'required' ? (error.params as { requiredProperties?: string[] }).requiredProperties?.[0] : undefined;
  if (missing !== undefined) return { message: `"${missing}" is required in "${action}"`, path: `${path}/${missing}` };
  if (error.keyword === 'boolean' && error.schemaPath.endsWith('additionalProperties')) {
    return { message: `"${path.slice(1)}" is not a field of "${action}"`, path };
  }
  return { message: `${path === '' ? action : path}: ${error.message}`, path };
}

/** Encode a broker frame. Throws RangeError when a message body is too deeply nested to serialise. */
export function encode(frame: BrokerFrame): string {
  return JSON.stringify(frame);
}

/**
 * Encode a `message` frame around a body that was serialised once for all its receivers.
 * `from`, `ack` and the fields in `suffix` (topic, context, event) are safe to splice unescaped: names,
 * topics and event names exclude `"` and `\\` by [SB-3-1] and [SB-3-4], and delivery ids are chosen by
 * the broker from a URL-safe alphabet.
 */
export function encodeMessage(bodyJson: string, from: string, ack?: string, suffix = ''): string {
  return ack === undefined
    ? `{"action":"message","message":${bodyJson},"from":"${from}"${suffix}}`
    : `{"action":"message","message":${bodyJson},"from":"${from}","ack":"${ack}"${suffix}}`;
}

/**
 * Encode an `answer` outcome around an answer body that was encoded when it arrived; `trace` is the
 * answer's encoded trace field (traceSuffix), "" for none.
 */
export function encodeAnswer(ack: string, from: string, bodyJson: string, trace = ''): string {
  return `{"action":"answer","ack":${JSON.stringify(ack)},"from":"${from}","message":${bodyJson}${trace}}`;
}

/** Encode a `progress` part around a body that was encoded when it arrived ([SB-13-2]); `trace` as for encodeAnswer. */
export function encodeProgress(ack: string, from: string, bodyJson: string, trace = ''): string {
  return `{"action":"progress","ack":${JSON.stringify(ack)},"from":"${from}","message":${bodyJson}${trace}}`;
}

/** Encode a `gathered` outcome; results that carry an encoded `body` are spliced in as `message`. */
export function encodeGathered(ack: string, results: ReadonlyArray<{ from: string; body?: string; trace?: Trace }>): string {
  const parts = results.map(({ body, ...rest }) =>
    body === undefined ? JSON.stringify(rest) : `{"from":"${rest.from}","message":${body}${traceSuffix(rest.trace)}}`,
  );
  return `{"action":"gathered","ack":${JSON.stringify(ack)},"results":[${parts.join(',')}]}`;
}

/** The encoded optional fields of a `message` frame, to pass as `suffix` to encodeMessage. */
export function messageSuffix(fields: { topic?: string; context?: string; event?: string }): string {
  let suffix = '';
  if (fields.topic !== undefined) suffix += `,"topic":"${fields.topic}"`;
  if (fields.context !== undefined) suffix += `,"context":"${fields.context}"`;
  if (fields.event !== undefined) suffix += `,"event":"${fields.event}"`;
  return suffix;
}

/**
 * The encoded `trace` field of a frame the broker passes a trace on in (`message`, `answer`, a gathered
 * result, `progress`), to splice after its other fields; "" for none. The value was checked against
 * the Trace schema when its frame was decoded and is written back as it was read ([SB-15-1]); only
 * extended receivers get it ([SB-15-2]).
 */
export function traceSuffix(trace: Trace | undefined): string {
  return trace === undefined ? '' : `,"trace":${JSON.stringify(trace)}`;
}
