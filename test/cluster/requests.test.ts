/**
 * Requests across nodes (protocol.md section 16, [SB-16-2]): one outcome per request, decided on the
 * sender's node, with the receiver on another; first answer wins, gather, cancel, deadlines,
 * `responder_gone`, error answers, streams, legacy receivers, `no_responders`. Real redis-server, three
 * broker nodes in this process, raw WebSocket peers.
 */
import t, { type Test } from 'tap';
import { startCluster } from '../fixtures/cluster.js';
import { Peer, type Frame } from '../fixtures/peer.js';

async function named(t: Test, url: string, name: string, extended = true): Promise<Peer> {
  const peer = await Peer.named(url, name, { extended });
  t.teardown(() => peer.close());
  return peer;
}

const message = (f: Frame) => f.action === 'message';

t.test('a request reaches its receiver on another node and ends in its answer; the loser of the race is cancelled [SB-16-2] [SB-6-7]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const web = await named(t, urls[0], 'web');
  const r1 = await named(t, urls[1], 'r1');
  const r2 = await named(t, urls[2], 'r2');
  web.send({ action: 'send', dest: ['r1', 'r2'], message: { n: 1 }, ack: 'q1' });
  const [d1, d2] = await Promise.all([r1.next(message), r2.next(message)]);
  t.match(d1, { from: 'web', message: { n: 1 } });
  r2.send({ action: 'answer', ack: d2.ack, message: 'two' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', from: 'r2', message: 'two' });
  t.match(await r1.next((f) => f.action === 'cancel'), { ack: d1.ack, reason: 'answered' });
  r1.send({ action: 'answer', ack: d1.ack, message: 'late' });
  t.same(await r1.quiet(150), [], 'a late answer from another node is dropped quietly [SB-4.4-2]');
  t.same(await web.quiet(50), [], 'one outcome');
});

t.test('error answers, gather and deadlines across nodes [SB-16-2] [SB-6-7] [SB-6.2-1] [SB-6-8]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  const calc = await named(t, urls[1], 'calc');
  const other = await named(t, urls[1], 'other');
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q1' });
  const d1 = await calc.next(message);
  calc.send({ action: 'answer', ack: d1.ack, error: { code: 'bad_input', message: 'no' } });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', from: 'calc', error: { code: 'bad_input' } });

  web.send({ action: 'send', dest: ['calc', 'other'], message: 2, ack: 'q2', gather: true, timeout: 300 });
  const d2 = await calc.next(message);
  await other.next(message);
  calc.send({ action: 'answer', ack: d2.ack, message: 'mine' });
  t.match(await web.next((f) => f.ack === 'q2'), {
    action: 'gathered',
    results: [
      { from: 'calc', message: 'mine' },
      { from: 'other', code: 'timeout' },
    ],
  });
  t.match(await other.next((f) => f.action === 'cancel'), { reason: 'timeout' });

  web.send({ action: 'send', dest: 'calc', message: 3, ack: 'q3', timeout: 200 });
  const d3 = await calc.next(message);
  t.match(await web.next((f) => f.ack === 'q3'), { action: 'error', code: 'timeout' });
  t.match(await calc.next((f) => f.action === 'cancel'), { ack: d3.ack, reason: 'timeout' });
});

t.test('cancel, a receiver leaving, and a sender leaving cross nodes [SB-16-2] [SB-6.1-1] [SB-6-9] [SB-6-10]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  const calc = await named(t, urls[1], 'calc');
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q1' });
  const d1 = await calc.next(message);
  web.send({ action: 'cancel', ack: 'q1' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'error', code: 'cancelled' });
  t.match(await calc.next((f) => f.action === 'cancel'), { ack: d1.ack, reason: 'cancelled' });

  web.send({ action: 'send', dest: 'calc', message: 2, ack: 'q2' });
  await calc.next(message);
  calc.send({ action: 'unregister', id: 'calc' });
  t.match(await web.next((f) => f.ack === 'q2'), { action: 'error', code: 'responder_gone' }, 'unregistered on its node');

  const gone = await named(t, urls[1], 'gone');
  web.send({ action: 'send', dest: 'gone', message: 3, ack: 'q3' });
  await gone.next(message);
  await gone.close();
  t.match(await web.next((f) => f.ack === 'q3'), { action: 'error', code: 'responder_gone' }, 'disconnected on its node');

  const sender = await Peer.named(urls[0], 'sender');
  const worker = await named(t, urls[1], 'worker');
  sender.send({ action: 'send', dest: 'worker', message: 4, ack: 'q4' });
  const d4 = await worker.next(message);
  await sender.close();
  t.match(await worker.next((f) => f.action === 'cancel'), { ack: d4.ack, reason: 'sender_gone' });
});

