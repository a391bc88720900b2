/**
 * The envelope split agrees with JSON.parse on every frame it vouches for, refuses what JSON.parse
 * refuses, and measures depth without using the stack (protocol.md section 4.0, [SB-4.3-5]). The scan
 * reads a frame's UTF-8 bytes, as a WebSocket carries it; a string given to splitMessage is read as its
 * UTF-8 (so a lone surrogate, which no text frame can carry, arrives as U+FFFD, as it would on the wire).
 */
import t from 'tap';
import fc from 'fast-check';
import { findMessage, nestsDeeper, splitMessage, topLevelIds } from '../../lib/protocol/envelope.js';
import { decode, decodeFrame } from '../../lib/protocol/codec.js';

/** What a text becomes once it has crossed a WebSocket: its UTF-8, read back. */
const onTheWire = (text: string) => new TextDecoder().decode(new TextEncoder().encode(text));

const DEPTH = 64;

t.test('for random frames, the split envelope and body parse back to exactly what JSON.parse sees', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), fc.boolean(), (message, others, spaced) => {
      const frame = { ...others, message };
      const text = spaced ? JSON.stringify(frame, null, 2) : JSON.stringify(frame);
      const split = splitMessage(text, DEPTH);
      if (split?.kind !== 'split') throw new Error(`not split: ${text}`);
      const envelope = JSON.parse(split.envelope);
      envelope.message = JSON.parse(split.body);
      const expected = JSON.parse(text);
      if (JSON.stringify(envelope) !== JSON.stringify(expected)) throw new Error(`differs: ${text}`);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random frames');
});

t.test('whatever the text, the split never vouches for JSON that JSON.parse refuses', async (t) => {
  const pieces = ['{', '}', '[', ']', '"message"', ':', ',', '"a"', '1', '-0.5e3', 'tru', 'true', 'null', '"\\u00zz"', '"\\q"', ' ', '"x', '01', '\u0001'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 20 }), (parts) => {
      const text = parts.join('');
      const split = splitMessage(text, DEPTH);
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      if (split?.kind === 'split' && !valid) throw new Error(`vouched for invalid ${JSON.stringify(text)}`);
      if (split?.kind === 'split') {
        JSON.parse(split.envelope);
        JSON.parse(split.body);
      }
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random texts');
});

t.test('numbers, strings and escapes: the split vouches for exactly what JSON.parse accepts', async (t) => {
  // The scan reads strings byte by byte and numbers with its own rules: pieces that make valid and nearly valid ones.
  const pieces = ['-', '0', '1', '9', '.', 'e', 'E', '+', '"', '\\', '\\u00e9', '\\u12', '\\n', '\\x', 'u', '0a', 'F', 'g', 'n', '/', '\u0001', '\u00e9', '\ud83d', ' ', ','];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 12 }), fc.boolean(), (parts, inArray) => {
      const value = parts.join('');
      const text = onTheWire(inArray ? `{"message":[${value}]}` : `{"message":${value}}`);
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const split = splitMessage(text, DEPTH);
      if ((split?.kind === 'split') !== valid) throw new Error(`${valid ? 'refused valid' : 'vouched for invalid'} ${JSON.stringify(text)}`);
      if (split?.kind === 'split' && JSON.stringify(JSON.parse(split.body)) !== JSON.stringify(JSON.parse(text).message)) {
        throw new Error(`body differs: ${JSON.stringify(text)}`);
      }
    }),
    { numRuns: 20000 },
  );
  t.pass('20000 random values');
});

t.test('every JSON number and string, however escaped, is split whole', async (t) => {
  const hex = (code: number, upper: boolean) => code.toString(16).padStart(4, '0')[upper ? 'toUpperCase' : 'toLowerCase']();
  const char = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom('as-is', 'u', 'U'));
  const string = fc.array(char, { maxLength: 12 }).map((chars) => {
    let text = '"';
    for (const [code, how] of chars) {
      const c = String.fromCharCode(code);
      const plain = code >= 0x20 && c !== '"' && c !== '\\' && (code < 0xd800 || code > 0xdfff);
      text += how === 'as-is' && plain ? c : how === 'as-is' ? JSON.stringify(c).slice(1, -1) : `\\u${hex(code, how === 'U')}`;
    }
    return `${text}"`;
  });
  const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.bigInt()).map((n) => n.toString());
  fc.assert(
    fc.property(fc.oneof(string, number), (value) => {
      const text = `{"message":[${value}],"ack":"a"}`;
      JSON.parse(text); // the generator makes valid JSON only
      const split = splitMessage(text, DEPTH);
      if (split?.kind !== 'split' || split.body !== `[${value}]`) throw new Error(`not split whole: ${JSON.stringify(text)}`);
    }),
    { numRuns: 5000 },
  );
  t.pass('5000 random numbers and strings');
});

t.test('the last of duplicate message keys wins, as in JSON.parse; escaped keys count', async (t) => {
  const split = splitMessage('{"message":1,"action":"send","message":[2]}', DEPTH);
  t.same(split?.kind === 'split' && [JSON.parse(split.envelope), split.body], [{ message: 0, action: 'send' }, '[2]']);
  const escaped = splitMessage('{"mess\\u0061ge":{"a":1}}', DEPTH);
  t.equal(escaped?.kind === 'split' && escaped.body, '{"a":1}');
  t.same(splitMessage('{"action":"register","id":"x"}', DEPTH), { kind: 'no-message' });
  t.equal(splitMessage('[1]', DEPTH), undefined);
  t.equal(splitMessage('{"message":1} x', DEPTH), undefined);
});

