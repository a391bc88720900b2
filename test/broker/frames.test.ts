/**
 * Transport, dialects and bad input (protocol.md sections 2, 4.0, 7, 9): every bad frame gets a
 * defined answer, harms no one else, and never takes the broker down.
 */
import t from 'tap';
import { request } from 'node:http';
import WebSocket from 'ws';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

t.test('upgrades to another path are refused with HTTP 404 [SB-2-1]', async (t) => {
  const { broker, port, url } = await startBroker(t, { path: '/broker' });
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => {});
  });
  t.equal(status, 404);
  const ok = await Peer.connect(url);
  t.equal(ok.ws.readyState, WebSocket.OPEN, 'the configured path works');
  await ok.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the broker\'s text frames arrive whole at every length class of the WebSocket header, in UTF-8 [SB-2-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  // `{"action":"message","message":"…","from":"a"}` is 44 bytes around an ASCII body: these frames cross
  // the 7-bit, 16-bit and 64-bit length forms (125/126 and 65535/65536 bytes).
  const bodies = [1, 78, 80, 81, 82, 83, 86, 65_488, 65_490, 65_491, 65_492, 65_493, 65_496, 70_000].map((n) => 'x'.repeat(n));
  bodies.push('é€'.repeat(40), 'é€'.repeat(26_300)); // two- and three-byte characters: bytes, not characters, count
  for (const body of bodies) {
    a.send({ action: 'send', dest: 'b', message: body });
    t.equal((await b.next((f) => f.action === 'message')).message, body, `${Buffer.byteLength(body)} bytes of body`);
  }
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('plain HTTP gets 426 Upgrade Required', async (t) => {
  const { port } = await startBroker(t);
  const status = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
  t.equal(status, 426);
});

