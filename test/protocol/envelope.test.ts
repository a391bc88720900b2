/**
 * The envelope split agrees with JSON.parse on every frame it vouches for, refuses what JSON.parse
 * refuses, and measures depth without using the stack (protocol.md section 4.0, [SB-4.3-5]).
 */
import t from 'tap';
import fc from 'fast-check';
import { splitMessage } from '../../lib/protocol/envelope.js';

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
  t.same(splitMessage(nested(DEPTH + 1), DEPTH), { kind: 'too-deep' });
  t.same(splitMessage(nested(100_000), DEPTH), { kind: 'too-deep' });
  t.equal(splitMessage(`{"other":${'['.repeat(100_000)}${']'.repeat(100_000)},"message":1}`, DEPTH)?.kind, 'split', 'only the message is limited');
});