t.test('a request sent as soon as the holder on another node was told registered never ends no_responders [SB-16-2] [SB-6-6]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  web.send({ action: 'send', dest: 'nobody', message: 0, ack: 'q0' });
  t.match(await web.next((f) => f.ack === 'q0'), { action: 'error', code: 'no_responders' });
  const holder = await Peer.connect(urls[1]);
  t.teardown(() => holder.close());
  for (let round = 0; round < 30; round++) {
    const name = `fresh-${round}`;
    holder.send({ action: 'register', id: name });
    await holder.next((f) => f.action === 'registered' && f.id === name);
    web.send({ action: 'send', dest: name, message: round, ack: `r${round}` });
    const delivered = await holder.next(message);
    holder.send({ action: 'answer', ack: delivered.ack, message: round });
    t.match(await web.next((f) => f.ack === `r${round}`), { action: 'answer', message: round }, `round ${round}`);
    holder.send({ action: 'unregister', id: name });
    await holder.next((f) => f.action === 'unregistered' && f.id === name);
  }
});

t.test('a streaming answer crosses nodes with its flow control [SB-16-2] [SB-13-2] [SB-13-3]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  const calc = await named(t, urls[1], 'calc');
  web.send({ action: 'send', dest: 'calc', message: 'count', ack: 'q1', stream: true });
  const d1 = await calc.next(message);
  t.equal(d1.credit, 16, 'the receiver learns its credit');
  for (let i = 0; i < 16; i++) calc.send({ action: 'progress', ack: d1.ack, message: i });
  calc.send({ action: 'progress', ack: d1.ack, message: 16 });
  t.match(await calc.next((f) => f.action === 'error'), { code: 'limit_exceeded', limit: 'streamWindow' }, 'credit is judged on the sender\'s node');
  for (let i = 0; i < 16; i++) t.match(await web.next((f) => f.action === 'progress'), { ack: 'q1', from: 'calc', message: i });
  web.send({ action: 'pull', ack: 'q1', n: 4 });
  t.match(await calc.next((f) => f.action === 'pull'), { ack: d1.ack, n: 4 });
  calc.send({ action: 'answer', ack: d1.ack, message: 'done' });
  t.match(await web.next((f) => f.action === 'answer'), { ack: 'q1', message: 'done' });
});

t.test('a legacy receiver on another node gets only legacy frames, and answers [SB-16-2] [SB-2-3]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  const old = await named(t, urls[1], 'old', false);
  web.send({ action: 'send', dest: 'old', message: 'hi', ack: 'q1', trace: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01' } });
  const delivered = await old.next(message);
  t.notOk('trace' in delivered, 'no trace for a legacy receiver');
  old.send({ action: 'answer', ack: delivered.ack, message: 'hello' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', from: 'old', message: 'hello' });
  web.send({ action: 'send', dest: 'old', message: 'again', ack: 'q2', timeout: 150 });
  await old.next(message);
  await web.next((f) => f.ack === 'q2');
  t.same((await old.quiet(100)).filter((f) => f.action === 'cancel'), [], 'no cancel for a legacy receiver');
});

t.test('an answer with an ack another node never gave this connection is unknown_ack [SB-16-2] [SB-4.4-1]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const web = await named(t, urls[0], 'web');
  const calc = await named(t, urls[1], 'calc');
  const thief = await named(t, urls[1], 'thief');
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q1' });
  const d1 = await calc.next(message);
  thief.send({ action: 'answer', ack: d1.ack, message: 'stolen' });
  t.match(await thief.next((f) => f.action === 'error'), { code: 'unknown_ack' });
  calc.send({ action: 'answer', ack: d1.ack, message: 'mine' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', message: 'mine' });
});

t.test('messages without ack, and sent reports, cross nodes [SB-16-2] [SB-4.3-3]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const web = await named(t, urls[0], 'web');
  const a = await named(t, urls[1], 'a');
  const b = await named(t, urls[2], 'b');
  web.send({ action: 'send', dest: ['a', 'b', 'nobody'], message: 'news', ref: 's1' });
  t.match(await web.next((f) => f.action === 'sent'), { ref: 's1', delivered: ['a', 'b'], unknown: ['nobody'] });
  t.match(await a.next(message), { from: 'web', message: 'news' });
  t.match(await b.next(message), { from: 'web', message: 'news' });
});
