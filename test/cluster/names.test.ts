/**
 * Names in cluster mode (protocol.md section 16, [SB-16-1]): one holder in the whole cluster, whatever
 * node each connection reached; takeover across nodes; clusters that share a Redis by their prefixes.
 * Real redis-server, broker nodes in this process.
 */
import t from 'tap';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { startCluster } from '../fixtures/cluster.js';
import { Peer } from '../fixtures/peer.js';

t.test('a name held on one node is refused on every other, and is free everywhere once released [SB-16-1] [SB-3-2]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const holder = await Peer.named(urls[0], 'calc');
  t.teardown(() => holder.close());
  const others = await Promise.all([Peer.connect(urls[1]), Peer.connect(urls[2])]);
  t.teardown(() => Promise.all(others.map((peer) => peer.close())));
  for (const peer of others) {
    peer.send({ action: 'register', id: 'calc' });
    t.match(await peer.next((f) => f.action === 'error' || f.action === 'registered'), { action: 'error', code: 'name_taken', id: 'calc' });
  }
  holder.send({ action: 'unregister', id: 'calc' });
  await holder.next((f) => f.action === 'unregistered');
  others[0].send({ action: 'register', id: 'calc' });
  t.match(await others[0].next((f) => f.action === 'error' || f.action === 'registered'), { action: 'registered', id: 'calc' }, 'free once unregistered');
  await others[0].close();
  // The holder's node handles its close after the client sees it: the name is free a moment later.
  for (let attempt = 0; ; attempt++) {
    others[1].send({ action: 'register', id: 'calc', ref: `r${attempt}` });
    const reply = await others[1].next((f) => f.ref === `r${attempt}`);
    if (reply.action === 'registered') break;
    t.equal(reply.code, 'name_taken');
    if (attempt === 50) throw new Error('"calc" not free 500 ms after its holder disconnected');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.pass('free once its holder disconnected');
});

t.test('connections on three nodes racing for one name: exactly one gets it, every time [SB-16-1]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const peers = await Promise.all(urls.map((url) => Peer.connect(url)));
  t.teardown(() => Promise.all(peers.map((peer) => peer.close())));
  const rounds = 40;
  let twice = 0;
  for (let round = 0; round < rounds; round++) {
    const name = `race-${round}`;
    for (const peer of peers) peer.send({ action: 'register', id: name });
    const replies = await Promise.all(peers.map((peer) => peer.next((f) => f.id === name && (f.action === 'registered' || f.action === 'error'))));
    const winners = replies.filter((f) => f.action === 'registered').length;
    if (winners !== 1) twice++;
    t.equal(winners, 1, `round ${round}: one winner`);
    t.ok(replies.every((f) => f.action === 'registered' || f.code === 'name_taken'), 'the others hear name_taken');
    const winner = peers[replies.findIndex((f) => f.action === 'registered')];
    winner?.send({ action: 'unregister', id: name });
    await winner?.next((f) => f.action === 'unregistered' && f.id === name);
  }
  t.equal(twice, 0, `${rounds} rounds, no name held twice or by no one`);
});

t.test('takeover by the same identity works across nodes: the old holder is closed with 4009 [SB-16-1] [SB-4.1-6]', async (t) => {
  const everything = { register: ['*'], send: ['*'] };
  const auth = tokenPolicy([{ id: 'svc', tokenSha256: sha256('secret').toString('hex'), permissions: everything }], { id: 'anonymous', permissions: everything });
  const { urls } = await startCluster(t, 2, { auth });
  const old = await Peer.connect(urls[0]);
  old.send({ action: 'auth', token: 'secret' });
  await old.next((f) => f.action === 'authenticated');
  old.send({ action: 'register', id: 'calc' });
  await old.next((f) => f.action === 'registered');
  const fresh = await Peer.connect(urls[1]);
  t.teardown(() => fresh.close());
  fresh.send({ action: 'auth', token: 'secret' });
  await fresh.next((f) => f.action === 'authenticated');
  fresh.send({ action: 'register', id: 'calc' });
  t.match(await fresh.next((f) => f.action === 'error'), { code: 'name_taken' }, 'no takeover without asking');
  fresh.send({ action: 'register', id: 'calc', takeover: true });
  t.match(await fresh.next((f) => f.action === 'registered'), { id: 'calc' });
  t.match(await old.closed(), { code: 4009 });
  const web = await Peer.named(urls[0], 'web');
  t.teardown(() => web.close());
  web.send({ action: 'send', dest: 'calc', message: 'who?', ack: 'q1' });
  t.match(await fresh.next((f) => f.action === 'message'), { message: 'who?' }, 'the new holder is reached');
});

t.test('two clusters on one Redis do not see each other: their prefixes differ [SB-16-1]', async (t) => {
  const a = await startCluster(t, 1);
  const b = await startCluster(t, 1);
  // Each startCluster has its own redis-server; put b's node on a's Redis under another prefix.
  const { Broker } = await import('../../lib/broker/index.js');
  const other = new Broker({ host: '127.0.0.1', port: 0, cluster: { url: a.redis.url, prefix: 'other:' } });
  t.teardown(() => other.close());
  const otherUrl = (await other.listen()).url;
  const one = await Peer.named(a.urls[0], 'calc');
  const two = await Peer.named(otherUrl, 'calc');
  t.teardown(() => Promise.all([one.close(), two.close()]));
  t.pass('both clusters hold "calc"');
  t.ok(b.urls.length === 1);
});
