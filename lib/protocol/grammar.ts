/**
 * The schemas of the strings that travel in frames: names, topics, correlation ids, references, trace
 * context (protocol.md section 3, "Names and identifiers"), made of the patterns in patterns.ts.
 */
import Type, { type Static } from 'typebox';
import { NAME_MAX_LENGTH, NAME_PATTERN, TOPIC_FILTER_PATTERN, TOPIC_MAX_LENGTH, TOPIC_PATTERN } from './patterns.js';

export * from './patterns.js';

/** [SB-3-1] A name is 1 to 128 characters from `A-Z a-z 0-9 _ . : @ / ~ -`. */
export const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
  description: 'A registered name: 1 to 128 characters from A-Z a-z 0-9 _ . : @ / ~ -',
});
export type Name = Static<typeof Name>;

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
