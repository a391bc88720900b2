/**
 * The grammar of the strings that travel in frames: names, correlation ids, references
 * (protocol.md section 3, "Names and identifiers").
 *
 * A name is what a client registers and what a sender addresses. The grammar keeps out everything a
 * later feature wants for itself: `*`, `>`, `?`, `#` and `+` (patterns in access rules), whitespace,
 * control characters and anything outside printable ASCII (no normalisation questions, no lone
 * surrogates). `__proto__` and `constructor` are valid names: the broker never uses a name as a key of
 * a plain object.
 */
import Type, { type Static } from 'typebox';

export const NAME_MAX_LENGTH = 128;
export const NAME_PATTERN = '^[A-Za-z0-9_.:@/~-]+$';

/** [SB-3-1] A name is 1 to 128 characters from `A-Z a-z 0-9 _ . : @ / ~ -`. */
export const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
  description: 'A registered name: 1 to 128 characters from A-Z a-z 0-9 _ . : @ / ~ -',
});
export type Name = Static<typeof Name>;

export const TOPIC_MAX_LENGTH = 256;
export const TOPIC_MAX_DEPTH = 16;
const SEGMENT = '[A-Za-z0-9_:@/~-]+';
export const TOPIC_PATTERN = `^${SEGMENT}(\\.${SEGMENT}){0,${TOPIC_MAX_DEPTH - 1}}$`;

/**
 * [SB-3-4] A topic is 1 to 16 dot-separated segments, 256 characters at most, each segment made of name
 * characters other than the dot. A subscription to `news` matches `news`, `news.uk` and
 * `news.uk.london`, and not `newsroom`.
 */
export const Topic = Type.String({
  minLength: 1,
  maxLength: TOPIC_MAX_LENGTH,
  pattern: TOPIC_PATTERN,
  description: 'A topic: 1 to 16 dot-separated segments of A-Z a-z 0-9 _ : @ / ~ -, at most 256 characters',
});
export type Topic = Static<typeof Topic>;

const topicRegExp = new RegExp(TOPIC_PATTERN);

/** True when `value` is a topic by [SB-3-4]. */
export function isTopic(value: string): boolean {
  return value.length <= TOPIC_MAX_LENGTH && topicRegExp.test(value);
}

/** A segment of a topic filter besides a topic's: exactly one segment. */
export const WILDCARD_ONE = '*';
/** A last segment of a topic filter besides a topic's: one or more segments. */
export const WILDCARD_REST = '>';
const FILTER_SEGMENT = `(?:${SEGMENT}|\\*)`;
export const TOPIC_FILTER_PATTERN = `^(?:${FILTER_SEGMENT}\\.){0,${TOPIC_MAX_DEPTH - 1}}(?:${FILTER_SEGMENT}|>)$`;

/**
 * [SB-3-5] A topic filter (what `subscribe` and `unsubscribe` take) is a topic whose segments may also be
 * `*` (any one segment) or, as the last segment only, `>` (one or more segments): `news.*.sports`,
 * `news.>`, `*`. 1 to 16 segments, at most 256 characters. Every topic is a filter that matches itself.
 */
export const TopicFilter = Type.String({
  minLength: 1,
  maxLength: TOPIC_MAX_LENGTH,
  pattern: TOPIC_FILTER_PATTERN,
  description:
    'A topic filter: 1 to 16 dot-separated segments of A-Z a-z 0-9 _ : @ / ~ -, or "*" (one segment), ' +
    'or as the last segment ">" (one or more); at most 256 characters',
});
export type TopicFilter = Static<typeof TopicFilter>;

const topicFilterRegExp = new RegExp(TOPIC_FILTER_PATTERN);

/** True when `value` is a topic filter by [SB-3-5]. */
export function isTopicFilter(value: string): boolean {
  return value.length <= TOPIC_MAX_LENGTH && topicFilterRegExp.test(value);
}

/** The event name a message may carry, for clients that dispatch by event: the grammar of names. */
export const EventName = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
  description: 'An event name, with the grammar of names',
});

/** A correlation id chosen by a sender, or the delivery id the broker chose for a receiver. */
export const Ack = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'A correlation id: any string of 1 to 128 characters',
});
export type Ack = Static<typeof Ack>;

/** A reference chosen by a sender to receive a delivery report (`sent`) for one send. */
export const Ref = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'A sender-chosen reference that asks for a delivery report',
});
export type Ref = Static<typeof Ref>;

/**
 * [SB-15-1] W3C trace context (https://www.w3.org/TR/trace-context/) carried beside a message: a
 * `traceparent` of version 00 and an optional `tracestate`. The broker passes it on unchanged.
 */
export const Trace = Type.Object(
  {
    traceparent: Type.String({
      pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
      description: 'W3C traceparent: version-traceid-parentid-flags, lowercase hex',
    }),
    tracestate: Type.Optional(Type.String({ maxLength: 512, pattern: '^[\\x20-\\x7e]*$', description: 'W3C tracestate, at most 512 printable ASCII characters' })),
  },
  { additionalProperties: false, description: 'W3C trace context of the message (protocol.md section 15).' },
);
export type Trace = Static<typeof Trace>;

/** The code of an error answer, chosen by the responder (not one of the broker's codes). */
export const AnswerErrorCode = Type.String({ minLength: 1, maxLength: 64 });

const nameRegExp = new RegExp(NAME_PATTERN);

/** True when `value` is a name by [SB-3-1]; for code that holds a string of unknown origin. */
export function isName(value: string): boolean {
  return value.length > 0 && value.length <= NAME_MAX_LENGTH && nameRegExp.test(value);
}
