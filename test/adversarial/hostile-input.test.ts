/**
 * Hostile names and bodies (robustness.md, "Frames and validation"; protocol.md sections 3, 4.0, 4.3):
 * `__proto__`, `constructor` and `toString` as names, ids and body keys; bodies nested too deeply to
 * serialise; lone surrogates. Names are ordinary and isolated or refused by the grammar, bodies arrive
 * unchanged or are refused with a code, and nothing crashes or is half-sent.
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';
import { startVictim } from '../fixtures/victim.js';

const isError = (f: Frame) => f.action === 'error';
const isMessage = (f: Frame) => f.action === 'message';
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype', 'isPrototypeOf'];

/** Collect the raw text of every frame `peer` receives, to compare bodies byte for byte. */
function rawTexts(peer: Peer): string[] {
  const texts: string[] = [];
  peer.ws.on('message', (data) => texts.push(data.toString()));
  return texts;
}

const nested = (depth: number, open: string, close: string, core = '1') => open.repeat(depth) + core + close.repeat(depth);

t.test('names that are Object.prototype keys are held by nobody until registered [SB-3-3] [SB-6-6]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  for (const name of PROTOTYPE_NAMES) {
    a.send({ action: 'send', dest: name, message: 1, ack: `to-${name}`, ref: `ref-${name}` });
    t.same(await a.next(), { action: 'sent', ref: `ref-${name}`, ack: `to-${name}`, delivered: [], unknown: [name] });
    t.match(await a.next(isError), { action: 'error', code: 'no_responders', ack: `to-${name}` }, `${name} is unknown`);
    a.send({ action: 'unregister', id: name });
    t.match(await a.next(isError), { action: 'error', code: 'not_registered', id: name });
  }
  t.equal(broker.stats().names, 1);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('__proto__, constructor, toString and friends are ordinary names, kept apart [SB-3-3] [SB-3-2] [SB-4.1-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const holders = new Map<string, Peer>();
  for (const name of PROTOTYPE_NAMES) holders.set(name, await Peer.named(url, name));
  t.equal(broker.stats().names, PROTOTYPE_NAMES.length, 'each is one name');
  const intruder = await Peer.named(url, 'intruder');
  for (const name of PROTOTYPE_NAMES) {
    intruder.send({ action: 'register', id: name });
    t.match(await intruder.next(isError), { action: 'error', code: 'name_taken', id: name }, `${name} is taken`);
  }
  for (const name of PROTOTYPE_NAMES) {
    intruder.send({ action: 'send', dest: name, message: { for: name }, ack: name });
    const message = await holders.get(name)!.next(isMessage);
    t.match(message, { message: { for: name }, from: 'intruder' }, `${name} gets its own message`);
    holders.get(name)!.send({ action: 'answer', ack: message.ack as string, message: `from ${name}` });
    t.same(await intruder.next(), { action: 'answer', ack: name, from: name, message: `from ${name}` });
  }
  for (const [name, holder] of holders) t.same(await holder.quiet(20), [], `${name} got nothing else`);
  holders.get('__proto__')!.send({ action: 'unregister', id: '__proto__' });
  t.match(await holders.get('__proto__')!.next(), { action: 'unregistered', id: '__proto__' });
  t.equal(broker.stats().names, PROTOTYPE_NAMES.length, '__proto__ released, intruder still counted');
  intruder.send({ action: 'send', dest: ['__proto__', 'constructor'], message: 2, ref: 'r' });
  t.same(await intruder.next(), { action: 'sent', ref: 'r', delivered: ['constructor'], unknown: ['__proto__'] });
  t.match(await holders.get('constructor')!.next(isMessage), { message: 2 });
  for (const peer of [...holders.values(), intruder]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('names outside the grammar are refused as bad frames: lone surrogates, controls, wildcards [SB-3-1] [SB-4.0-1]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { badFrameBudget: 100 } });
  const a = await Peer.named(url, 'a');
  // JSON escapes, so lone surrogates and controls travel as valid UTF-8 text.
  const bad = ['"\\ud800"', '"a\\udc00b"', '"\\ud83d"', '""', '"a\\u0000"', '"a\\nb"', '"a b"', '"a*"', '"a>"', '"#"', '"é"', '"\\u202etxt"', `"${'x'.repeat(129)}"`, '"ａ"'];
  for (const name of bad) {
    a.send(`{"action":"register","id":${name}}`);
    t.match(await a.next(isError), { action: 'error', code: 'bad_frame', path: '/id' }, `register ${name}`);
    a.send(`{"action":"send","dest":[${name}],"message":1,"ack":"q"}`);
    t.match(await a.next(isError), { action: 'error', code: 'bad_frame', ack: 'q' }, `send to ${name}`);
  }
  t.equal(broker.stats().names, 1);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('Object.prototype keys in a frame are fields like any other: extra fields are refused [SB-4.0-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.connect(url);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['{"action":"register","id":"x","__proto__":{"id":"y"}}', { code: 'bad_frame', path: '/__proto__' }],
    ['{"__proto__":{"action":"register","id":"p"}}', { code: 'bad_frame', path: '/action' }],
    ['{"action":"register","id":"x","constructor":{"prototype":{"admin":true}}}', { code: 'bad_frame', path: '/constructor' }],
    ['{"action":"__proto__"}', { code: 'unknown_action' }],
    ['{"action":"constructor"}', { code: 'unknown_action' }],
    ['{"action":"toString"}', { code: 'unknown_action' }],
  ];
  for (const [text, expected] of cases) {
    a.send(text);
    t.match(await a.next(isError), { action: 'error', ...expected }, text);
  }
  t.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype is untouched');
  t.equal(broker.stats().names, 0, 'nothing was registered');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('bodies with __proto__ and constructor keys are delivered byte for byte, both ways [SB-4.3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const legacy = await Peer.named(url, 'legacy', { extended: false });
  const atA = rawTexts(a);
  const atB = rawTexts(b);
  const atLegacy = rawTexts(legacy);
  const body = '{"__proto__":{"admin":true,"__proto__":[1]},"constructor":{"prototype":{"polluted":1}},"toString":"x","list":[{"__proto__":null}]}';
  a.send(`{"action":"send","dest":["b","legacy"],"message":${body}}`);
  await b.next(isMessage);
  await legacy.next(isMessage);
  t.equal(atB.at(-1), `{"action":"message","message":${body},"from":"a"}`);
  t.equal(atLegacy.at(-1), `{"action":"message","message":${body},"from":"a"}`);
  a.send(`{"action":"send","dest":"b","message":${body},"ack":"__proto__"}`);
  const request = await b.next(isMessage);
  t.equal(atB.at(-1), `{"action":"message","message":${body},"from":"a","ack":"${request.ack as string}"}`);
  b.send(`{"action":"answer","ack":"${request.ack as string}","message":${body}}`);
  await a.next((f) => f.action === 'answer');
  t.equal(atA.at(-1), `{"action":"answer","ack":"__proto__","from":"b","message":${body}}`);
  t.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype is untouched');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  for (const peer of [a, b, legacy]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('deeply nested sends are forwarded byte for byte or refused with bad_frame, never half-sent [SB-4.3-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const victim = await startVictim(url);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  const atB = rawTexts(b);
  const outcomes = new Set<string>();
  let n = 0;
  for (const depth of [100, 1000, 3000, 10_000, 100_000, 150_000]) {
    for (const [open, close] of [['[', ']'], ['{"k":', '}']]) {
      const body = nested(depth, open, close);
      const ack = `deep-${++n}`;
      // With a ref, the first frame back is the delivery report, unless the send was refused [SB-4.3-3].
      a.send(`{"action":"send","dest":["b","c"],"message":${body},"ack":"${ack}","ref":"${ack}"}`);
      const reply = await a.next((f) => f.ack === ack);
      if (reply.action === 'sent') {
        outcomes.add('forwarded');
        const atC = await c.next(isMessage);
        const request = await b.next(isMessage);
        t.equal(atB.at(-1), `{"action":"message","message":${body},"from":"a","ack":"${request.ack as string}"}`, `depth ${depth} ${open}: forwarded unchanged`);
        t.equal(atC.from, 'a', 'and to every destination');
        b.send({ action: 'answer', ack: request.ack as string, message: 'ok' });
        t.match(await a.next((f) => f.ack === ack), { action: 'answer', message: 'ok' });
      } else {
        outcomes.add('refused');
        t.match(reply, { action: 'error', code: 'bad_frame', path: '/message' }, `depth ${depth} ${open}: refused`);
        t.same(await b.quiet(20), [], 'b got nothing');
        t.same(await c.quiet(0), [], 'c got nothing');
      }
      await victim.check(t, `after depth ${depth} ${open}`);
    }
  }
  t.same(outcomes, new Set(['forwarded', 'refused']), 'both outcomes were exercised');
  for (const peer of [a, b, c]) await peer.close();
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a deeply nested answer is refused or delivered, and the request still ends in exactly one outcome [SB-6-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const faults: Error[] = [];
  broker.on('error', (error) => faults.push(error));
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'q', ack: 'r1', timeout: 1000 });
  const request = await b.next(isMessage);
  b.send(`{"action":"answer","ack":"${request.ack as string}","message":${nested(100_000, '[', ']')}}`);
  const atB = await b.next((f) => f.action === 'error').catch(() => undefined);
  t.not(atB?.code, 'internal_error', 'the responder is told what was wrong with its answer, not internal_error');
  // Whatever the broker did with the answer, the sender must get one outcome for r1 before its deadline.
  const outcome = await a.next((f) => f.ack === 'r1', 1500).catch(() => undefined);
  t.ok(outcome, 'the sender gets an outcome for r1', { outcome, atB, faults: faults.map(String) });
  if (atB?.code === 'bad_frame') {
    t.match(outcome, { action: 'error', code: 'timeout' }, 'a refused answer leaves the request to its deadline');
  }
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('lone surrogates in bodies, keys, acks, refs and error answers travel unchanged', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const legacy = await Peer.named(url, 'legacy', { extended: false });
  const body = '{"\\ud800key":"\\udfff","pair":"\\ud83d\\ude00","mixed":["a\\udc00b","\\ud800"]}';
  const expected = JSON.parse(body) as unknown;
  a.send(`{"action":"send","dest":["b","legacy"],"message":${body},"ack":"\\udc00","ref":"\\ud800"}`);
  t.same(await a.next(), { action: 'sent', ref: '\ud800', ack: '\udc00', delivered: ['b', 'legacy'], unknown: [] });
  const atB = await b.next(isMessage);
  const atLegacy = await legacy.next(isMessage);
  t.same(atB.message, expected, 'the body arrives with its lone surrogates');
  t.same(atLegacy.message, expected, 'also at a legacy client');
  b.send(`{"action":"answer","ack":"${atB.ack as string}","error":{"code":"\\ud800","message":"\\udfff"},"from":"\\ud800"}`);
  t.same(await a.next(), { action: 'answer', ack: '\udc00', from: 'b', error: { code: '\ud800', message: '\udfff' } });
  legacy.send({ action: 'answer', ack: atLegacy.ack as string, message: 'late' });
  t.same(await legacy.quiet(30), [], 'the loser is dropped quietly');
  a.send(`{"action":"${'x'.repeat(63)}\\ud83d\\ude00"}`);
  t.match(await a.next(isError), { action: 'error', code: 'unknown_action' }, 'an error message cut inside a pair is still sent');
  for (const peer of [a, b, legacy]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});
