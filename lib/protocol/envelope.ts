/**
 * The envelope split of the decode path (protocol.md section 4.0): find where a frame's top-level
 * `message` value lies, check that it and every other top-level value is JSON nested at most `maxDepth`
 * deep, and hand back the frame with the message replaced by a placeholder. The envelope is then parsed
 * by JSON.parse (so every rule of JSON and of duplicate keys stays JSON.parse's), and the body is
 * forwarded as the sender wrote it, never parsed into objects nor serialised again.
 *
 * The scan reads the frame's UTF-8 bytes as they came off the socket (the transport has checked that
 * they are UTF-8), in one pass with no allocation: every structural character of JSON is ASCII, and
 * every byte of a multi-byte character is 0x80 or above, so bytes can be judged one at a time. This is
 * the broker's biggest cost per frame at a few KiB, and the fastest correct method measured on Node 20
 * (lib/bench/README.md, issue 19): about five times faster than the character scan it replaced, and
 * faster than V8's JSON.parse of the same body, which must build every object.
 *
 * The scan only claims what it can prove: anything it does not recognise makes it return `undefined`,
 * and the caller decodes the frame the slow way, which produces the precise error, after `nestsDeeper`
 * has bounded what that parse can cost ([SB-4.0-4]). Every scan here is iterative and linear: no input
 * costs stack or more than one pass.
 */

/** Where a frame's message lies, in bytes: [start, end) of the frame's UTF-8. */
export type Span =
  | { readonly kind: 'span'; readonly start: number; readonly end: number }
  | { readonly kind: 'no-message' }
  /** A top-level value nests deeper than allowed; `path` names it as a JSON Pointer. */
  | { readonly kind: 'too-deep'; readonly path: string };

export type Split =
  | { readonly kind: 'split'; readonly envelope: string; readonly body: string }
  | { readonly kind: 'no-message' }
  | { readonly kind: 'too-deep'; readonly path: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;

const INVALID = -1;
const TOO_DEEP = -2;

/** The 9 bytes of `"message"`. */
const MESSAGE_KEY = [0x22, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x22];

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The kinds of the open containers of the value being scanned (1: object, 0: array), reused by every
 * scan: the scan is synchronous, and grows this only for a larger `maxDepth`.
 */
let open = new Uint8Array(512);

/** Where the top-level `message` of `bytes` lies; undefined when the scan cannot vouch for the frame. */
export function findMessage(bytes: Uint8Array, maxDepth: number): Span | undefined {
  if (open.length < maxDepth) open = new Uint8Array(maxDepth);
  const n = bytes.length;
  let i = skipWhitespace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return undefined;
  i = skipWhitespace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return skipWhitespace(bytes, i + 1) === n ? NO_MESSAGE : undefined;
  let start = -1;
  let end = -1;
  for (;;) {
    if (bytes[i] !== QUOTE) return undefined;
    const keyStart = i;
    const keyEnd = skipString(bytes, i + 1, n);
    if (keyEnd < 0) return undefined;
    i = skipWhitespace(bytes, keyEnd);
    if (bytes[i] !== COLON) return undefined;
    const valueStart = skipWhitespace(bytes, i + 1);
    const valueEnd = skipValue(bytes, valueStart, n, maxDepth);
    if (valueEnd === TOO_DEEP) return { kind: 'too-deep', path: `/${pointerToken(bytes, keyStart, keyEnd)}` };
    if (valueEnd < 0) return undefined;
    if (isMessageKey(bytes, keyStart, keyEnd)) {
      start = valueStart; // a later duplicate wins, as in JSON.parse
      end = valueEnd;
    }
    i = skipWhitespace(bytes, valueEnd);
    const next = bytes[i];
    if (next === COMMA) {
      i = skipWhitespace(bytes, i + 1);
      continue;
    }
    if (next !== CLOSE_BRACE || skipWhitespace(bytes, i + 1) !== n) return undefined;
    return start < 0 ? NO_MESSAGE : { kind: 'span', start, end };
  }
}

const NO_MESSAGE: Span = { kind: 'no-message' };

/**
 * Split a frame around its top-level `message` value: the envelope (the frame with `0` in its place)
 * and the body, both as text; undefined when the scan cannot vouch for the frame. A string is taken as
 * the text of a frame, and read as its UTF-8 (what a WebSocket carries).
 */
export function splitMessage(frame: string | Uint8Array, maxDepth: number): Split | undefined {
  const bytes = typeof frame === 'string' ? encoder.encode(frame) : frame;
  const span = findMessage(bytes, maxDepth);
  if (span?.kind !== 'span') return span;
  return { kind: 'split', envelope: envelopeOf(bytes, span), body: textOf(bytes, span.start, span.end) };
}

/** The frame's text with its message replaced by `0`, for JSON.parse. */
export function envelopeOf(bytes: Uint8Array, span: { start: number; end: number }): string {
  return `${textOf(bytes, 0, span.start)}0${textOf(bytes, span.end, bytes.length)}`;
}

/** A Node Buffer's own UTF-8 decoder, where there is one (this file stays free of Node: it is duck-typed). */
type Sliceable = Uint8Array & { utf8Slice?: (start: number, end: number) => string };

/** The text of bytes [start, end): Buffer's decoder in Node (a third faster on short slices), TextDecoder elsewhere. */
export function textOf(bytes: Uint8Array, start: number, end: number): string {
  const slice = (bytes as Sliceable).utf8Slice;
  return slice === undefined ? utf8.decode(bytes.subarray(start, end)) : slice.call(bytes, start, end);
}

function isMessageKey(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start === 9) {
    for (let k = 1; k < 8; k++) if (bytes[start + k] !== MESSAGE_KEY[k]) return false;
    return true;
  }
  // Only an escaped key can spell "message" in another length; look within the key, not past it.
  let escaped = false;
  for (let k = start + 1; k < end - 1 && !escaped; k++) escaped = bytes[k] === BACKSLASH;
  if (!escaped) return false;
  try {
    return JSON.parse(textOf(bytes, start, end)) === 'message'; // an escaped key, e.g. "mess\u0061ge"
  } catch {
    return false;
  }
}

