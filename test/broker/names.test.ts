/**
 * Names: the grammar, ownership, register and unregister (protocol.md sections 3, 4.1, 4.2).
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

t.test('registering a free name answers registered [SB-4.1-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.connect(url);
  a.send({ action: 'register', id: 'calc' });
  t.same(await a.next(), { action: 'registered', id: 'calc' });
  t.equal(broker.stats().names, 1);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a name held by a live connection is refused with name_taken; the holder keeps it [SB-4.1-2] [SB-3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const holder = await Peer.named(url, 'calc');
  const thief = await Peer.connect(url);
  thief.send({ action: 'register', id: 'calc' });
  t.match(await thief.next(), { action: 'error', code: 'name_taken', id: 'calc' });
  const sender = await Peer.named(url, 'sender');
  sender.send({ action: 'send', dest: 'calc', message: 'still yours?' });
  t.match(await holder.next((f) => f.action === 'message'), { message: 'still yours?', from: 'sender' });
  t.same(await thief.quiet(50), [], 'the thief received nothing');
  for (const p of [holder, thief, sender]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('racing registrations of one name: exactly one connection wins [SB-3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const peers = await Promise.all(Array.from({ length: 8 }, () => Peer.connect(url)));
  for (const p of peers) p.send({ action: 'register', id: 'race' });
  const answers = await Promise.all(peers.map((p) => p.next()));
  t.equal(answers.filter((f) => f.action === 'registered').length, 1);
  t.equal(answers.filter((f) => f.code === 'name_taken').length, 7);
  t.equal(broker.stats().names, 1);
  for (const p of peers) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('registering a name the connection already holds answers registered and changes nothing [SB-4.1-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'calc');
  a.send({ action: 'register', id: 'calc' });
  t.same(await a.next(), { action: 'registered', id: 'calc' });
  t.equal(broker.stats().names, 1);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client whose register is refused is closed with 1008 and the code [SB-4.1-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const holder = await Peer.named(url, 'calc', { extended: false });
  const legacy = await Peer.connect(url, { extended: false });
  legacy.send({ action: 'register', id: 'calc' });
  t.same(await legacy.closed(), { code: 1008, reason: 'name_taken' });
  t.same(legacy.received, [], 'no frame a legacy client does not know');
  await holder.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a connection may hold several names up to the limit; the oldest is its from [SB-4.1-5] [SB-3-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxNamesPerConnection: 2 } });
  const a = await Peer.named(url, 'first');
  a.send({ action: 'register', id: 'second' });
  await a.next((f) => f.action === 'registered' && f.id === 'second');
  a.send({ action: 'register', id: 'third' });
  t.match(await a.next(), { action: 'error', code: 'limit_exceeded', id: 'third', limit: 'maxNamesPerConnection' });
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1 });
  t.match(await b.next((f) => f.action === 'message'), { from: 'first' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('names outside the grammar are refused as bad frames [SB-3-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.connect(url);
  const bad = ['', 'has space', 'star*', 'gt>', 'x'.repeat(129), 'tab\t', 'é', '\ud800', 'q?', 'h#', 'p+'];
  for (const id of bad) {
    a.send({ action: 'register', id });
    t.match(await a.next(), { action: 'error', code: 'bad_frame', path: '/id' }, JSON.stringify(id));
  }
  a.send({ action: 'register', id: 'x'.repeat(128) });
  t.match(await a.next(), { action: 'registered' }, '128 characters is allowed');
  t.equal(broker.stats().names, 1);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('__proto__, constructor and toString are ordinary, separate names [SB-3-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
  const peers = await Promise.all(names.map((name) => Peer.named(url, name)));
  const sender = await Peer.named(url, 'sender');
  for (const name of names) sender.send({ action: 'send', dest: name, message: name });
  for (const [i, p] of peers.entries()) {
    t.match(await p.next((f) => f.action === 'message'), { message: names[i] });
    t.same(await p.quiet(20), [], `${names[i]} received only its own message`);
  }
  const other = await Peer.connect(url);
  other.send({ action: 'register', id: '__proto__' });
  t.match(await other.next(), { code: 'name_taken' });
  for (const p of [...peers, sender, other]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('unregister with an id releases that name [SB-4.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'calc');
  a.send({ action: 'unregister', id: 'calc' });
  t.same(await a.next(), { action: 'unregistered', id: 'calc' });
  const b = await Peer.connect(url);
  b.send({ action: 'register', id: 'calc' });
  t.same(await b.next(), { action: 'registered', id: 'calc' }, 'the name is free again');
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('unregister without an id releases every name, one unregistered each [SB-4.2-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'one');
  a.send({ action: 'register', id: 'two' });
  await a.next((f) => f.action === 'registered');
  a.send({ action: 'unregister' });
  t.same(await a.next(), { action: 'unregistered', id: 'one' });
  t.same(await a.next(), { action: 'unregistered', id: 'two' });
  t.equal(broker.stats().names, 0);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('unregister of a name not held changes nothing: not_registered, or silence for legacy [SB-4.2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const holder = await Peer.named(url, 'calc');
  const a = await Peer.connect(url);
  a.send({ action: 'unregister', id: 'calc' });
  t.match(await a.next(), { action: 'error', code: 'not_registered', id: 'calc' });
  a.send({ action: 'unregister' });
  t.match(await a.next(), { action: 'error', code: 'not_registered' });
  const legacy = await Peer.connect(url, { extended: false });
  legacy.send({ action: 'unregister', id: 'calc' });
  t.same(await legacy.quiet(50), []);
  t.equal(broker.stats().names, 1, 'the holder still holds it');
  for (const p of [holder, a, legacy]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a closed connection releases its names exactly once [SB-4.2-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const released: string[] = [];
  broker.on('unregistered', (name) => released.push(name));
  const a = await Peer.named(url, 'one');
  a.send({ action: 'register', id: 'two' });
  await a.next((f) => f.action === 'registered');
  a.ws.terminate();
  t.same(await drained(broker), NOTHING_HELD);
  t.same(released.sort(), ['one', 'two']);
  const b = await Peer.named(url, 'one');
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
  t.same(released.sort(), ['one', 'one', 'two']);
});

t.test('registering a held name again in the other mode is refused with name_conflict [SB-4.1-3] [SB-6.4-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'solo');
  a.send({ action: 'register', id: 'solo', shared: true });
  t.match(await a.next(), { action: 'error', code: 'name_conflict', id: 'solo' });
  a.send({ action: 'register', id: 'pool', shared: true });
  t.same(await a.next(), { action: 'registered', id: 'pool' });
  a.send({ action: 'register', id: 'pool' });
  t.match(await a.next(), { action: 'error', code: 'name_conflict', id: 'pool' });
  a.send({ action: 'register', id: 'pool', shared: true });
  t.same(await a.next(), { action: 'registered', id: 'pool' }, 'the same mode again is answered registered');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});