t.test('the subprotocol switchboard.v1 selects the extended dialect; none or others select legacy [SB-2-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const extended = await Peer.connect(url);
  t.equal(extended.ws.protocol, 'switchboard.v1');
  const legacy = await Peer.connect(url, { extended: false });
  t.equal(legacy.ws.protocol, '');
  const other = new WebSocket(url, ['chat']);
  other.on('error', () => {});
  const opened = await new Promise<boolean>((resolve) => {
    other.once('open', () => resolve(true));
    other.once('error', () => resolve(false));
  });
  t.equal(opened && other.protocol, false, 'a client that offered only other subprotocols gets none (ws then fails it)');
  await extended.close();
  await legacy.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a binary message closes the connection with 1003 and harms no one else [SB-2-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const victim = await Peer.named(url, 'victim');
  const a = await Peer.named(url, 'a');
  a.ws.send(Buffer.from('{"action":"register","id":"x"}'), { binary: true });
  t.equal((await a.closed()).code, 1003);
  const b = await Peer.named(url, 'b');
  b.send({ action: 'send', dest: 'victim', message: 'fine' });
  t.match(await victim.next((f) => f.action === 'message'), { message: 'fine' });
  await victim.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('bad frames get a coded error naming the field; the connection stays open [SB-4.0-1] [SB-7-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const cases: Array<[string, Record<string, unknown>]> = [
    ['not json', { code: 'bad_frame', path: '' }],
    ['[1,2]', { code: 'bad_frame', path: '' }],
    ['null', { code: 'bad_frame', path: '' }],
    ['{"id":"x"}', { code: 'bad_frame', path: '/action' }],
    ['{"action":7}', { code: 'bad_frame', path: '/action' }],
    ['{"action":"dance"}', { code: 'unknown_action', path: '/action' }],
    ['{"action":"register"}', { code: 'bad_frame', path: '/id' }],
    ['{"action":"register","id":"x","extra":1}', { code: 'bad_frame', path: '/extra' }],
    ['{"action":"register","id":5}', { code: 'bad_frame', path: '/id' }],
    ['{"action":"send","dest":"b"}', { code: 'bad_frame', path: '/message' }],
    ['{"action":"send","dest":[],"message":1}', { code: 'bad_frame', path: '/dest' }],
    ['{"action":"send","dest":"b","message":1,"timeout":0}', { code: 'bad_frame', path: '/timeout' }],
    ['{"action":"send","dest":"b","message":1,"timeout":1.5}', { code: 'bad_frame', path: '/timeout' }],
    ['{"action":"answer","message":1}', { code: 'bad_frame', path: '/ack' }],
    ['{"action":"answer","ack":"x","error":{"code":"c"}}', { code: 'bad_frame', path: '/error' }],
  ];
  for (const [text, expected] of cases) {
    a.send(text);
    const frame = await a.next();
    t.match(frame, { action: 'error', ...expected }, text);
    t.type(frame.message, 'string');
  }
  t.equal(a.ws.readyState, WebSocket.OPEN);
  t.equal(broker.stats().badFrames, cases.length);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the error for a refused frame carries its ack and ref [SB-4.0-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'no spaces allowed', message: 1, ack: 'r1', ref: 's1' });
  t.match(await a.next(), { code: 'bad_frame', path: '/dest', ack: 'r1', ref: 's1' });
  a.send({ action: 'shout', ack: 'r2' });
  t.match(await a.next(), { code: 'unknown_action', ack: 'r2' });
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'x'.repeat(129) });
  const frame = await a.next();
  t.equal(frame.ack, undefined, 'an ack too long to be one is not echoed');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client\'s bad frames are dropped without an answer [SB-4.0-3] [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const legacy = await Peer.named(url, 'legacy', { extended: false });
  for (const text of ['not json', '{"action":"dance"}', '{"action":"send","dest":"nobody","message":1,"ack":"a","ref":"r"}']) {
    legacy.send(text);
  }
  legacy.send({ action: 'answer', ack: 'made-up', message: 1 });
  t.same(await legacy.quiet(100), []);
  t.equal(legacy.ws.readyState, WebSocket.OPEN);
  await legacy.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('more bad frames than the budget closes with 1008; others are unaffected [SB-7-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { badFrameBudget: 5 } });
  const victim = await Peer.named(url, 'victim');
  const friend = await Peer.named(url, 'friend');
  const noisy = await Peer.connect(url);
  const legacyNoisy = await Peer.connect(url, { extended: false });
  for (let i = 0; i < 5; i++) {
    noisy.send('garbage');
    legacyNoisy.send('garbage');
  }
  t.same(await noisy.quiet(50).then((f) => f.length), 5, 'within the budget: an error each, still open');
  t.equal(noisy.ws.readyState, WebSocket.OPEN);
  noisy.send('one too many');
  legacyNoisy.send('one too many');
  t.match(await noisy.closed(), { code: 1008 });
  t.match(await legacyNoisy.closed(), { code: 1008 });
  friend.send({ action: 'send', dest: 'victim', message: 'unaffected', ack: 'r' });
  const m = await victim.next((f) => f.action === 'message');
  victim.send({ action: 'answer', ack: m.ack as string, message: 'yes' });
  t.match(await friend.next(), { action: 'answer', message: 'yes' });
  await victim.close();
  await friend.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('refusals that are not bad frames do not spend the budget [SB-7-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { badFrameBudget: 2 } });
  const a = await Peer.named(url, 'a');
  for (let i = 0; i < 5; i++) {
    a.send({ action: 'send', dest: 'nobody', message: 1, ack: `r${i}` });
    t.match(await a.next(), { code: 'no_responders' });
    a.send({ action: 'answer', ack: `late${i}`, message: 1 });
    t.match(await a.next(), { code: 'unknown_ack' });
  }
  t.equal(a.ws.readyState, WebSocket.OPEN);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a frame over maxMessageBytes gets too_large; over twice that the transport closes 1009 [SB-9-1]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxMessageBytes: 1000 } });
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'x'.repeat(1200), ack: 'big', ref: 'r' });
  t.match(await a.next(), { action: 'error', code: 'too_large', ack: 'big', ref: 'r' }, 'with its ack and ref [SB-4.0-2]');
  t.same(await b.quiet(30), []);
  a.send({ action: 'send', dest: 'b', message: 'é'.repeat(490) });
  t.match(await a.next(), { code: 'too_large' }, 'the limit counts UTF-8 bytes');
  a.send({ action: 'send', dest: 'b', message: 'x'.repeat(2100) });
  t.equal((await a.closed()).code, 1009);
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a fault inside a handler gives internal_error; the connection and the broker go on [SB-7-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const faults: Error[] = [];
  broker.on('error', (error) => faults.push(error));
  // A fault of the broker's own code: its name registry fails once.
  const names = broker.names as { take(...args: unknown[]): void };
  const take = names.take;
  names.take = () => {
    names.take = take;
    throw new Error('registry bug');
  };
  const a = await Peer.connect(url);
  a.send({ action: 'register', id: 'a' });
  t.match(await a.next((f) => f.action === 'error'), { code: 'internal_error' });
  t.equal(faults.length, 1);
  t.equal(broker.stats().internalErrors, 1);
  a.send({ action: 'register', id: 'a' });
  t.match(await a.next((f) => f.action === 'registered'), { id: 'a' });
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'still here' });
  t.match(await b.next((f) => f.action === 'message'), { message: 'still here' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('invalid UTF-8 in a text frame closes that connection with 1007 only', async (t) => {
  const { broker, url } = await startBroker(t);
  const victim = await Peer.named(url, 'victim');
  const a = await Peer.connect(url);
  // ws validates UTF-8 on receive; send raw bytes as a text frame through the socket's sender.
  (a.ws as unknown as { _sender: { send(d: Buffer, o: object, cb?: () => void): void } })._sender.send(
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    { binary: false, fin: true, mask: true, compress: false, rsv1: false, opcode: 1, readOnly: false },
  );
  t.equal((await a.closed()).code, 1007);
  t.equal(victim.ws.readyState, WebSocket.OPEN);
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a broker event listener that throws is a fault: the client\'s action still happens, the broker goes on', async (t) => {
  const { broker, url } = await startBroker(t);
  const faults: Error[] = [];
  broker.on('error', (error) => faults.push(error));
  for (const event of ['connection', 'registered', 'unregistered', 'disconnect'] as const) {
    broker.on(event, () => {
      throw new Error(`${event} listener bug`);
    });
  }
  const a = await Peer.named(url, 'a');
  a.send({ action: 'unregister', id: 'a' });
  t.match(await a.next((f) => f.action === 'unregistered'), { id: 'a' });
  await a.close();
  t.same(await drained(broker), NOTHING_HELD, 'the connection was cleaned up although its listeners threw');
  t.same(faults.map((f) => f.message).sort(), ['connection listener bug', 'disconnect listener bug', 'registered listener bug', 'unregistered listener bug']);
});

t.test('a frame nested too deeply outside message is refused cheaply, naming the field [SB-4.0-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const deep = '['.repeat(400_000) + ']'.repeat(400_000);
  const frames: Array<[string, string]> = [
    [`{"action":"send","dest":"a","message":1,"ack":${deep}}`, '/ack'],
    [`{"action":"send","dest":${deep},"message":1,"ref":"r1"}`, '/dest'],
    [`{"action":"send","dest":"a","message":1,"other":${deep},"ack":"q1"}`, '/other'],
    [deep, ''],
    [`["action","send",${deep}]`, ''], // not an object: nothing to split
  ];
  // The broker runs in this process: watch every JSON.parse it makes while it refuses these frames. A
  // whole parse of 400,000 levels (about 0.3 s of CPU here) is what the depth bound must spare it; the
  // check is on what is parsed, not on a time, so a busy machine cannot fail it.
  const parse = JSON.parse;
  let longest = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    longest = Math.max(longest, String(text).length);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  t.teardown(() => {
    JSON.parse = parse;
  });
  for (const [text, path] of frames) {
    longest = 0;
    a.ws.send(text);
    t.match(await a.next(), { action: 'error', code: 'bad_frame', path }, `path ${JSON.stringify(path)}`);
    t.ok(longest < 10_000, `never a whole parse of 400,000 levels: the longest text parsed had ${longest} characters`);
  }
  JSON.parse = parse;
  t.match(a.received.find((f) => f.path === '/dest'), { ref: 'r1' }, 'the ref of a too-deep frame is echoed');
  t.match(a.received.find((f) => f.path === '/other'), { ack: 'q1' }, 'and its ack');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('every reply to a control frame, and every error it causes, carries its ref; a legacy client never gets one [SB-4.0-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.connect(url);
  const b = await Peer.connect(url);
  const old = await Peer.connect(url, { extended: false });
  a.send({ action: 'register', id: 'a', ref: 'c1' });
  a.send({ action: 'register', id: 'a2', ref: 'c2' });
  a.send({ action: 'subscribe', topic: 'news', ref: 'c3' });
  a.send({ action: 'unsubscribe', topic: 'news', ref: 'c4' });
  t.same(await a.next(), { action: 'registered', id: 'a', ref: 'c1' });
  t.same(await a.next(), { action: 'registered', id: 'a2', ref: 'c2' });
  t.same(await a.next(), { action: 'subscribed', topic: 'news', ref: 'c3' });
  t.same(await a.next(), { action: 'unsubscribed', topic: 'news', ref: 'c4' });
  b.send({ action: 'subscribe', topic: 'news', ref: 'c5' });
  b.send({ action: 'register', id: 'a', ref: 'c6' });
  t.match(await b.next(), { action: 'error', code: 'not_registered', ref: 'c5' });
  t.match(await b.next(), { action: 'error', code: 'name_taken', id: 'a', ref: 'c6' });
  a.send({ action: 'unregister', ref: 'c7' });
  a.send({ action: 'auth', token: 'x', ref: 'c8' });
  a.send({ action: 'auth', token: 'x', ref: 'c9' });
  old.send({ action: 'register', id: 'old', ref: 'c10' });
  t.same(await a.next(), { action: 'unregistered', id: 'a', ref: 'c7' });
  t.same(await a.next(), { action: 'unregistered', id: 'a2', ref: 'c7' });
  t.same(await a.next(), { action: 'authenticated', identity: 'anonymous', ref: 'c8' });
  t.match(await a.next(), { action: 'error', code: 'forbidden', ref: 'c9' });
  t.same(await old.next(), { action: 'registered', id: 'old' });
  for (const p of [a, b, old]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('hello tells the edition, the features and the limits, also before auth [SB-4.10-1]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: { anonymous: undefined }, limits: { maxNamesPerConnection: 3 } });
  const a = await Peer.connect(url);
  a.send({ action: 'hello', ref: 'h1' });
  const hello = await a.next();
  t.match(hello, { action: 'hello', protocol: 'switchboard.v1', edition: 3, ref: 'h1', limits: { maxNamesPerConnection: 3, maxMessageBytes: 1048576 } });
  t.ok((hello.features as string[]).includes('ref'));
  for (const feature of ['wildcards', 'streams', 'services', 'trace']) t.ok((hello.features as string[]).includes(feature), `edition 3 lists ${feature}`);
  t.equal((hello.limits as Record<string, number>).streamWindow, 16, 'and the streamWindow limit');
  a.send({ action: 'register', id: 'a' });
  t.match(await a.next(), { code: 'unauthorized' }, 'anything else still needs auth');
  await a.closed();
  t.same(await drained(broker), NOTHING_HELD);
});
