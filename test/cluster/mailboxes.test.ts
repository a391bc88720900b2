/**
 * Mailboxes in cluster mode (protocol.md section 16, [SB-16-6]): the mailbox of an offline durable name is
 * in Redis, so what any node queued reaches the name's next holder on any node, in order, within limits
 * counted over the whole cluster, and it outlives the nodes that queued it. Real redis-server; broker
 * nodes in this process, and as `switchboard serve --cluster` processes for the kill -9.
 */
import type { Socket } from 'node:net';
import { createClient } from 'redis';
import t from 'tap';
import WebSocket from 'ws';
import { built, freePort } from '../fixtures/broker-process.js';
import { clusterPrefix, peerOn as peer, registerWhenFree, spawnNode, startCluster } from '../fixtures/cluster.js';
import { Peer, type Frame } from '../fixtures/peer.js';
import { mailboxesView, nameView } from '../../lib/monitor/introspect.js';
import { startRedis } from '../fixtures/redis.js';

const message = (f: Frame) => f.action === 'message';

/** Mailbox ids (`<ms>-<n>`) in the order they were queued in one mailbox. */
function byMailboxId(a: string, b: string): number {
  const [x, y] = [a.split('-').map(BigInt), b.split('-').map(BigInt)];
  return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
}

/** Register `name` as durable on `url`, then disconnect: the name keeps a mailbox. */
async function offline(t: Parameters<typeof peer>[0], url: string, name: string): Promise<void> {
  const holder = await peer(t, url);
  holder.send({ action: 'register', id: name, durable: true });
  await holder.next((f) => f.action === 'registered');
  holder.ws.close();
  await new Promise((resolve) => holder.ws.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 100)); // the release reaches Redis
}

t.test('senders on two nodes queue for one name; its holder on a third node gets everything, in each sender\'s order [SB-16-6] [SB-6.3-1]', async (t) => {
  const { urls } = await startCluster(t, 3);
  await offline(t, urls[0], 'inbox');
  const [a, b] = [await peer(t, urls[1], 'a'), await peer(t, urls[2], 'b')];
  for (let i = 0; i < 20; i++) {
    a.send({ action: 'send', dest: 'inbox', message: `a${i}`, ref: `r${i}` });
    b.send({ action: 'send', dest: 'inbox', message: `b${i}`, ref: `r${i}` });
  }
  // Both senders' sends are queued before the holder comes back: one still on its way then is delivered live.
  for (const sender of [a, b]) {
    for (let i = 0; i < 20; i++) t.match(await sender.next((f) => f.ref === `r${i}`), { action: 'sent', delivered: [], queued: ['inbox'] });
  }
  const back = await peer(t, urls[2]);
  back.send({ action: 'register', id: 'inbox' });
  t.match(await back.next(), { action: 'registered', id: 'inbox' }, 'registered comes first');
  const got: string[] = [];
  const ids: string[] = [];
  while (got.length < 40) {
    const frame = await back.next(message);
    got.push(frame.message as string);
    ids.push(frame.mailbox as string);
  }
  t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'each message carries its mailbox id');
  t.same(ids, [...ids].sort(byMailboxId), 'the ids rise in the order the messages were queued');
  t.equal(new Set(ids).size, 40, 'no two alike');
  t.same(got.filter((m) => m.startsWith('a')), Array.from({ length: 20 }, (_, i) => `a${i}`), 'a\'s messages in a\'s order');
  t.same(got.filter((m) => m.startsWith('b')), Array.from({ length: 20 }, (_, i) => `b${i}`), 'b\'s messages in b\'s order');
  t.same(await back.quiet(100), [], 'each once');
  a.send({ action: 'send', dest: 'inbox', message: 'now', ack: 'q1' });
  const delivered = await back.next(message);
  back.send({ action: 'answer', ack: delivered.ack, message: 'direct' });
  t.match(await a.next((f) => f.ack === 'q1'), { action: 'answer', message: 'direct' }, 'with a holder, no mailbox: the next request is delivered at once');
});

