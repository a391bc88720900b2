/**
 * Responder pools across nodes (protocol.md sections 6.4 and 16, [SB-6.4-1]): members on every node take
 * their turn, round-robin over the whole cluster; a pool and an exclusive holder never mix across nodes;
 * a member that leaves is no longer picked; a member's in-flight limit counts the requests of every node.
 * Real redis-server, broker nodes in this process.
 */
import t, { type Test } from 'tap';
import { createClient } from 'redis';
import { lastPrefix, startCluster } from '../fixtures/cluster.js';
import { Peer, type Frame } from '../fixtures/peer.js';

async function connect(t: Test, url: string): Promise<Peer> {
  const peer = await Peer.connect(url);
  t.teardown(() => peer.close());
  return peer;
}

async function join(t: Test, url: string, name: string): Promise<Peer> {
  const peer = await connect(t, url);
  peer.send({ action: 'register', id: name, shared: true });
  await peer.next((f) => f.action === 'registered');
  return peer;
}

/** Answer every request with the peer's label. */
function answering(peer: Peer, label: string): void {
  peer.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.action === 'message' && frame.ack !== undefined) peer.send({ action: 'answer', ack: frame.ack, message: label });
  });
}

t.test('a pool\'s members on two nodes take turns, whichever node the requests come from [SB-16-2] [SB-6.4-1]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const m1 = await join(t, urls[0], 'workers');
  const m2 = await join(t, urls[1], 'workers');
  answering(m1, 'm1');
  answering(m2, 'm2');
  const web = await Peer.named(urls[2], 'web');
  const near = await Peer.named(urls[0], 'near');
  t.teardown(() => Promise.all([web.close(), near.close()]));
  const served: unknown[] = [];
  for (let i = 0; i < 8; i++) {
    const sender = i % 2 === 0 ? web : near;
    sender.send({ action: 'send', dest: 'workers', message: i, ack: `q${i}` });
    served.push((await sender.next((f) => f.ack === `q${i}`)).message);
  }
  t.equal(served.filter((m) => m === 'm1').length, 4, `m1 served 4 of 8: ${served.join(' ')}`);
  t.equal(served.filter((m) => m === 'm2').length, 4, 'm2 served 4 of 8');
  for (let i = 1; i < served.length; i++) t.not(served[i], served[i - 1], `request ${i} went to the other member`);

  m2.send({ action: 'unregister', id: 'workers' });
  await m2.next((f) => f.action === 'unregistered');
  for (let i = 8; i < 12; i++) {
    web.send({ action: 'send', dest: 'workers', message: i, ack: `q${i}` });
    t.match(await web.next((f) => f.ack === `q${i}`), { action: 'answer', message: 'm1' }, 'a member that left is not picked');
  }
});

t.test('a pool on one node and an exclusive holder on another never mix [SB-16-1] [SB-6.4-1]', async (t) => {
  const { urls } = await startCluster(t, 2);
  await join(t, urls[0], 'workers');
  const other = await connect(t, urls[1]);
  other.send({ action: 'register', id: 'workers' });
  t.match(await other.next((f) => f.action === 'error'), { code: 'name_conflict', id: 'workers' });
  const holder = await Peer.named(urls[0], 'calc');
  t.teardown(() => holder.close());
  other.send({ action: 'register', id: 'calc', shared: true });
  t.match(await other.next((f) => f.action === 'error'), { code: 'name_conflict', id: 'calc' });
});

t.test('a pool member on another node that disconnects with a request ends it responder_gone [SB-16-2] [SB-6.4-2]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const member = await join(t, urls[1], 'workers');
  const web = await Peer.named(urls[0], 'web');
  t.teardown(() => web.close());
  web.send({ action: 'send', dest: 'workers', message: 1, ack: 'q1' });
  await member.next((f) => f.action === 'message');
  await member.close();
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'error', code: 'responder_gone' });
  web.send({ action: 'send', dest: 'workers', message: 2, ack: 'q2' });
  t.match(await web.next((f) => f.ack === 'q2'), { action: 'error', code: 'no_responders' }, 'an empty pool has no responders');
});

