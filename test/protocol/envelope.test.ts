/**
 * The envelope split agrees with JSON.parse on every frame it vouches for, refuses what JSON.parse
 * refuses, and measures depth without using the stack (protocol.md section 4.0, [SB-4.3-5]).
 */
import t from 'tap';
import fc from 'fast-check';
import { nestsDeeper, splitMessage, topLevelIds } from '../../lib/protocol/envelope.js';

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
  // The scan reads strings char by char and numbers with its own pattern: pieces that make valid and nearly valid ones.
  const pieces = ['-', '0', '1', '9', '.', 'e', 'E', '+', '"', '\\', '\\u00e9', '\\u12', '\\n', '\\x', 'u', '0a', 'F', 'g', 'n', '/', '\u0001', '\u00e9', '\ud83d', ' ', ','];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 12 }), fc.boolean(), (parts, inArray) => {
      const value = parts.join('');
      const text = inArray ? `{"message":[${value}]}` : `{"message":${value}}`;
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
