/**
 * The envelope split of the decode path (protocol.md section 4.0): find the raw text of a frame's
 * top-level `message` value, check that it and every other top-level value is JSON nested at most
 * `maxDepth` deep, and hand back the frame with the message replaced by a placeholder. The envelope is
 * then parsed by JSON.parse (so every rule of JSON and of duplicate keys stays JSON.parse's), and the
 * body is forwarded as the sender wrote it, never parsed into objects nor serialised again.
 *
 * The scan only claims what it can prove: anything it does not recognise makes it return `undefined`,
 * and the caller decodes the frame the slow way, which produces the precise error, after `nestsDeeper`
 * has bounded what that parse can cost ([SB-4.0-4]). Every scan here is iterative and linear: no input
 * costs stack or more than one pass.
 */

export type Split =
  | { readonly kind: 'split'; readonly envelope: string; readonly body: string }
  | { readonly kind: 'no-message' }
  /** A top-level value nests deeper than allowed; `path` names it as a JSON Pointer. */
  | { readonly kind: 'too-deep'; readonly path: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Split `text` around its top-level `message` value; undefined when the scan cannot vouch for it. */
export function splitMessage(text: string, maxDepth: number): Split | undefined {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipWhitespace(text, i + 1);
  let span: [number, number] | undefined;
  if (text.charCodeAt(i) === CLOSE_BRACE) return { kind: 'no-message' };
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return undefined;
    const keyStart = i;
    const isMessage = isMessageKey(text, i, keyEnd);
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return undefined;
    const valueStart = skipWhitespace(text, i + 1);
    const valueEnd = skipValue(text, valueStart, maxDepth);
    if (valueEnd === TOO_DEEP) return { kind: 'too-deep', path: `/${pointerToken(text, keyStart, keyEnd)}` };
    if (valueEnd < 0) return undefined;
    if (isMessage) span = [valueStart, valueEnd]; // a later duplicate wins, as in JSON.parse
    i = skipWhitespace(text, valueEnd);
    const next = text.charCodeAt(i);
    if (next === COMMA) {
      i = skipWhitespace(text, i + 1);
      continue;
    }
    if (next !== CLOSE_BRACE) return undefined;
    if (skipWhitespace(text, i + 1) !== text.length) return undefined;
    break;
  }
  if (span === undefined) return { kind: 'no-message' };
  const [start, end] = span;
  return { kind: 'split', envelope: `${text.slice(0, start)}0${text.slice(end)}`, body: text.slice(start, end) };
}

function isMessageKey(text: string, start: number, end: number): boolean {
  if (end - start === 9) return text.startsWith('"message"', start);
  // Only an escaped key can spell "message" in another length; look within the key, not past it.
  let escaped = false;
  for (let i = start + 1; i < end - 1 && !escaped; i++) escaped = text.charCodeAt(i) === BACKSLASH;
  if (!escaped) return false;
  try {
    return JSON.parse(text.slice(start, end)) === 'message'; // an escaped key, e.g. "mess\u0061ge"
  } catch {
    return false;
  }
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

const TOO_DEEP = -2;

/** The index after the string starting at `i` (a quote), or -1 when it is not a valid JSON string. */
function skipString(text: string, i: number): number {
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

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The index after the JSON value starting at `i`, -1 when it is not valid JSON, TOO_DEEP when arrays
 * and objects nest more than `maxDepth` deep. Iterative, so depth never costs stack.
 */
function skipValue(text: string, i: number, maxDepth: number): number {
  const closers: number[] = [];
  for (;;) {
    // A value starts at i.
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (closers.length >= maxDepth) return TOO_DEEP;
      const closer = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      i = skipWhitespace(text, i + 1);
      if (text.charCodeAt(i) === closer) {
        i++;
      } else {
        closers.push(closer);
        if (closer === CLOSE_BRACE) {
          i = skipKey(text, i);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === QUOTE) {
      i = skipString(text, i);
      if (i < 0) return -1;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
      if (!text.startsWith(word, i)) return -1;
      i += word.length;
    } else {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) return -1;
      i = NUMBER.lastIndex;
    }
    // After a value: close containers, or go on to the next element.
    for (;;) {
      if (closers.length === 0) return i;
      i = skipWhitespace(text, i);
      const d = text.charCodeAt(i);
      const closer = closers[closers.length - 1];
      if (d === closer) {
        closers.pop();
        i++;
        continue;
      }
      if (d !== COMMA) return -1;
      i = skipWhitespace(text, i + 1);
      if (closer === CLOSE_BRACE) {
        i = skipKey(text, i);
        if (i < 0) return -1;
      }
      break;
    }
  }
}

/** Skip `"key" :` and the whitespace after it; -1 when malformed. */
function skipKey(text: string, i: number): number {
  if (text.charCodeAt(i) !== QUOTE) return -1;
  i = skipString(text, i);
  if (i < 0) return -1;
  i = skipWhitespace(text, i);
  if (text.charCodeAt(i) !== COLON) return -1;
  return skipWhitespace(text, i + 1);
}

/** A key as a JSON Pointer token (RFC 6901), or "" when it cannot be read. */
function pointerToken(text: string, start: number, end: number): string {
  try {
    return (JSON.parse(text.slice(start, end)) as string).slice(0, 64).replace(/~/g, '~0').replace(/\//g, '~1');
  } catch {
    return '';
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
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return ids;
  i = skipWhitespace(text, i + 1);
  while (text.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return ids;
    const key = keyEnd - i === 5 ? text.slice(i + 1, keyEnd - 1) : '';
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return ids;
    const valueStart = skipWhitespace(text, i + 1);
    const valueEnd = skipLoosely(text, valueStart);
    if (valueEnd < 0) return ids;
    if ((key === 'ack' || key === 'ref') && text.charCodeAt(valueStart) === QUOTE) {
      try {
        ids[key] = JSON.parse(text.slice(valueStart, valueEnd)) as string;
      } catch {
        // not a string this scan can read: left out
      }
    }
    i = skipWhitespace(text, valueEnd);
    if (text.charCodeAt(i) !== COMMA) return ids;
    i = skipWhitespace(text, i + 1);
  }
  return ids;
}

/**
 * The index after the value starting at `i`, found by counting brackets outside strings (no validation:
 * for reading ids out of a frame already refused); -1 when the text ends first.
 */
function skipLoosely(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
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
      i = skipString(text, i) - 1;
      if (i < 0) return -1;
    } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
      depth++;
    } else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}
