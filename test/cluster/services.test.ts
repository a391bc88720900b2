/**
 * Services in cluster mode (protocol.md sections 14 and 16, [SB-16-7]): a contract announced on one node
 * is listed on every node, a pool's members on different nodes announce one version, the stats sum what
 * every node measured, and the contract goes with the name's last holder, wherever it was. Real
 * redis-server, three broker nodes in this process.
 */
import t from 'tap';
import { peerOn as peer, startCluster } from '../fixtures/cluster.js';
import type { Frame, Peer } from '../fixtures/peer.js';

const CONTRACT = { add: { request: { type: 'object' }, answer: { type: 'number' } } };

async function listing(p: Peer, ref: string, id?: string): Promise<Frame[]> {
  p.send(id === undefined ? { action: 'services', ref } : { action: 'services', id, ref });
  return (await p.next((f) => f.ref === ref)).services as Frame[];
}

/** Answer every request `p` gets with `value`. */
function serve(p: Peer, value: unknown): void {
  p.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    if (frame.action === 'message' && typeof frame.ack === 'string') p.send({ action: 'answer', ack: frame.ack, message: value });
  });
}

t.test('a contract announced on one node is listed on every node, with the stats of calls made from every node [SB-16-7] [SB-14-5]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const calc = await peer(t, urls[0], 'calc');
  calc.send({ action: 'announce', id: 'calc', version: '1.0.0', methods: CONTRACT, ref: 'a1' });
  t.match(await calc.next((f) => f.ref === 'a1'), { action: 'announced', id: 'calc' });
  serve(calc, 3);
  const [one, two] = [await peer(t, urls[1], 'one'), await peer(t, urls[2], 'two')];
  for (const [p, n] of [[one, 3], [two, 2]] as const) {
    for (let i = 0; i < n; i++) {
      p.send({ action: 'send', dest: 'calc', message: { a: 1 }, ack: `q${i}`, event: 'add' });
      t.match(await p.next((f) => f.ack === `q${i}`), { action: 'answer', message: 3 });
    }
  }
  two.send({ action: 'send', dest: 'calc', message: 1, ack: 'other', event: 'unknown-method' });
  await two.next((f) => f.ack === 'other');
  for (const [p, ref] of [[calc, 'l0'], [one, 'l1'], [two, 'l2']] as const) {
    const [service] = await listing(p, ref);
    t.match(service, { id: 'calc', version: '1.0.0', members: 1, methods: CONTRACT }, `listed on the node of ${ref}`);
    t.match(service.stats, { requests: 6, errors: 0, timeouts: 0, methods: { add: { requests: 5 } } }, 'every node\'s calls counted, once');
    t.type((service.stats as Frame).p50Ms, 'number');
  }
  calc.send({ action: 'unregister', id: 'calc', ref: 'u1' });
  await calc.next((f) => f.ref === 'u1');
  t.same(await listing(two, 'l3'), [], 'the contract goes with the last holder');
  t.same(await listing(one, 'l4', 'calc'), [], 'also when asked for by name');
});

t.test('a pool\'s members on two nodes announce one version; the listing counts the members of every node [SB-16-7] [SB-14-1]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const m1 = await peer(t, urls[0]);
  const m2 = await peer(t, urls[1]);
  for (const m of [m1, m2]) {
    m.send({ action: 'register', id: 'pool', shared: true });
    await m.next((f) => f.action === 'registered');
  }
  m1.send({ action: 'announce', id: 'pool', version: '2.0.0', methods: CONTRACT, ref: 'a1' });
  t.match(await m1.next((f) => f.ref === 'a1'), { action: 'announced' });
  m2.send({ action: 'announce', id: 'pool', version: '3.0.0', methods: CONTRACT, ref: 'a2' });
  t.match(await m2.next((f) => f.ref === 'a2'), { action: 'error', code: 'name_conflict', id: 'pool' }, 'another version from another node');
  t.match(await listing(m2, 'l1'), [{ id: 'pool', version: '2.0.0', members: 2 }]);
  m1.ws.close();
  await new Promise((resolve) => m1.ws.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.match(await listing(m2, 'l2'), [{ id: 'pool', version: '2.0.0', members: 1 }], 'the contract stays while a member holds the name');
  m2.send({ action: 'announce', id: 'pool', version: '3.0.0', methods: CONTRACT, ref: 'a3' });
  t.match(await m2.next((f) => f.ref === 'a3'), { action: 'announced' }, 'the last member may change the version');
});
