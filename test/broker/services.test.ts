/**
 * Services at the broker (protocol.md section 14): `announce` keeps a contract while the name has holders,
 * `services` lists what the identity may send to, with members and the stats the broker measured; a
 * legacy client sees none of it.
 */
import t from 'tap';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const ADD = {
  request: { type: 'object', required: ['a', 'b'], properties: { a: { type: 'number' }, b: { type: 'number' } } },
  answer: { type: 'number' },
  errors: ['overflow'],
};
const announce = (id: string, version = '1.0.0', ref = 'a1') => ({ action: 'announce', id, version, methods: { add: ADD }, ref });
const isServices = (f: Frame) => f.action === 'services';
const isMessage = (f: Frame) => f.action === 'message';

async function listed(peer: Peer, filter?: string): Promise<Frame[]> {
  peer.send(filter === undefined ? { action: 'services', ref: 'l' } : { action: 'services', id: filter, ref: 'l' });
  return (await peer.next(isServices)).services as Frame[];
}

t.test('an announce from the holder is kept and listed with its members; from a non-holder it is not_registered [SB-14-1] [SB-14-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await Peer.named(url, 'calc');
  const web = await Peer.named(url, 'web');
  web.send(announce('calc', '1.0.0', 'x'));
  t.match(await web.next(), { action: 'error', code: 'not_registered', id: 'calc', ref: 'x' });
  calc.send({ ...announce('calc', '1.2.0'), description: 'arithmetic' });
  t.same(await calc.next(), { action: 'announced', id: 'calc', ref: 'a1' });
  const list = await listed(web);
  t.same(list, [
    {
      id: 'calc',
      version: '1.2.0',
      methods: { add: ADD },
      members: 1,
      stats: { requests: 0, errors: 0, timeouts: 0, methods: { add: { requests: 0, errors: 0, timeouts: 0 } } },
      description: 'arithmetic',
    },
  ]);
  t.same(await listed(web, 'nothing'), [], 'a filter on a name that is no service lists nothing');
  for (const p of [calc, web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a contract goes when the last holder of its name leaves, and stays while a pool member remains [SB-14-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const members: Peer[] = [];
  for (let i = 0; i < 2; i++) {
    const member = await Peer.connect(url);
    member.send({ action: 'register', id: 'pool', shared: true });
    await member.next((f) => f.action === 'registered');
    member.send(announce('pool', '2.0.0'));
    t.match(await member.next(), { action: 'announced', id: 'pool' });
    members.push(member);
  }
  const web = await Peer.named(url, 'web');
  t.match(await listed(web), [{ id: 'pool', members: 2, version: '2.0.0' }]);
  members[1].send(announce('pool', '3.0.0', 'v3'));
  t.match(await members[1].next(), { action: 'error', code: 'name_conflict', id: 'pool', ref: 'v3' }, 'a pool serves one version');
  const released = new Promise((resolve) => broker.once('unregistered', resolve));
  await members[0].close();
  await released;
  t.match(await listed(web), [{ id: 'pool', members: 1 }]);
  members[1].send({ action: 'unregister', id: 'pool' });
  await members[1].next((f) => f.action === 'unregistered');
  t.same(await listed(web), [], 'gone with its last holder');
  members[1].send({ action: 'register', id: 'pool', shared: true });
  await members[1].next((f) => f.action === 'registered');
  t.same(await listed(web), [], 'a name registered again has no contract until announced');
  for (const p of [members[1], web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('stats count the requests, errors and timeouts of two services, by method; other names cost nothing [SB-14-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await Peer.named(url, 'calc');
  const echo = await Peer.named(url, 'echo');
  const plain = await Peer.named(url, 'plain');
  const web = await Peer.named(url, 'web');
  calc.send(announce('calc'));
  await calc.next((f) => f.action === 'announced');
  echo.send({ action: 'announce', id: 'echo', version: '0.1.0', methods: { say: { request: {}, answer: {} } } });
  await echo.next((f) => f.action === 'announced');

  const ask = async (peer: Peer, dest: string, ack: string, event?: string, timeout?: number) => {
    web.send({ action: 'send', dest, message: { a: 1, b: 2 }, ack, ...(event === undefined ? {} : { event }), ...(timeout === undefined ? {} : { timeout }) });
    return peer.next(isMessage);
  };
  let m = await ask(calc, 'calc', 'r1', 'add');
  t.same(m, { action: 'message', message: { a: 1, b: 2 }, from: 'web', ack: m.ack, event: 'add' }, 'a method call is delivered as any request [SB-14-2]');
  calc.send({ action: 'answer', ack: m.ack as string, message: 3 });
  await web.next((f) => f.ack === 'r1');
  m = await ask(calc, 'calc', 'r2', 'add');
  calc.send({ action: 'answer', ack: m.ack as string, error: { code: 'overflow', message: 'too big' } });
  await web.next((f) => f.ack === 'r2');
  m = await ask(calc, 'calc', 'r3', 'no-such-method');
  calc.send({ action: 'answer', ack: m.ack as string, error: { code: 'unknown_method', message: 'no' } });
  await web.next((f) => f.ack === 'r3');
  await ask(calc, 'calc', 'r4', 'add', 50);
  await web.next((f) => f.ack === 'r4' && f.code === 'timeout');
  m = await ask(echo, 'echo', 'r5', 'say');
  echo.send({ action: 'answer', ack: m.ack as string, message: 'hi' });
  await web.next((f) => f.ack === 'r5');
  m = await ask(plain, 'plain', 'r6');
  plain.send({ action: 'answer', ack: m.ack as string, message: 1 });
  await web.next((f) => f.ack === 'r6');

  const list = await listed(web);
  t.same(list.map((s) => s.id), ['calc', 'echo'], 'only announced names are services');
  const [calcStats, echoStats] = list.map((s) => s.stats as Frame);
  t.match(calcStats, { requests: 4, errors: 2, timeouts: 1 });
  t.match(calcStats.methods, { add: { requests: 3, errors: 1, timeouts: 1 } });
  t.same(Object.keys(calcStats.methods as Frame), ['add'], 'an event that is no method counts for the service only');
  t.match(echoStats, { requests: 1, errors: 0, timeouts: 0, methods: { say: { requests: 1 } } });
  t.ok(typeof calcStats.p50Ms === 'number' && typeof calcStats.p99Ms === 'number' && (calcStats.p50Ms as number) <= (calcStats.p99Ms as number), 'latency of the answers');
  t.same([...broker.services.names()].sort(), ['calc', 'echo'], 'the broker keeps nothing for a name that is no service');
  for (const p of [calc, echo, plain, web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the listing shows only services the identity may send to [SB-14-4]', async (t) => {
  const hash = (token: string) => sha256(token).toString('hex');
  const policy = tokenPolicy([
    { id: 'server', tokenSha256: hash('s'), permissions: { register: ['*'], send: ['*'] } },
    { id: 'web', tokenSha256: hash('w'), permissions: { register: ['web'], send: ['calc'] } },
  ]);
  const { broker, url } = await startBroker(t, { auth: policy });
  const authed = async (token: string, name: string) => {
    const peer = await Peer.connect(url);
    peer.send({ action: 'auth', token });
    await peer.next((f) => f.action === 'authenticated');
    peer.send({ action: 'register', id: name });
    await peer.next((f) => f.action === 'registered');
    return peer;
  };
  const calc = await authed('s', 'calc');
  const secret = await authed('s', 'secret');
  for (const [peer, id] of [[calc, 'calc'], [secret, 'secret']] as const) {
    peer.send(announce(id));
    await peer.next((f) => f.action === 'announced');
  }
  const web = await authed('w', 'web');
  t.same((await listed(web)).map((s) => s.id), ['calc']);
  t.same(await listed(web, 'secret'), [], 'not even by its name');
  t.same((await listed(calc)).map((s) => s.id), ['calc', 'secret']);
  for (const p of [calc, secret, web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client never sees announce, services or their answers [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const old = await Peer.named(url, 'old', { extended: false });
  old.send(announce('old'));
  old.send({ action: 'services', ref: 'l' });
  old.send({ action: 'send', dest: 'old', message: 'ping' });
  t.same(await old.next(), { action: 'message', message: 'ping', from: 'old' }, 'the next frame it gets is its own message');
  const web = await Peer.named(url, 'web');
  t.same(await listed(web), [], 'its announce changed nothing');
  for (const p of [old, web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('announce refuses a method name with a dot and more than 64 methods (bad_frame) [SB-14-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await Peer.named(url, 'calc');
  calc.send({ action: 'announce', id: 'calc', version: '1', methods: { 'a.b': ADD }, ref: 'd' });
  t.match(await calc.next(), { action: 'error', code: 'bad_frame' });
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, ADD]));
  calc.send({ action: 'announce', id: 'calc', version: '1', methods: many, ref: 'm' });
  t.match(await calc.next(), { action: 'error', code: 'bad_frame' });
  calc.send({ action: 'announce', id: 'calc', version: '1', methods: Object.fromEntries(Object.entries(many).slice(0, 64)), ref: 'ok' });
  t.match(await calc.next(), { action: 'announced', ref: 'ok' }, '64 methods are allowed');
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});