function skipWhitespace(bytes: Uint8Array, i: number): number {
  let c = bytes[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
  return i;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** The index after the string whose opening quote is at i - 1, or INVALID when it is not a JSON string. */
function skipString(bytes: Uint8Array, i: number, n: number): number {
  for (; i < n; i++) {
    const c = bytes[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = bytes[++i];
      if (e === 0x75) {
        if (!isHex(bytes[i + 1]) || !isHex(bytes[i + 2]) || !isHex(bytes[i + 3]) || !isHex(bytes[i + 4])) return INVALID;
        i += 4;
      } else if (!(e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)) {
        return INVALID;
      }
    } else if (c < 0x20) {
      return INVALID; // control characters are not allowed raw
    }
  }
  return INVALID; // the text ended
}

/** The index after the number starting at i (its first byte `c`), or INVALID. */
function skipNumber(bytes: Uint8Array, i: number, c: number): number {
  if (c === MINUS) c = bytes[++i];
  if (c === ZERO) c = bytes[++i];
  else if (c >= ONE && c <= NINE) do c = bytes[++i]; while (c >= ZERO && c <= NINE);
  else return INVALID;
  if (c === DOT) {
    c = bytes[++i];
    if (!(c >= ZERO && c <= NINE)) return INVALID;
    do c = bytes[++i]; while (c >= ZERO && c <= NINE);
  }
  if (c === 0x65 || c === 0x45) {
    c = bytes[++i];
    if (c === PLUS || c === MINUS) c = bytes[++i];
    if (!(c >= ZERO && c <= NINE)) return INVALID;
    do c = bytes[++i]; while (c >= ZERO && c <= NINE);
  }
  return i;
}

/**
 * The index after the JSON value starting at `i`, INVALID when it is not valid JSON, TOO_DEEP when
 * arrays and objects nest more than `maxDepth` deep. Iterative, so depth never costs stack. Whitespace
 * and keys are skipped inline, not by calls: at one token every few bytes, calls were two thirds of the
 * time (measured: 17.8 µs for a 4 KiB frame with calls, 5.3 µs without).
 */
function skipValue(bytes: Uint8Array, i: number, n: number, maxDepth: number): number {
  let depth = 0;
  for (;;) {
    // A value starts at i.
    let c = bytes[i];
    if (c === QUOTE) {
      i = skipString(bytes, i + 1, n);
      if (i < 0) return INVALID;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth >= maxDepth) return TOO_DEEP;
      let d = bytes[++i];
      while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) d = bytes[++i];
      if (c === OPEN_BRACE) {
        if (d === CLOSE_BRACE) {
          i++;
        } else {
          // The first key of an object, then its value.
          open[depth++] = 1;
          if (d !== QUOTE) return INVALID;
          i = skipString(bytes, i + 1, n);
          if (i < 0) return INVALID;
          d = bytes[i];
          while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) d = bytes[++i];
          if (d !== COLON) return INVALID;
          d = bytes[++i];
          while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) d = bytes[++i];
          continue;
        }
      } else if (d === CLOSE_BRACKET) {
        i++;
      } else {
        open[depth++] = 0;
        continue;
      }
    } else if (c === 0x74) {
      if (bytes[i + 1] !== 0x72 || bytes[i + 2] !== 0x75 || bytes[i + 3] !== 0x65) return INVALID; // true
      i += 4;
    } else if (c === 0x66) {
      if (bytes[i + 1] !== 0x61 || bytes[i + 2] !== 0x6c || bytes[i + 3] !== 0x73 || bytes[i + 4] !== 0x65) return INVALID; // false
      i += 5;
    } else if (c === 0x6e) {
      if (bytes[i + 1] !== 0x75 || bytes[i + 2] !== 0x6c || bytes[i + 3] !== 0x6c) return INVALID; // null
      i += 4;
    } else {
      i = skipNumber(bytes, i, c);
      if (i < 0) return INVALID;
    }
    // After a value: close containers, or go on to the next element (and its key, in an object).
    for (;;) {
      if (depth === 0) return i;
      c = bytes[i];
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
      const inObject = open[depth - 1] === 1;
      if (c === COMMA) {
        c = bytes[++i];
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
        if (inObject) {
          if (c !== QUOTE) return INVALID;
          i = skipString(bytes, i + 1, n);
          if (i < 0) return INVALID;
          c = bytes[i];
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
          if (c !== COLON) return INVALID;
          c = bytes[++i];
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++i];
        }
        break;
      }
      if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return INVALID;
      depth--;
      i++;
    }
  }
}

