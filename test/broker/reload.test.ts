/**
 * broker.reload(): the auth policy and the limits swap together, or nothing changes.
 */
import t from 'tap';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

const everything = { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] };
const policy = (id: string, token: string) => tokenPolicy([{ id, tokenSha256: sha256(token).toString('hex'), permissions: everything }]);

async function authenticate(url: string, token: string) {
  const peer = await Peer.connect(url);
  peer.send({ action: 'auth', token });
  const answer = await peer.next((f) => f.action === 'authenticated' || f.action === 'error');
  await peer.close();
  return answer;
}

t.test('a reload with a problem changes nothing and names every problem', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy('alpha', 'a-token'), limits: { maxDepth: 7 } });
  const before = { ...broker.limits };
  t.throws(
    () => broker.reload({ auth: policy('beta', 'b-token'), limits: { maxDepth: 0, heartbeatMs: 5 } as never }),
    { name: 'TypeError', message: /maxDepth must be a positive integer.*; limit heartbeatMs is fixed at start \(30000\)/ },
  );
  t.throws(() => broker.reload({ auth: policy('beta', 'b-token'), limits: { maxMessageBytes: 10, maxFragments: 2 } }), {
    message: /limit maxMessageBytes is fixed at start .*; limit maxFragments is fixed at start/,
  });
  t.same(broker.limits, before, 'the limits stay');
  t.match(await authenticate(url, 'a-token'), { action: 'authenticated', identity: 'alpha' }, 'the policy stays');
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a good reload swaps the policy and the limits; limits left out go back to their defaults', async (t) => {
  const { broker, url } = await startBroker(t, { auth: policy('alpha', 'a-token'), limits: { maxDepth: 7, maxDestinations: 3 } });
  const seen = broker.limits;
  broker.reload({ auth: policy('beta', 'b-token'), limits: { maxDepth: 9 } });
  t.equal(broker.limits, seen, 'the same object, changed in place: every reader sees the new values');
  t.same(broker.limits, { ...DEFAULT_LIMITS, maxDepth: 9 });
  t.match(await authenticate(url, 'b-token'), { action: 'authenticated', identity: 'beta' });
  t.match(await authenticate(url, 'a-token'), { action: 'error', code: 'unauthorized' });
  broker.reload({ limits: { maxDepth: 11 } });
  t.match(await authenticate(url, 'b-token'), { identity: 'beta' }, 'leaving auth out keeps the policy');
  t.equal(broker.limits.maxDepth, 11);
  t.same(await drained(broker), NOTHING_HELD);
});