t.test('depth: at the limit is fine, one more is too deep, and 100,000 levels cost no stack', async (t) => {
  const nested = (n: number) => `{"message":${'['.repeat(n)}${']'.repeat(n)}}`;
  t.equal(splitMessage(nested(DEPTH), DEPTH)?.kind, 'split');
  t.same(splitMessage(nested(DEPTH + 1), DEPTH), { kind: 'too-deep', path: '/message' });
  t.same(splitMessage(nested(100_000), DEPTH), { kind: 'too-deep', path: '/message' });
  t.same(
    splitMessage(`{"other":${'['.repeat(100_000)}${']'.repeat(100_000)},"message":1}`, DEPTH),
    { kind: 'too-deep', path: '/other' },
    'every field is limited, not only the message [SB-4.0-4]',
  );
  t.equal(nestsDeeper(`[${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}]`, DEPTH), true);
  t.equal(nestsDeeper(`["[[[[",${'['.repeat(DEPTH - 1)}${']'.repeat(DEPTH - 1)}]`, DEPTH), false, 'brackets in strings do not count');
  const deepIds = `{"ack":"a1","x":${'['.repeat(100_000)}${']'.repeat(100_000)},"ref":"r\\u0031"}`;
  t.same(topLevelIds(deepIds), { ack: 'a1', ref: 'r1' }, 'ids are read around a deep value, escapes decoded');
});

t.test('multi-byte characters anywhere: the span is in bytes, and the body is the text the sender wrote', async (t) => {
  const text = '{"ключ":"значение","message":{"名前":"東京 🚀","é":["ü",1.5e-3]},"ack":"a🙂"}';
  const bytes = new TextEncoder().encode(text);
  const span = findMessage(bytes, DEPTH);
  if (span?.kind !== 'span') return t.fail('not split');
  t.equal(new TextDecoder().decode(bytes.subarray(span.start, span.end)), '{"名前":"東京 🚀","é":["ü",1.5e-3]}');
  const split = splitMessage(bytes, DEPTH);
  t.same(split?.kind === 'split' && JSON.parse(split.envelope), { ключ: 'значение', message: 0, ack: 'a🙂' });
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), fc.string({ unit: 'grapheme' }), (message, ack) => {
      const frame = JSON.stringify({ action: 'send', dest: 'x', message, ack });
      const split = splitMessage(frame, DEPTH);
      if (split?.kind !== 'split' || split.body !== JSON.stringify(message)) throw new Error(`not split whole: ${frame}`);
    }),
    { numRuns: 2000 },
  );
});

t.test('decoding bytes and decoding the same frame as text give one result, good frames and refused ones alike [SB-4.0-1]', async (t) => {
  const frames = [
    '{"action":"send","dest":"b","message":{"x":[1,2,{"y":"é"}]},"ack":"1"}',
    '{"action":"register","id":"a"}',
    '{"action":"send","dest":"b","message":[1,]}',
    '{"action":"send","dest":"b","message":1} trailing',
    '[1,2]',
    '{"action":"nope"}',
    '{"action":"send","dest":"b","message":1,"extra":true,"ack":"k"}',
    `{"action":"send","ack":"deep","dest":"b","message":${'['.repeat(100)}${']'.repeat(100)}}`,
    `{"ack":"deep2",${'"x":'.repeat(1)}${'{"a":'.repeat(100)}1${'}'.repeat(100)},"action":"send"}`,
  ];
  for (const text of frames) {
    const bytes = new TextEncoder().encode(text);
    const fromBytes = decodeFrame(bytes, 1 << 20, 64);
    t.same(decode(text, bytes.length, 1 << 20, 64), fromBytes, text.slice(0, 60));
  }
  t.match(decodeFrame(new TextEncoder().encode(frames[0]), 1 << 20, 64), { ok: true, body: '{"x":[1,2,{"y":"é"}]}' });
  t.match(decodeFrame(new TextEncoder().encode(frames[7]), 1 << 20, 64), { ok: false, failure: { code: 'bad_frame', path: '/message', ack: 'deep' } });
  t.match(decodeFrame(new TextEncoder().encode(frames[8]), 1 << 20, 64), { ok: false, failure: { code: 'bad_frame', path: '/x', ack: 'deep2' } });
  t.match(decodeFrame(new TextEncoder().encode(frames[0]), 20, 64), { ok: false, failure: { code: 'too_large', ack: '1' } });
});

t.test('a frame cut short anywhere is never vouched for, and the scan never reads past the end', async (t) => {
  const text = '{"action":"send","dest":"b","message":{"s":"a\\u00e9\\n","n":-12.5e+3,"t":true,"f":false,"z":null,"l":[[],{}]},"ack":"1"}';
  const bytes = new TextEncoder().encode(text);
  t.equal(findMessage(bytes, DEPTH)?.kind, 'span');
  for (let cut = 0; cut < bytes.length; cut++) {
    const span = findMessage(bytes.subarray(0, cut), DEPTH);
    if (span?.kind === 'span') return t.fail(`vouched for ${JSON.stringify(text.slice(0, cut))}`);
  }
  t.pass(`${bytes.length} prefixes refused`);
});