t.test('a retry-safe request moves to a pool member on another node when its member leaves [SB-16-2] [SB-6.4-2]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const first = await join(t, urls[1], 'workers');
  const second = await join(t, urls[2], 'workers');
  const web = await Peer.named(urls[0], 'web');
  t.teardown(() => web.close());
  web.send({ action: 'send', dest: 'workers', message: 'job', ack: 'q1', retry: true });
  const got = (peer: Peer) => peer.received.some((f) => f.action === 'message');
  for (const deadline = Date.now() + 2000; !got(first) && !got(second); ) {
    if (Date.now() > deadline) throw new Error('no member got the request');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const taken = got(first) ? { left: first, stays: second } : { left: second, stays: first };
  await taken.left.close();
  const moved = await taken.stays.next((f) => f.action === 'message');
  t.match(moved, { from: 'web', message: 'job' }, 'the other node\'s member gets it');
  taken.stays.send({ action: 'answer', ack: moved.ack, message: 'done' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', message: 'done' });
});

t.test('a member at its in-flight limit with requests from two nodes is skipped, whichever node sends next [SB-16-2] [SB-6.4-1]', async (t) => {
  const { urls, redis } = await startCluster(t, 3, { limits: { maxInFlightPerMember: 2 } });
  const busyKey = `${lastPrefix()}busy:workers`;
  const admin = createClient({ url: redis.url });
  await admin.connect();
  t.teardown(() => admin.close());
  /** Wait until the member's node has (or no longer has) it marked busy in Redis. */
  const marked = async (want: boolean): Promise<boolean> => {
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await admin.hLen(busyKey)) > 0 === want) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  };
  const member = await join(t, urls[1], 'workers');
  const near = await Peer.named(urls[0], 'near');
  const far = await Peer.named(urls[2], 'far');
  t.teardown(() => Promise.all([near.close(), far.close()]));

  // One request from each of two other nodes: each of them counts one, the member holds two.
  near.send({ action: 'send', dest: 'workers', message: 1, ack: 'q1' });
  const first = await member.next((f) => f.action === 'message');
  far.send({ action: 'send', dest: 'workers', message: 2, ack: 'q2' });
  await member.next((f) => f.action === 'message' && f.message === 2);
  t.ok(await marked(true), "the member's node marks it busy in Redis");
  near.send({ action: 'send', dest: 'workers', message: 3, ack: 'q3' });
  t.match(await near.next((f) => f.ack === 'q3'), { action: 'error', code: 'limit_exceeded', limit: 'maxInFlightPerMember' }, 'a third request is refused though its node sent only one');
  t.same(await member.quiet(100), [], 'and never reaches the member');

  // Another member, on the node of the third sender: it takes what the busy one cannot.
  const other = await join(t, urls[0], 'workers');
  near.send({ action: 'send', dest: 'workers', message: 4, ack: 'q4' });
  t.match(await other.next((f) => f.action === 'message'), { message: 4 }, 'the other member takes it');

  // An answer brings the busy member below its limit: its mark goes, and it is picked again.
  member.send({ action: 'answer', ack: first.ack as string, message: 'done' });
  t.match(await near.next((f) => f.ack === 'q1'), { action: 'answer', message: 'done' });
  t.ok(await marked(false), 'the mark goes once the member is below its limit');
  const reached: unknown[] = [];
  member.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.action === 'message') reached.push(frame.message);
  });
  for (let i = 5; i < 9; i++) {
    far.send({ action: 'send', dest: 'workers', message: i, ack: `q${i}` });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (let attempt = 0; attempt < 50 && reached.length === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(reached.length > 0, `the member is picked again (${reached.length} of 4 requests)`);
});

t.test('a retry-safe request whose member leaves does not move to a member another node marked busy [SB-16-2] [SB-6.4-2] [SB-6.4-1]', async (t) => {
  const { urls, redis } = await startCluster(t, 3, { limits: { maxInFlightPerMember: 1 } });
  const admin = createClient({ url: redis.url });
  await admin.connect();
  t.teardown(() => admin.close());
  const busy = await join(t, urls[1], 'workers');
  const far = await Peer.named(urls[2], 'far');
  const web = await Peer.named(urls[0], 'web');
  t.teardown(() => Promise.all([far.close(), web.close()]));
  far.send({ action: 'send', dest: 'workers', message: 'first', ack: 'q1' });
  await busy.next((f) => f.action === 'message');
  for (let attempt = 0; attempt < 50 && (await admin.hLen(`${lastPrefix()}busy:workers`)) === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
  // The web's node has sent the busy member nothing: only the mark in Redis says it is at its limit.
  const leaving = await join(t, urls[0], 'workers');
  web.send({ action: 'send', dest: 'workers', message: 'job', ack: 'q2', retry: true });
  t.match(await leaving.next((f) => f.action === 'message'), { message: 'job' }, 'the request goes to the member that is not busy');
  await leaving.close();
  t.match(await web.next((f) => f.ack === 'q2'), { action: 'error', code: 'responder_gone' }, 'with no other member free, it ends');
  t.same((await busy.quiet(200)).filter((f) => f.action === 'message'), [], 'the busy member gets nothing past its limit');
});
