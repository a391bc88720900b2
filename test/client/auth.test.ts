/**
 * The client against a broker with an authentication policy (protocol.md 4.5): the token goes in an
 * `auth` frame first on every connection, refusals close the client with their code instead of
 * retrying forever, and `takeover` moves a name from a stale connection of the same identity [SB-4.1-6].
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { tokenPolicy } from '../../lib/broker/auth/policy.js';
import type { SwitchboardError } from '../../lib/client/node.js';
import { startBroker } from '../fixtures/broker.js';
import { client, nextEvent, readyClient, rejection, WAIT_MS } from '../fixtures/clients.js';
import { Peer } from '../fixtures/peer.js';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const policy = tokenPolicy([
  { id: 'billing', tokenSha256: sha('billing-secret'), permissions: { register: ['billing', 'billing-*'], send: ['*'] } },
  { id: 'web', tokenSha256: sha('web-secret'), permissions: { register: ['web-*'], send: ['billing'] } },
]);

t.test('with a token the client authenticates first, then registers; ready says who it is [SB-4.5-1]', async (t) => {
  const { url } = await startBroker(t, { auth: policy });
  const billing = await readyClient(t, url, { name: 'billing', token: 'billing-secret' });
  t.equal(billing.identity, 'billing');
  billing.handle((message) => ({ charged: message }));
  const web = client(t, url, { name: 'web-1', token: 'web-secret' });
  const [info] = await nextEvent<[{ identity?: string }]>(web, 'ready');
  t.equal(info.identity, 'web');
  t.same(await web.request('billing', 10), { from: 'billing', message: { charged: 10 } });
  t.match(await rejection(web.request('web-1', 1)), { code: 'forbidden' }, 'a send the identity may not make');
});

t.test('a missing or refused token closes the client with unauthorized, at once [SB-4.5-2]', async (t) => {
  const { url } = await startBroker(t, { auth: policy });
  for (const options of [{}, { token: 'wrong' }]) {
    const c = client(t, url, { name: 'web-2', ...options });
    const queued = rejection(c.request('billing', 1));
    const error = await rejection(c.ready, WAIT_MS);
    t.equal(error.code, 'unauthorized', JSON.stringify(options));
    t.equal((await queued).code, 'unauthorized', 'what waited rejects with the same code');
    t.equal(c.status, 'closed');
  }
});

t.test('a name the identity may not register closes the client with forbidden [SB-4.5-3]', async (t) => {
  const { url } = await startBroker(t, { auth: policy });
  const c = client(t, url, { name: 'billing', token: 'web-secret' });
  const errors: SwitchboardError[] = [];
  c.on('error', (e) => errors.push(e));
  t.equal((await rejection(c.ready)).code, 'forbidden');
  t.match(errors, [{ code: 'forbidden' }]);
});

t.test('takeover moves a name from a stale connection of the same identity [SB-4.1-6]', async (t) => {
  const { url } = await startBroker(t, { auth: policy });
  const stale = await Peer.connect(url);
  stale.send({ action: 'auth', token: 'billing-secret' });
  await stale.next((f) => f.action === 'authenticated');
  stale.send({ action: 'register', id: 'billing' });
  await stale.next((f) => f.action === 'registered');
  const fresh = await readyClient(t, url, { name: 'billing', token: 'billing-secret', takeover: true });
  t.same(fresh.names, ['billing']);
  t.match(await stale.closed(), { code: 4009 }, 'the stale connection was closed with 4009');
});

t.test('a client whose name is taken over closes with name_taken instead of fighting back', async (t) => {
  const { url } = await startBroker(t, { auth: policy });
  const first = await readyClient(t, url, { name: 'billing-2', token: 'billing-secret', takeover: true });
  const closed = nextEvent<[{ error?: SwitchboardError }]>(first, 'closed');
  const second = await readyClient(t, url, { name: 'billing-2', token: 'billing-secret', takeover: true });
  t.match((await closed)[0].error, { code: 'name_taken' });
  t.equal(first.status, 'closed');
  t.equal(second.status, 'ready');
});
