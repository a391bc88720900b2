/**
 * Authentication, authorization and name takeover (protocol.md sections 4.1 and 4.5), with policies
 * built in code; the auth file that refuses to start rather than fall open is auth-config.test.ts's.
 */
import t from 'tap';
import { sha256, tokenPolicy, type AuthPolicy } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

const hash = (token: string) => sha256(token).toString('hex');
const identities = [
  { id: 'calc-service', tokenSha256: hash('calc-token'), permissions: { register: ['calc', 'calc.*'], send: [] } },
  { id: 'web', tokenSha256: hash('web-token'), permissions: { register: ['web-*'], send: ['calc*'] } },
];
const policy = tokenPolicy(identities);
const withGuests = tokenPolicy(identities, { id: 'guest', permissions: { register: ['guest-*'], send: ['calc'] } });

async function authed(url: string, token: string): Promise<Peer> {
  const peer = await Peer.connect(url);
  peer.send({ action: 'auth', token });
  await peer.next((f) => f.action === 'authenticated');
  return peer;
}

t.test('a valid token makes the connection its identity [SB-4.5-1]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const p = await Peer.connect(url);
  p.send({ action: 'auth', token: 'calc-token' });
  t.same(await p.next(), { action: 'authenticated', identity: 'calc-service' });
  p.send({ action: 'register', id: 'calc' });
  t.same(await p.next(), { action: 'registered', id: 'calc' });
  await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('without a policy, auth is answered as anonymous and everything is allowed [SB-4.5-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const p = await Peer.connect(url);
  p.send({ action: 'auth', token: 'anything' });
  t.same(await p.next(), { action: 'authenticated', identity: 'anonymous' });
  await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a bad token, or a frame before auth, gets unauthorized and a 1008 close [SB-4.5-2]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const bad = await Peer.connect(url);
  bad.send({ action: 'auth', token: 'calc-token ' });
  t.match(await bad.next(), { action: 'error', code: 'unauthorized' });
  t.match(await bad.closed(), { code: 1008, reason: 'unauthorized' });
  const eager = await Peer.connect(url);
  eager.send({ action: 'register', id: 'calc' });
  t.match(await eager.next(), { action: 'error', code: 'unauthorized' });
  t.equal((await eager.closed()).code, 1008);
  t.equal(broker.stats().names, 0, 'nothing was registered');
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a connection that does not authenticate in time is closed; a legacy client at once [SB-4.5-2]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy, limits: { authTimeoutMs: 100 } });
  const idle = await Peer.connect(url);
  const started = Date.now();
  t.match(await idle.closed(4000), { code: 1008, reason: 'authentication timeout' });
  t.ok(Date.now() - started < 2500, 'by its 100 ms authTimeoutMs, not the default 5000 ms (slack for a busy machine)');
  const legacy = await Peer.connect(url, { extended: false });
  t.match(await legacy.closed(500), { code: 1008, reason: 'authentication required' });
  t.same(legacy.received, []);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the anonymous identity admits legacy and unauthenticated clients with its own permissions [SB-4.5-1] [SB-4.5-3]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: withGuests });
  const calc = await authed(url, 'calc-token');
  calc.send({ action: 'register', id: 'calc' });
  await calc.next((f) => f.action === 'registered');
  const guest = await Peer.named(url, 'guest-1', { extended: false });
  guest.send({ action: 'send', dest: 'calc', message: 'hi from a guest' });
  t.match(await calc.next((f) => f.action === 'message'), { message: 'hi from a guest', from: 'guest-1' });
  guest.send({ action: 'send', dest: 'calc.admin', message: 'not allowed' });
  t.same(await calc.quiet(50), [], 'a legacy send that is not allowed is dropped');
  guest.send({ action: 'register', id: 'calc.admin' });
  t.match(await guest.closed(), { code: 1008, reason: 'forbidden' });
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('register and send beyond the patterns are forbidden and nothing happens [SB-4.5-3]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const calc = await authed(url, 'calc-token');
  calc.send({ action: 'register', id: 'calc.v2' });
  t.same(await calc.next(), { action: 'registered', id: 'calc.v2' });
  calc.send({ action: 'register', id: 'web-1' });
  t.match(await calc.next(), { action: 'error', code: 'forbidden', id: 'web-1' });
  const web = await authed(url, 'web-token');
  web.send({ action: 'register', id: 'web-1' });
  await web.next((f) => f.action === 'registered');
  calc.send({ action: 'send', dest: 'web-1', message: 'no', ack: 'r1', ref: 's1' });
  t.match(await calc.next(), { action: 'error', code: 'forbidden', id: 'web-1', ack: 'r1', ref: 's1' });
  web.send({ action: 'send', dest: ['calc.v2', 'elsewhere'], message: 'x', ack: 'r2' });
  t.match(await web.next(), { code: 'forbidden', id: 'elsewhere', ack: 'r2' });
  t.same(await calc.quiet(50), [], 'a send with one forbidden destination reaches none');
  web.send({ action: 'send', dest: 'calc.v2', message: 'ok', ack: 'r3' });
  const m = await calc.next((f) => f.action === 'message');
  calc.send({ action: 'answer', ack: m.ack as string, message: 'answered' });
  t.match(await web.next(), { action: 'answer', ack: 'r3', message: 'answered' }, 'answering needs no send permission');
  await calc.close();
  await web.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a second auth is forbidden and changes nothing [SB-4.5-4]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy });
  const p = await authed(url, 'calc-token');
  p.send({ action: 'auth', token: 'web-token' });
  t.match(await p.next(), { action: 'error', code: 'forbidden' });
  p.send({ action: 'register', id: 'calc' });
  t.same(await p.next(), { action: 'registered', id: 'calc' }, 'still calc-service');
  await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('an asynchronous policy holds the frames that follow auth until it answers', async (t) => {
  const slow: AuthPolicy = {
    authenticate: async (token) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return policy.authenticate?.(token, { remoteAddress: '' }) as ReturnType<NonNullable<AuthPolicy['authenticate']>>;
    },
  };
  const { broker, url } = await startBroker(t, { auth: slow });
  const p = await Peer.connect(url);
  p.send({ action: 'auth', token: 'calc-token' });
  p.send({ action: 'register', id: 'calc' });
  t.same(await p.next(), { action: 'authenticated', identity: 'calc-service' });
  t.same(await p.next(), { action: 'registered', id: 'calc' });
  await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('takeover moves a name between connections of the same identity only [SB-4.1-6]', async (t) => {
  const { broker, url } = await startBroker(t, { auth: withGuests });
  const old = await authed(url, 'calc-token');
  old.send({ action: 'register', id: 'calc' });
  await old.next((f) => f.action === 'registered');
  const requester = await authed(url, 'web-token');
  requester.send({ action: 'register', id: 'web-requester' });
  await requester.next((f) => f.action === 'registered');
  requester.send({ action: 'send', dest: 'calc', message: 1, ack: 'inflight' });
  await old.next((f) => f.action === 'message');
  const stranger = await authed(url, 'web-token');
  stranger.send({ action: 'register', id: 'calc', takeover: true });
  t.match(await stranger.next(), { code: 'forbidden' }, 'another identity may not even register it');
  const guest = await Peer.connect(url);
  guest.send({ action: 'register', id: 'calc', takeover: true });
  t.match(await guest.next(), { code: 'forbidden' });
  const fresh = await authed(url, 'calc-token');
  fresh.send({ action: 'register', id: 'calc' });
  t.match(await fresh.next(), { code: 'name_taken' }, 'without takeover the holder keeps it');
  fresh.send({ action: 'register', id: 'calc', takeover: true });
  t.same(await fresh.next(), { action: 'registered', id: 'calc' });
  t.match(await old.closed(), { code: 4009, reason: 'taken over: calc' });
  t.match(await requester.next(), { action: 'error', code: 'responder_gone', ack: 'inflight' });
  requester.send({ action: 'send', dest: 'calc', message: 2 });
  t.match(await fresh.next((f) => f.action === 'message'), { message: 2 });
  for (const p of [requester, stranger, guest, fresh]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('takeover is refused between anonymous connections of an open broker [SB-4.1-6]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'calc');
  const b = await Peer.connect(url);
  b.send({ action: 'register', id: 'calc', takeover: true });
  t.match(await b.next(), { code: 'name_taken' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});
