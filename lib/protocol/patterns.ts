/**
 * The grammar of the strings that travel in frames, as patterns and tests that need no schema builder
 * (protocol.md section 3): the broker and the client test names and topics with these at run time;
 * grammar.ts makes the schemas of them.
 *
 * A name is what a client registers and what a sender addresses. The grammar keeps out everything a
 * later feature wants for itself: `*`, `>`, `?`, `#` and `+` (patterns in access rules), whitespace,
 * control characters and anything outside printable ASCII (no normalisation questions, no lone
 * surrogates). `__proto__` and `constructor` are valid names: the broker never uses a name as a key of
 * a plain object.
 */

export const NAME_MAX_LENGTH = 128;
export const NAME_PATTERN = '^[A-Za-z0-9_.:@/~-]+$';

export const TOPIC_MAX_LENGTH = 256;
export const TOPIC_MAX_DEPTH = 16;
const SEGMENT = '[A-Za-z0-9_:@/~-]+';
export const TOPIC_PATTERN = `^${SEGMENT}(\\.${SEGMENT}){0,${TOPIC_MAX_DEPTH - 1}}$`;

/** A segment of a topic filter besides a topic's: exactly one segment. */
export const WILDCARD_ONE = '*';
/** A last segment of a topic filter besides a topic's: one or more segments. */
export const WILDCARD_REST = '>';
const FILTER_SEGMENT = `(?:${SEGMENT}|\\*)`;
export const TOPIC_FILTER_PATTERN = `^(?:${FILTER_SEGMENT}\\.){0,${TOPIC_MAX_DEPTH - 1}}(?:${FILTER_SEGMENT}|>)$`;

const nameRegExp = new RegExp(NAME_PATTERN);
const topicRegExp = new RegExp(TOPIC_PATTERN);
const topicFilterRegExp = new RegExp(TOPIC_FILTER_PATTERN);

/** True when `value` is a name by [SB-3-1]; for code that holds a string of unknown origin. */
export function isName(value: string): boolean {
  return value.length > 0 && value.length <= NAME_MAX_LENGTH && nameRegExp.test(value);
}

/** True when `value` is a topic by [SB-3-4]. */
export function isTopic(value: string): boolean {
  return value.length <= TOPIC_MAX_LENGTH && topicRegExp.test(value);
}

/** True when `value` is a topic filter by [SB-3-5]. */
export function isTopicFilter(value: string): boolean {
  return value.length <= TOPIC_MAX_LENGTH && topicFilterRegExp.test(value);
}
