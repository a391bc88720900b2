/**
 * Policy hooks that misbehave (protocol.md section 4.5, lib/broker/hooks.ts): whatever `authenticate` or
 * `authorize` throws, rejects, returns or never returns, the connection gets a refusal, the fault is
 * reported, and the broker and every other connection go on.
 */
import t from 'tap';
import { sha256, tokenPolicy, type AuthPolicy, type Identity } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

const good: Identity = { id: 'svc', permissions: { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] } };
const goodPolicy = tokenPolicy([{ ...good, tokenSha256: sha256('good').toString('hex') }]);

/** What an `authenticate` hook may do wrong, and whether it counts as a fault (a bug) or a plain refusal. */
const badAuthenticate: Array<[string, AuthPolicy['authenticate'], boolean]> = [
  ['throws', () => {
    throw new Error('database down');
  }, true],
  ['rejects', () => Promise.reject(new Error('database down')), true],
  ['resolves null', () => Promise.resolve(null as unknown as undefined), false],
  ['returns null', () => null as unknown as undefined, false],
  ['resolves undefined', () => Promise.resolve(undefined), false],
  ['returns a string', () => 'svc' as unknown as Identity, true],
  ['resolves an object without id', () => Promise.resolve({ permissions: {} } as unknown as Identity), true],
  ['rejects with a non-error', () => Promise.reject('nope' as unknown), true],
];

for (const [what, authenticate, isFault] of badAuthenticate) {
  t.test(`an authenticate hook that ${what} refuses the token with unauthorized; the broker goes on [SB-4.5-2]`, async (t) => {
    const faults: Error[] = [];
    const { broker, url } = await startBroker(t, { auth: { authenticate, authorize: () => true } });
    broker.on('error', (error) => faults.push(error));
    const p = await Peer.connect(url);
    p.send({ action: 'auth', token: 'some-token' });
    p.send({ action: 'register', id: 'early' }); // held behind the auth, then dropped with the connection
    t.match(await p.next(), { action: 'error', code: 'unauthorized' });
    t.equal((await p.closed()).code, 1008);
    t.equal(faults.length, isFault ? 1 : 0, isFault ? 'the fault is reported' : 'a refused token is no fault');
    t.equal(broker.stats().names, 0, 'nothing after the auth was handled');
    t.same(await drained(broker), NOTHING_HELD);
  });
}

t.test('an authenticate hook that never settles: the connection is closed at authTimeoutMs and cleaned up', async (t) => {
  const { broker, url } = await startBroker(t, { auth: { authenticate: () => new Promise(() => {}) }, limits: { authTimeoutMs: 200 } });
  broker.on('error', () => {});
  const p = await Peer.connect(url, { timeoutMs: 3000 });
  const started = Date.now();
  p.send({ action: 'auth', token: 'some-token' });
  p.send({ action: 'register', id: 'early' });
  t.equal((await p.closed()).code, 1008);
  t.ok(Date.now() - started < 3000, 'closed by its 200 ms authTimeoutMs, not the default 5000 ms (slack for a busy machine)');
  t.equal(broker.stats().names, 0);
  t.same(await drained(broker), NOTHING_HELD, 'a connection held by a hook that never answers is still cleaned up');
});

const badAuthorize: Array<[string, NonNullable<AuthPolicy['authorize']>]> = [
  ['throws', () => {
    throw new Error('policy bug');
  }],
  ['returns undefined', () => undefined as unknown as boolean],
  ['returns null', () => null as unknown as boolean],
  ['returns a string', () => 'yes' as unknown as boolean],
  ['returns a promise', () => Promise.resolve(true) as unknown as boolean],
];

for (const [what, authorize] of badAuthorize) {
  t.test(`an authorize hook that ${what} denies with forbidden and reports a fault; the connection stays [SB-4.5-3]`, async (t) => {
    const faults: Error[] = [];
    const { broker, url } = await startBroker(t, { auth: { ...goodPolicy, authorize, anonymous: good } });
    broker.on('error', (error) => faults.push(error));
    const p = await Peer.connect(url);
    p.send({ action: 'register', id: 'calc' });
    t.match(await p.next(), { action: 'error', code: 'forbidden', id: 'calc' });
    t.equal(faults.length, 1);
    p.send({ action: 'auth', token: 'good' });
    t.match(await p.next(), { action: 'authenticated', identity: 'svc' }, 'the connection is still usable');
    await p.close();
    t.same(await drained(broker), NOTHING_HELD);
  });
}
