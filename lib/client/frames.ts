/**
 * Reading broker frames on the client side (protocol.md section 5). The protocol's schemas are strict
 * (`additionalProperties: false`) because the broker must refuse what it does not define; a client must
 * do the opposite and ignore fields and frames it does not know (section 11), so this reader checks only
 * the fields the client uses, with their types, and tolerates everything else. Frames with an unknown
 * action are skipped, not errors: a later broker may add frames a client asks for.
 */
import type {
  AnswerOutFrame,
  BrokerFrame,
  CancelOutFrame,
  ErrorCode,
  GatherResult,
  MessageFrame,
  ProgressOutFrame,
  ServicesOutFrame,
} from '../protocol/wire.js';

/**
 * The broker frames this client reads. Frames a later broker adds are skipped as `unknown`, so the
 * protocol can grow without breaking the client; so is the answer to `hello`, which it does not send.
 */
export type ReadFrame = Exclude<BrokerFrame, { action: 'hello' }>;

const CANCEL_REASONS: ReadonlySet<string> = new Set(['cancelled', 'timeout', 'answered', 'sender_gone']);

export type ReadResult =
  | { kind: 'frame'; frame: ReadFrame }
  | { kind: 'unknown'; action: string }
  | { kind: 'invalid'; reason: string };

type Fields = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === 'string';
const optionalString = (value: unknown): boolean => value === undefined || typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