t.test('a legacy holder gets queued messages as wsmsgbroker sent them, without a mailbox id [SB-16-6] [SB-2-3]', async (t) => {
  const { urls } = await startCluster(t, 2);
  await offline(t, urls[0], 'inbox');
  const web = await peer(t, urls[1], 'web');
  web.send({ action: 'send', dest: 'inbox', message: 'kept', ref: 's1' });
  t.match(await web.next((f) => f.ref === 's1'), { action: 'sent', queued: ['inbox'] });
  const legacy = await Peer.connect(urls[0], { extended: false, timeoutMs: 5000 });
  t.teardown(() => legacy.ws.terminate());
  legacy.send({ action: 'register', id: 'inbox' });
  await legacy.next((f) => f.action === 'registered');
  t.same(await legacy.next(message), { action: 'message', message: 'kept', from: 'web' });
});

t.test('a queued request from one node is delivered by another, answered there, and its one outcome reaches its sender [SB-16-6] [SB-6.3-3]', async (t) => {
  const { urls } = await startCluster(t, 3);
  await offline(t, urls[0], 'jobs');
  const web = await peer(t, urls[1], 'web');
  web.send({ action: 'send', dest: 'jobs', message: 'first' });
  web.send({ action: 'send', dest: 'jobs', message: 'work', ack: 'q1', timeout: 10_000, ref: 's1' });
  web.send({ action: 'send', dest: 'jobs', message: 'last' });
  t.match(await web.next((f) => f.ref === 's1'), { action: 'sent', queued: ['jobs'] });
  const back = await peer(t, urls[2]);
  back.send({ action: 'register', id: 'jobs' });
  await back.next((f) => f.action === 'registered');
  t.match(await back.next(message), { message: 'first' });
  const request = await back.next(message);
  t.match(request, { message: 'work', from: 'web' }, 'the request in its place, between the two messages');
  t.type(request.ack, 'string', 'with a delivery id to answer');
  t.match(await back.next(message), { message: 'last' });
  back.send({ action: 'answer', ack: request.ack, message: 'done' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', from: 'jobs', message: 'done' });
  back.send({ action: 'answer', ack: request.ack, message: 'again' });
  t.match(await back.next((f) => f.action === 'error'), { code: 'unknown_ack' }, 'a second answer is unknown, as on one node');
  t.same((await web.quiet(100)).filter((f) => f.ack === 'q1'), [], 'one outcome');
});

t.test('the mailbox limits count what every node queued: the 4th message is refused whichever node sends it [SB-16-6] [SB-6.3-2]', async (t) => {
  const { urls } = await startCluster(t, 2, { limits: { maxMailboxSize: 3 } });
  await offline(t, urls[0], 'inbox');
  const [a, b] = [await peer(t, urls[0], 'a'), await peer(t, urls[1], 'b')];
  a.send({ action: 'send', dest: 'inbox', message: 1, ref: 'a1' });
  t.match(await a.next((f) => f.ref === 'a1'), { action: 'sent', queued: ['inbox'] });
  b.send({ action: 'send', dest: 'inbox', message: 2, ref: 'b1' });
  t.match(await b.next((f) => f.ref === 'b1'), { action: 'sent', queued: ['inbox'] });
  a.send({ action: 'send', dest: 'inbox', message: 3, ref: 'a2' });
  t.match(await a.next((f) => f.ref === 'a2'), { action: 'sent', queued: ['inbox'] });
  b.send({ action: 'send', dest: ['a', 'inbox'], message: 4, ack: 'q4', ref: 'b2' });
  t.match(await b.next((f) => f.ref === 'b2'), { action: 'error', code: 'mailbox_full', id: 'inbox', ack: 'q4' });
  t.same((await a.quiet(100)).filter(message), [], 'a refused send is delivered to no destination');
});

t.test('the monitor of every node shows the cluster\'s mailboxes, as its last sweep found them [SB-16-6]', async (t) => {
  const { urls, brokers } = await startCluster(t, 2);
  await offline(t, urls[0], 'inbox');
  const a = await peer(t, urls[0], 'a');
  const sentAt = Date.now();
  for (const [i, text] of ['one', 'three'].entries()) {
    a.send({ action: 'send', dest: 'inbox', message: text, ref: `s${i}` });
    t.match(await a.next((f) => f.ref === `s${i}`), { action: 'sent', queued: ['inbox'] });
  }
  const other = brokers[1]; // queued through node 1: node 2 knows only what Redis says
  /** The mailboxes node 2 shows once they have `depth` messages in all (within a few lease ticks). */
  const shown = async (depth: number) => {
    const total = () => mailboxesView(other).mailboxes.reduce((sum, box) => sum + box.depth, 0);
    for (let tries = 0; tries < 60 && total() !== depth; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
    return mailboxesView(other).mailboxes;
  };
  const [box] = await shown(2);
  t.match(box, { name: 'inbox', depth: 2, bytes: Buffer.byteLength('"one""three"') }, 'its messages and their bytes');
  t.ok(box.oldestAgeMs !== null && box.oldestAgeMs >= 0 && box.oldestAgeMs <= Date.now() - sentAt + 50, 'the age of the oldest');
  t.match(other.stats(), { queued: 2, queuedBytes: box.bytes }, 'the counts of stats() are the cluster\'s too');
  t.equal(nameView(other, 'inbox')?.mailbox?.depth, 2, 'and the view of the name');
  const back = await peer(t, urls[1]);
  back.send({ action: 'register', id: 'inbox' });
  await back.next((f) => f.action === 'registered');
  await back.next(message);
  await back.next(message);
  t.same(await shown(0), [], 'a mailbox taken by its holder is gone from the view');
  t.match(other.stats(), { queued: 0, queuedBytes: 0 });
});

t.test('what was queued outlives kill -9 of the nodes that queued it and of the node that opened the mailbox [SB-16-6]', { skip: built() }, async (t) => {
  const redis = await startRedis(t);
  const cluster = clusterPrefix();
  const nodes = await Promise.all([0, 1, 2].map(async () => spawnNode(t, await freePort(), redis.url, cluster)));
  await offline(t, nodes[0].url, 'inbox');
  const web = await peer(t, nodes[1].url, 'web');
  for (let i = 0; i < 5; i++) web.send({ action: 'send', dest: 'inbox', message: i, ref: `s${i}` });
  for (let i = 0; i < 5; i++) t.match(await web.next((f) => f.ref === `s${i}`), { action: 'sent', queued: ['inbox'] });
  await Promise.all([nodes[0].kill(), nodes[1].kill()]);
  const back = await peer(t, nodes[2].url);
  back.send({ action: 'register', id: 'inbox' });
  await back.next((f) => f.action === 'registered');
  const got: unknown[] = [];
  while (got.length < 5) got.push((await back.next(message)).message);
  t.same(got, [0, 1, 2, 3, 4], 'every queued message, in order, from the node still running');
});

t.test('a durable name whose node is killed gets its mailbox once that node\'s lease ends [SB-16-6] [SB-16-3]', { skip: built() }, async (t) => {
  const redis = await startRedis(t);
  const cluster = clusterPrefix();
  const leaseMs = 1500;
  const [doomed, one, two] = await Promise.all([0, 1, 2].map(async () => spawnNode(t, await freePort(), redis.url, cluster, leaseMs)));
  const holder = await peer(t, doomed.url);
  holder.send({ action: 'register', id: 'inbox', durable: true });
  await holder.next((f) => f.action === 'registered');
  await doomed.kill();
  const web = await peer(t, one.url, 'web');
  // Until the dead node's lease ends the name still has its holder there; then the mailbox opens.
  let reply: Frame = {};
  for (let attempt = 0; attempt < 40; attempt++) {
    web.send({ action: 'send', dest: 'inbox', message: 'kept', ref: `s${attempt}` });
    reply = await web.next((f) => f.ref === `s${attempt}`);
    if ((reply.queued as string[] | undefined)?.length === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.match(reply, { action: 'sent', delivered: [], queued: ['inbox'] }, 'queued once the lease ended');
  const back = await peer(t, two.url);
  back.send({ action: 'register', id: 'inbox' });
  await back.next((f) => f.action === 'registered');
  t.match(await back.next(message), { from: 'web', message: 'kept' });
});

t.test('a node killed before what it took from a mailbox is on its holder\'s socket leaves it all to the next holder, with the same mailbox ids [SB-16-6]', { skip: built() }, async (t) => {
  const redis = await startRedis(t);
  const cluster = clusterPrefix();
  // 40 messages of 500 KB: more than the kernel's socket buffers hold for a holder that reads nothing.
  const big = ['--limit', 'maxMailboxBytes=67108864', '--limit', 'maxMailboxBytesTotal=134217728'];
  const [doomed, other] = await Promise.all([0, 1].map(async () => spawnNode(t, await freePort(), redis.url, cluster, 1500, big)));
  await offline(t, other.url, 'inbox');
  const web = await peer(t, other.url, 'web');
  const filler = 'x'.repeat(500_000);
  for (let i = 0; i < 40; i++) web.send({ action: 'send', dest: 'inbox', message: { i, filler }, ref: `s${i}` });
  for (let i = 0; i < 40; i++) t.match(await web.next((f) => f.ref === `s${i}`, 10_000), { action: 'sent', queued: ['inbox'] });

  // The first holder stops reading after 3 messages: its node cannot get the rest onto its socket.
  const first = new WebSocket(doomed.url, ['switchboard.v1']);
  t.teardown(() => first.terminate());
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    first.on('open', () => first.send(JSON.stringify({ action: 'register', id: 'inbox', durable: true })));
    first.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.action !== 'message') return;
      seen.push(frame.mailbox as string);
      if (seen.length === 3) {
        (first as unknown as { _socket: Socket })._socket.pause();
        resolve();
      }
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await doomed.kill();

  const { peer: next } = await registerWhenFree(t, other.url, 'inbox', 10_000);
  const got: Frame[] = [];
  while (got.length < 40) got.push(await next.next(message, 10_000));
  t.same(got.map((f) => (f.message as { i: number }).i), Array.from({ length: 40 }, (_, i) => i), 'the next holder gets all 40, in order');
  t.ok(seen.length >= 3 && seen.length < 40, `the first holder had read ${seen.length} of them when its node died`);
  t.same(got.slice(0, seen.length).map((f) => f.mailbox), seen, 'what the first holder read comes again with the same ids, for it to drop');
  t.same(await next.quiet(200), [], 'each once to the holder that stayed');

  // Once on the socket of the holder that stayed, the messages leave Redis: a later holder gets none.
  const client = createClient({ url: redis.url });
  await client.connect();
  t.teardown(() => client.close());
  let left = 1;
  for (let attempt = 0; attempt < 20 && left > 0; attempt++) {
    left = await client.exists([`${cluster}box:inbox`, `${cluster}boxq:inbox`]);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(left, 0, 'the mailbox is gone from Redis');
});

t.test('a message sent while a register is out comes after its registered and after what waited in the mailbox [SB-16-6] [SB-6.3-1]', { skip: built() }, async (t) => {
  const redis = await startRedis(t);
  const cluster = clusterPrefix();
  const [home, other, slow] = await Promise.all([0, 1, 2].map(async () => spawnNode(t, await freePort(), redis.url, cluster)));
  await offline(t, home.url, 'inbox');
  const web = await peer(t, other.url, 'web');
  web.send({ action: 'send', dest: 'inbox', message: 'queued', ref: 's1' });
  t.match(await web.next((f) => f.ref === 's1'), { action: 'sent', queued: ['inbox'] });
  // A subscriber that let go of its last name: its next register waits until every node knows its name,
  // up to a second for a node that does not answer (protocol.md [SB-16-5]). Meanwhile Redis has the claim.
  const back = await peer(t, home.url, 'tmp');
  back.send({ action: 'subscribe', topic: 'news', ref: 'sub' });
  t.match(await back.next((f) => f.ref === 'sub'), { action: 'subscribed' });
  back.send({ action: 'unregister', id: 'tmp', ref: 'unreg' });
  t.match(await back.next((f) => f.ref === 'unreg'), { action: 'unregistered' });
  slow.child.kill('SIGSTOP');
  t.teardown(() => void slow.child.kill('SIGCONT'));
  back.send({ action: 'register', id: 'inbox', ref: 'reg' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  web.send({ action: 'send', dest: 'inbox', message: 'direct', ref: 's2' });
  t.match(await web.next((f) => f.ref === 's2', 5000), { action: 'sent', delivered: ['inbox'] }, 'sent to the holder Redis names');
  const frames: Frame[] = [];
  while (frames.length < 3) frames.push(await back.next((f) => f.action === 'registered' || f.action === 'message', 5000));
  t.same(
    frames.map((f) => (f.action === 'registered' ? 'registered' : f.message)),
    ['registered', 'queued', 'direct'],
    'registered, then the mailbox, then what was sent meanwhile',
  );
});
