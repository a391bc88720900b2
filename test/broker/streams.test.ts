/**
 * Streaming answers at the broker (protocol.md section 13), over real sockets with raw peers: parts go
 * on in order before the one outcome, within the credit the sender's pulls grant, and nothing of it
 * reaches a legacy client.
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';
const isProgress = (f: Frame) => f.action === 'progress';
const isPull = (f: Frame) => f.action === 'pull';
const isError = (f: Frame) => f.action === 'error';

t.test('a streaming request carries its credit, and its parts reach the sender in order before the answer [SB-13-1] [SB-13-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  web.send({ action: 'send', dest: 'calc', message: 'count', ack: 's1', stream: true });
  const m = await calc.next(isMessage);
  t.same(m, { action: 'message', message: 'count', from: 'web', ack: m.ack, credit: 16 }, 'the default streamWindow');
  for (let i = 0; i < 3; i++) calc.send({ action: 'progress', ack: m.ack as string, message: { i } });
  calc.send({ action: 'progress', ack: m.ack as string }); // no message: null
  calc.send({ action: 'answer', ack: m.ack as string, message: 'done' });
  const got: Frame[] = [];
  for (let i = 0; i < 5; i++) got.push(await web.next());
  t.same(got, [
    { action: 'progress', ack: 's1', from: 'calc', message: { i: 0 } },
    { action: 'progress', ack: 's1', from: 'calc', message: { i: 1 } },
    { action: 'progress', ack: 's1', from: 'calc', message: { i: 2 } },
    { action: 'progress', ack: 's1', from: 'calc', message: null },
    { action: 'answer', ack: 's1', from: 'calc', message: 'done' },
  ]);
  calc.send({ action: 'progress', ack: m.ack as string, message: 'late' });
  t.match(await calc.next(isError), { code: 'unknown_ack', ack: m.ack }, 'a part after its own answer is refused, as a second answer is');
  t.same(await web.quiet(100), [], 'and never reaches the sender');
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a receiver sends at most its credit; the sender\'s pull grants more, capped at the window [SB-13-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { streamWindow: 4 } });
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  web.send({ action: 'send', dest: 'calc', message: 'all', ack: 's1', stream: true, timeout: 60_000 });
  const m = await calc.next(isMessage);
  t.equal(m.credit, 4);
  const id = m.ack as string;
  for (let i = 0; i < 6; i++) calc.send({ action: 'progress', ack: id, message: i });
  const refused = [await calc.next(isError), await calc.next(isError)];
  for (const e of refused) t.match(e, { code: 'limit_exceeded', limit: 'streamWindow', ack: id });
  const parts: unknown[] = [];
  for (let i = 0; i < 4; i++) parts.push((await web.next(isProgress)).message);
  t.same(parts, [0, 1, 2, 3], 'the parts within the credit, and no others');
  t.same((await web.quiet(100)).filter(isProgress), []);

  web.send({ action: 'pull', ack: 's1', n: 3 });
  t.same(await calc.next(isPull), { action: 'pull', ack: id, n: 3 }, 'the credit goes on to the receiver by its delivery id');
  web.send({ action: 'pull', ack: 's1', n: 50 });
  t.same(await calc.next(isPull), { action: 'pull', ack: id, n: 1 }, 'credit never exceeds the window');
  for (let i = 10; i < 15; i++) calc.send({ action: 'progress', ack: id, message: i });
  t.match(await calc.next(isError), { code: 'limit_exceeded', limit: 'streamWindow' }, 'the fifth part is one too many');
  const more: unknown[] = [];
  for (let i = 0; i < 4; i++) more.push((await web.next(isProgress)).message);
  t.same(more, [10, 11, 12, 13]);

  web.send({ action: 'pull', ack: 'never-sent', n: 2 });
  t.same(await web.quiet(100), [], 'a pull that finds no streaming request is not answered');
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('progress that is no part of a live stream is refused, and stream cannot gather [SB-13-1] [SB-13-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  web.send({ action: 'send', dest: 'calc', message: 'plain', ack: 'r1' });
  const m = await calc.next(isMessage);
  t.equal(m.credit, undefined, 'a request that is no stream carries no credit');
  calc.send({ action: 'progress', ack: m.ack as string, message: 1 });
  t.match(await calc.next(isError), { code: 'limit_exceeded', limit: 'streamWindow', ack: m.ack });
  calc.send({ action: 'progress', ack: 'no-such-delivery', message: 1 });
  t.match(await calc.next(isError), { code: 'unknown_ack', ack: 'no-such-delivery' });
  calc.send({ action: 'answer', ack: m.ack as string, message: 2 });
  t.match(await web.next(), { action: 'answer', ack: 'r1', message: 2 });

  web.send({ action: 'send', dest: 'calc', message: 'x', ack: 'g1', gather: true, stream: true, ref: 'f1' });
  t.match(await web.next(isError), { code: 'bad_frame', path: '/stream', ack: 'g1', ref: 'f1' });
  web.send({ action: 'pull', ack: 'r1', n: 0 });
  t.match(await web.next(isError), { code: 'bad_frame', path: '/n' });
  t.same((await calc.quiet(100)).filter(isMessage), [], 'nothing was delivered');
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a cancelled stream tells its receiver, whose later parts are dropped quietly [SB-13-4] [SB-6.1-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  web.send({ action: 'send', dest: 'calc', message: 'long', ack: 's1', stream: true });
  const m = await calc.next(isMessage);
  calc.send({ action: 'progress', ack: m.ack as string, message: 'first' });
  t.match(await web.next(isProgress), { message: 'first' });
  web.send({ action: 'cancel', ack: 's1' });
  t.match(await web.next(), { action: 'error', code: 'cancelled', ack: 's1' });
  t.same(await calc.next((f) => f.action === 'cancel'), { action: 'cancel', ack: m.ack, reason: 'cancelled' });
  calc.send({ action: 'progress', ack: m.ack as string, message: 'second' });
  t.same(await calc.quiet(150), []);
  t.same(await web.quiet(50), []);
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('legacy clients see nothing of streams: a legacy sender\'s stream is ignored, a legacy receiver gets no credit [SB-13-5] [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const old = await Peer.named(url, 'old', { extended: false });
  const calc = await Peer.named(url, 'calc');
  old.send({ action: 'send', dest: 'calc', message: 'hi', ack: 'a1', stream: true });
  const m = await calc.next(isMessage);
  t.equal(m.credit, undefined, 'a legacy sender cannot take parts: its request is no stream');
  calc.send({ action: 'progress', ack: m.ack as string, message: 'part' });
  t.match(await calc.next(isError), { code: 'limit_exceeded', limit: 'streamWindow' });
  calc.send({ action: 'answer', ack: m.ack as string, message: 'ok' });
  t.same(await old.next(), { action: 'answer', ack: 'a1', from: 'calc', message: 'ok' }, 'only the answer reaches it');

  const web = await Peer.named(url, 'web');
  web.send({ action: 'send', dest: 'old', message: 'hey', ack: 's1', stream: true });
  const legacyMessage = await old.next(isMessage);
  t.same(Object.keys(legacyMessage).sort(), ['ack', 'action', 'from', 'message'], 'no credit field for a legacy receiver');
  old.send({ action: 'answer', ack: legacyMessage.ack as string, message: 'plain' });
  t.match(await web.next(), { action: 'answer', ack: 's1', from: 'old', message: 'plain' }, 'the stream ends with no parts and the answer');
  for (const p of [old, calc, web]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});