export function readBrokerFrame(data: unknown): ReadResult {
  if (typeof data !== 'string') return invalid('a binary frame');
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return invalid('a frame that is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('a frame that is not a JSON object');
  const f = value as Fields;
  if (!isString(f.action)) return invalid('a frame without a string "action"');
  switch (f.action) {
    case 'registered':
    case 'unregistered':
      if (!isString(f.id)) return invalid(`"${f.action}" without a string "id"`);
      return frame(isString(f.ref) ? { action: f.action, id: f.id, ref: f.ref } : { action: f.action, id: f.id });
    case 'message': {
      if (!isString(f.from) || !optionalString(f.ack)) return invalid('"message" with a bad "from" or "ack"');
      if (!optionalString(f.topic) || !optionalString(f.context) || !optionalString(f.event)) {
        return invalid('"message" with a bad "topic", "context" or "event"');
      }
      if (f.credit !== undefined && !isCount(f.credit)) return invalid('"message" with a bad "credit"');
      if (!optionalString(f.mailbox)) return invalid('"message" with a bad "mailbox"');
      // The parsed object is the frame (the hottest path: no copy); unknown fields ride along unread.
      f.message ??= null;
      // [SB-4.7-2] a published message carries both; a broker that sent only one still names the subscription
      if (f.context !== undefined || f.topic !== undefined) {
        f.topic ??= f.context;
        f.context ??= f.topic;
      }
      return frame(f as unknown as MessageFrame);
    }
    case 'answer': {
      if (!isString(f.ack) || !isString(f.from)) return invalid('"answer" with a bad "ack" or "from"');
      const error = f.error as Fields | undefined;
      if (error !== undefined) {
        if (typeof error !== 'object' || error === null || !isString(error.code) || !isString(error.message)) {
          return invalid('"answer" with a bad "error"');
        }
        return frame({ action: 'answer', ack: f.ack, from: f.from, error: { code: error.code, message: error.message } });
      }
      f.message ??= null; // as for "message": the parsed object is the frame
      return frame(f as unknown as AnswerOutFrame);
    }
    case 'error': {
      if (!isString(f.code) || !isString(f.message)) return invalid('"error" without a string "code" and "message"');
      const optional = ['ack', 'ref', 'id', 'path', 'limit'] as const;
      if (!optional.every((key) => optionalString(f[key]))) return invalid('"error" with a field of the wrong type');
      const extra: Partial<Record<(typeof optional)[number], string>> = {};
      for (const key of optional) if (isString(f[key])) extra[key] = f[key] as string;
      return frame({ action: 'error', code: f.code as ErrorCode, message: f.message, ...extra });
    }
    case 'sent':
      if (!isString(f.ref) || !isStringArray(f.delivered) || !isStringArray(f.unknown)) {
        return invalid('"sent" with a bad "ref", "delivered" or "unknown"');
      }
      if (f.queued !== undefined && !isStringArray(f.queued)) return invalid('"sent" with a bad "queued"');
      return frame({
        action: 'sent',
        ref: f.ref,
        delivered: f.delivered,
        unknown: f.unknown,
        ...(f.queued === undefined ? {} : { queued: f.queued }),
        ...(isString(f.ack) ? { ack: f.ack } : {}),
      });
    case 'authenticated':
      if (!isString(f.identity)) return invalid('"authenticated" without a string "identity"');
      return frame({ action: 'authenticated', identity: f.identity });
    case 'cancel':
      if (!isString(f.ack) || !isString(f.reason)) return invalid('"cancel" without a string "ack" and "reason"');
      // A reason this client does not know yet still cancels: the receiver only needs to stop.
      return frame({ action: 'cancel', ack: f.ack, reason: (CANCEL_REASONS.has(f.reason) ? f.reason : 'cancelled') as CancelOutFrame['reason'] });
    case 'subscribed':
    case 'unsubscribed':
      if (!isString(f.topic)) return invalid(`"${f.action}" without a string "topic"`);
      return frame(isString(f.ref) ? { action: f.action, topic: f.topic, ref: f.ref } : { action: f.action, topic: f.topic });
    case 'published':
      if (!isCount(f.receivers) || !optionalString(f.ref) || !optionalString(f.ack)) {
        return invalid('"published" with a bad "receivers", "ref" or "ack"');
      }
      return frame({ action: 'published', receivers: f.receivers, ...(isString(f.ref) ? { ref: f.ref } : {}), ...(isString(f.ack) ? { ack: f.ack } : {}) });
    case 'gathered': {
      if (!isString(f.ack) || !Array.isArray(f.results)) return invalid('"gathered" with a bad "ack" or "results"');
      const results: GatherResult[] = [];
      for (const each of f.results as unknown[]) {
        const result = readGatherResult(each);
        if (result === undefined) return invalid('"gathered" with a bad result');
        results.push(result);
      }
      return frame({ action: 'gathered', ack: f.ack, results });
    }
    case 'announced':
      if (!isString(f.id)) return invalid('"announced" without a string "id"');
      return frame(isString(f.ref) ? { action: 'announced', id: f.id, ref: f.ref } : { action: 'announced', id: f.id });
    case 'services':
      // The list is read as it came (lib/client/services.ts reads its fields); only its shape is checked here.
      if (!Array.isArray(f.services) || !optionalString(f.ref)) return invalid('"services" with a bad "services" or "ref"');
      return frame(f as unknown as ServicesOutFrame);
    case 'progress':
      if (!isString(f.ack) || !isString(f.from)) return invalid('"progress" with a bad "ack" or "from"');
      f.message ??= null; // as for "message": the parsed object is the frame
      return frame(f as unknown as ProgressOutFrame);
    case 'pull':
      if (!isString(f.ack) || !isCount(f.n) || f.n === 0) return invalid('"pull" with a bad "ack" or "n"');
      return frame({ action: 'pull', ack: f.ack, n: f.n });
    default:
      return { kind: 'unknown', action: f.action };
  }
}

const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

/** One result of a gather (protocol.md 5.10): `{from, message}`, `{from, error}` or `{from, code}`. */
function readGatherResult(value: unknown): GatherResult | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Fields;
  if (!isString(r.from)) return undefined;
  if (r.error !== undefined) {
    const error = r.error as Fields;
    if (typeof error !== 'object' || error === null || !isString(error.code) || !isString(error.message)) return undefined;
    return { from: r.from, error: { code: error.code, message: error.message } };
  }
  // A failure code this client does not know yet reads as the closest it knows: no answer came.
  if (r.code !== undefined) return isString(r.code) ? { from: r.from, code: r.code === 'responder_gone' ? 'responder_gone' : 'timeout' } : undefined;
  return { from: r.from, message: r.message ?? null };
}

function frame(value: ReadFrame): ReadResult {
  return { kind: 'frame', frame: value };
}

function invalid(reason: string): ReadResult {
  return { kind: 'invalid', reason: `the broker sent ${reason}` };
}