/** A key as a JSON Pointer token (RFC 6901), or "" when it cannot be read. */
function pointerToken(bytes: Uint8Array, start: number, end: number): string {
  try {
    return (JSON.parse(textOf(bytes, start, end)) as string).slice(0, 64).replace(/~/g, '~0').replace(/\//g, '~1');
  } catch {
    return '';
  }
}

// ---- Reading a frame already refused (its size, its depth): text, never on the path of a good frame. ----

function skipBlank(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** The index after the string starting at `i` (a quote), or -1 when it is not a valid JSON string. */
function skipText(text: string, i: number): number {
  i++;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = text.charCodeAt(i + 1);
      if (e === 0x75) {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return -1;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else {
        return -1;
      }
    } else if (c < 0x20 || Number.isNaN(c)) {
      return -1; // control characters are not allowed raw; NaN: the text ended
    } else {
      i++;
    }
  }
}

/**
 * True when arrays and objects in `text` nest more than `maxDepth` deep, counted from the outermost
 * value. One linear pass that skips strings; it does not check that `text` is JSON.
 */
export function nestsDeeper(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * The top-level string fields `ack` and `ref` of a frame, read without parsing the rest of it: for the
 * error about a frame refused for its size or depth [SB-4.0-2]. Empty when the frame is not an object
 * this scan can read.
 */
export function topLevelIds(text: string): { ack?: string; ref?: string } {
  const ids: { ack?: string; ref?: string } = {};
  let i = skipBlank(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return ids;
  i = skipBlank(text, i + 1);
  while (text.charCodeAt(i) === QUOTE) {
    const keyEnd = skipText(text, i);
    if (keyEnd < 0) return ids;
    const key = keyEnd - i === 5 ? text.slice(i + 1, keyEnd - 1) : '';
    i = skipBlank(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return ids;
    const valueStart = skipBlank(text, i + 1);
    const valueEnd = skipLoosely(text, valueStart);
    if (valueEnd < 0) return ids;
    if ((key === 'ack' || key === 'ref') && text.charCodeAt(valueStart) === QUOTE) {
      try {
        ids[key] = JSON.parse(text.slice(valueStart, valueEnd)) as string;
      } catch {
        // not a string this scan can read: left out
      }
    }
    i = skipBlank(text, valueEnd);
    if (text.charCodeAt(i) !== COMMA) return ids;
    i = skipBlank(text, i + 1);
  }
  return ids;
}

/**
 * The index after the value starting at `i`, found by counting brackets outside strings (no validation:
 * for reading ids out of a frame already refused); -1 when the text ends first.
 */
function skipLoosely(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipText(text, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return i;
      i++;
    }
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === QUOTE) {
      i = skipText(text, i) - 1;
      if (i < 0) return -1;
    } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
      depth++;
    } else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}
