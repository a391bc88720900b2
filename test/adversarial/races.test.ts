/**
 * Register races (robustness.md, "Names and request routing"; protocol.md sections 3 and 4.1): many
 * connections racing for one name, while holders leave, unregister or vanish. A monitor on the
 * broker's own `registered`/`unregistered` events checks that at every moment at most one connection
 * holds the name ([SB-3-2]), and the clients' own views agree with it.
 */
import t, { type Test } from 'tap';
import type { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

/** Track the holders of `name` through the broker's events; `max` is the most there ever were at once. */
function holderMonitor(broker: Broker, name: string) {
  const holders = new Set<string>();
  const monitor = { max: 0, takes: 0, releases: 0, doubleRelease: 0, holders };
  broker.on('registered', (n, info) => {
    if (n !== name) return;
    holders.add(info.id);
    monitor.takes++;
    monitor.max = Math.max(monitor.max, holders.size);
  });
  broker.on('unregistered', (n, info) => {
    if (n !== name) return;
    if (!holders.delete(info.id)) monitor.doubleRelease++;
    monitor.releases++;
  });
  return monitor;
}

const answerTo = (name: string) => (f: Frame) =>
  (f.action === 'registered' && f.id === name) || (f.action === 'error' && f.id === name);

async function endAll(t: Test, broker: Broker, peers: Peer[]): Promise<void> {
  await Promise.all(peers.map((p) => (p.ws.readyState === p.ws.OPEN ? p.close() : undefined)));
  t.same(await drained(broker), NOTHING_HELD);
}

t.test('thirty connections racing for one name: one registered, the rest name_taken, round after round [SB-3-2] [SB-4.1-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const monitor = holderMonitor(broker, 'prize');
  const peers = await Promise.all(Array.from({ length: 30 }, () => Peer.connect(url)));
  let contenders = peers;
  for (let round = 0; round < 5; round++) {
    for (const p of contenders) p.send({ action: 'register', id: 'prize' });
    const answers = await Promise.all(contenders.map((p) => p.next(answerTo('prize'))));
    const winners = contenders.filter((_, i) => answers[i].action === 'registered');
    t.equal(winners.length, 1, `round ${round}: exactly one winner`);
    t.ok(answers.every((a) => a.action === 'registered' || a.code === 'name_taken'), 'the others get name_taken');
    t.equal(monitor.holders.size, 1);
    // the winner leaves; the others race again
    await winners[0].close();
    t.same(await drained(broker, 2000, { connections: contenders.length - 1, names: 0, pending: 0, deliveries: 0 }), {
      connections: contenders.length - 1,
      names: 0,
      pending: 0,
      deliveries: 0,
    });
    contenders = contenders.filter((p) => p !== winners[0]);
  }
  t.equal(monitor.max, 1, 'never two holders at once');
  t.equal(monitor.doubleRelease, 0, 'never released twice [SB-4.2-4]');
  t.equal(monitor.takes, 5);
  t.equal(monitor.releases, 5);
  await endAll(t, broker, contenders);
});

t.test('churn: ten clients take, hold and release one name as fast as they can; never two holders [SB-3-2] [SB-4.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const monitor = holderMonitor(broker, 'hot');
  const peers = await Promise.all(Array.from({ length: 10 }, () => Peer.connect(url)));
  let budget = 400; // register attempts in all
  let won = 0;
  const client = async (peer: Peer, index: number) => {
    while (budget-- > 0) {
      peer.send({ action: 'register', id: 'hot' });
      const answer = await peer.next(answerTo('hot'));
      if (answer.action === 'registered') {
        won++;
        if (index % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
        peer.send({ action: 'unregister', id: 'hot' });
        await peer.next((f) => f.action === 'unregistered' && f.id === 'hot');
      }
    }
  };
  await Promise.all(peers.map(client));
  t.ok(won > 0, `${won} takes in 400 attempts`);
  t.equal(monitor.takes, won, 'the broker saw exactly the takes the clients saw');
  t.equal(monitor.releases, won);
  t.equal(monitor.max, 1, 'never two holders at once');
  t.equal(monitor.doubleRelease, 0);
  await endAll(t, broker, peers);
});

t.test('a holder that vanishes without a close frame frees the name exactly once for one of the racers [SB-3-2] [SB-4.2-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const monitor = holderMonitor(broker, 'seat');
  const holder = await Peer.named(url, 'seat');
  const racers = await Promise.all(Array.from({ length: 10 }, () => Peer.connect(url)));
  let stop = false;
  const winners: Peer[] = [];
  const race = async (peer: Peer) => {
    for (let attempt = 0; attempt < 500 && !stop; attempt++) {
      peer.send({ action: 'register', id: 'seat' });
      const answer = await peer.next(answerTo('seat'));
      if (answer.action === 'registered') {
        winners.push(peer);
        stop = true;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  const racing = Promise.all(racers.map(race));
  await new Promise((resolve) => setTimeout(resolve, 20));
  holder.ws.terminate(); // TCP reset, no close handshake
  await racing;
  t.equal(winners.length, 1, 'one racer got the seat after the holder vanished');
  t.equal(monitor.max, 1, 'never two holders at once');
  t.equal(monitor.releases, 1, 'the vanished holder released it once');
  t.equal(monitor.doubleRelease, 0);
  await endAll(t, broker, racers);
});

t.test('legacy racers that lose are closed with 1008 name_taken; the winner keeps the name [SB-4.1-4] [SB-3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const monitor = holderMonitor(broker, 'legacy-prize');
  const peers = await Promise.all(Array.from({ length: 12 }, () => Peer.connect(url, { extended: false })));
  for (const p of peers) p.send({ action: 'register', id: 'legacy-prize' });
  const results = await Promise.all(
    peers.map(async (p) => {
      const registered = await p.next((f) => f.action === 'registered').then(() => true, () => false);
      return registered ? ('registered' as const) : p.closed();
    }),
  );
  const winners = results.filter((r) => r === 'registered');
  t.equal(winners.length, 1, 'one winner');
  t.same(
    results.filter((r) => r !== 'registered'),
    Array.from({ length: 11 }, () => ({ code: 1008, reason: 'name_taken' })),
    'every loser closed with 1008 and the code as the reason',
  );
  t.equal(monitor.max, 1);
  t.equal(broker.stats().names, 1);
  await endAll(t, broker, peers);
});

t.test('register then close at once, many times: no name outlives its connection [SB-4.2-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const monitor = holderMonitor(broker, 'flash');
  for (let i = 0; i < 30; i++) {
    const peer = await Peer.connect(url);
    peer.send({ action: 'register', id: 'flash' });
    if (i % 2 === 0) peer.ws.terminate();
    else peer.ws.close();
  }
  t.same(await drained(broker), NOTHING_HELD, 'every name released with its connection');
  t.equal(monitor.max, 1);
  t.equal(monitor.takes, monitor.releases, 'each take was released once');
  t.equal(monitor.doubleRelease, 0);
});
