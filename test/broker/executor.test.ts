/**
 * The per-connection executor adapts to load (lib/broker/executor.ts, protocol.md [SB-7-5], [SB-2-8],
 * issue 19): a frame that finds nothing waiting is handled as it arrives; a burst, and everything that
 * arrives while anything waits, is handled in passes of at most 16 frames per connection, in order.
 * The scheduling rules are shown on the executor itself (they are about turns of the event loop, which a
 * socket cannot show exactly); order and holds are shown again over real sockets.
 */
import t from 'tap';
import { BATCH, Batch, Executor, Inbox } from '../../lib/broker/executor.js';
import type { Session } from '../../lib/broker/session.js';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

/** A connection as the executor sees it: its inbox, and whether its frames are still handled. */
function connection(name: string): Session {
  return { name, inbox: new Inbox(), accepting: true, pause() {}, resume() {}, uncork() {} } as unknown as Session;
}

/** An executor whose host records `<connection>:<frame>` for every frame it handles. */
function recording(onHandle: (session: Session, data: Buffer) => void = () => {}) {
  const handled: string[] = [];
  const executor = new Executor({
    handle: (session, data) => {
      handled.push(`${(session as unknown as { name: string }).name}:${data.toString()}`);
      onHandle(session, data);
    },
    closed: (session) => handled.push(`${(session as unknown as { name: string }).name}:closed`),
    fault: (error) => {
      throw error;
    },
  });
  return { executor, handled };
}

const frame = (text: string) => Buffer.from(text);
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Turns of the event loop until `done`, at most `turns` of them. */
async function turnsUntil(done: () => boolean, turns = 1000): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await nextTurn();
}

t.test('a frame that finds nothing waiting is handled as it arrives, before frame() returns', async (t) => {
  const { executor, handled } = recording();
  const a = connection('a');
  executor.frame(a, frame('1'));
  t.same(handled, ['a:1'], 'handled at once: no turn of the event loop');
  await Promise.resolve();
  executor.frame(a, frame('2'));
  t.same(handled, ['a:1', 'a:2'], 'the next lone frame, after the synchronous run of the first, too');
});

t.test('the frames that arrive with it in one synchronous run are a burst: queued, then handled in order in a pass', async (t) => {
  const { executor, handled } = recording();
  const a = connection('a');
  for (let i = 1; i <= 5; i++) executor.frame(a, frame(String(i)));
  t.same(handled, ['a:1'], 'only the first is handled on arrival');
  await turnsUntil(() => handled.length === 5);
  t.same(handled, ['a:1', 'a:2', 'a:3', 'a:4', 'a:5']);
});

t.test('a frame whose read from the socket holds more is part of a burst: queued even when nothing waits', async (t) => {
  const { executor, handled } = recording();
  const a = connection('a');
  executor.frame(a, frame('1'), true);
  executor.frame(a, frame('2'), false);
  t.same(handled, [], 'neither the first frame of the read nor the last is handled on arrival');
  await turnsUntil(() => handled.length === 2);
  t.same(handled, ['a:1', 'a:2'], 'both in one pass, in order');
});

t.test("ws still counts what is left of a read where connections.ts looks for it (its receiver's _bufferedBytes)", async (t) => {
  const { url } = await startBroker(t);
  const p = await Peer.connect(url);
  const receiver = (p.ws as unknown as { _receiver?: { _bufferedBytes?: unknown } })._receiver;
  t.equal(typeof receiver?._bufferedBytes, 'number', 'without it every frame counts as alone, and a burst loses one frame to the fast path');
  await p.close();
});

t.test('while any connection has frames waiting, a new frame waits its turn: a flood delays another connection by at most one pass [SB-7-5]', async (t) => {
  const { executor, handled } = recording();
  const flood = connection('flood');
  const victim = connection('victim');
  for (let i = 1; i <= 100; i++) executor.frame(flood, frame(String(i)));
  await Promise.resolve(); // a later read, from another socket
  executor.frame(victim, frame('v'));
  t.same(handled, ['flood:1'], 'the victim is not handled on arrival while the flood waits');
  await turnsUntil(() => handled.length === 101);
  const at = handled.indexOf('victim:v');
  t.ok(at > 0 && at <= 1 + BATCH, `the victim's frame is handled in the first pass, after at most ${BATCH} of the flood's (at ${at})`);
  t.same(handled.filter((h) => h.startsWith('flood:')), Array.from({ length: 100 }, (_, i) => `flood:${i + 1}`), "the flood's frames in order");
});

t.test('a connection held by asynchronous work has its frames queued, never handled on arrival, and in order after it settles', async (t) => {
  let release!: () => void;
  const work = new Promise<void>((resolve) => (release = resolve));
  const a = connection('a');
  const { executor, handled } = recording((session, data) => {
    if (data.toString() === 'auth') executor.hold(session, work);
  });
  executor.frame(a, frame('auth'));
  await Promise.resolve();
  executor.frame(a, frame('register'));
  await nextTurn();
  await Promise.resolve();
  executor.frame(a, frame('send'));
  await nextTurn();
  t.same(handled, ['a:auth'], 'nothing after the held frame runs while the work is pending');
  release();
  await turnsUntil(() => handled.length === 3);
  t.same(handled, ['a:auth', 'a:register', 'a:send']);
  await Promise.resolve();
  executor.frame(a, frame('later'));
  t.same(handled.at(-1), 'a:later', 'once released and drained, a lone frame is handled on arrival again');
});

t.test('a frame that arrives while another is handled (the broker writing to its own peer) waits: no handler runs inside another', async (t) => {
  const a = connection('a');
  const b = connection('b');
  let depth = 0;
  let deepest = 0;
  const { executor, handled } = recording((_session, data) => {
    depth++;
    deepest = Math.max(deepest, depth);
    if (data.toString() === 'ping') executor.frame(b, frame('pong'));
    depth--;
  });
  executor.frame(a, frame('ping'));
  t.same(handled, ['a:ping']);
  await turnsUntil(() => handled.length === 2);
  t.same(handled, ['a:ping', 'b:pong']);
  t.equal(deepest, 1);
});

t.test('the close of a connection is handled after the frames that arrived before it [SB-2-8]', async (t) => {
  const { executor, handled } = recording();
  const a = connection('a');
  for (let i = 1; i <= 40; i++) executor.frame(a, frame(String(i)));
  executor.close(a, 1000);
  await turnsUntil(() => handled.length === 41);
  t.equal(handled.at(-1), 'a:closed');
  t.equal(handled.length, 41);
  executor.frame(a, frame('after'));
  await nextTurn();
  t.equal(handled.length, 41, 'nothing is handled after the close');
});

t.test('over real sockets: 600 frames sent in one burst are handled in the order sent [SB-2-8]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a', { timeoutMs: 10_000 });
  const b = await Peer.named(url, 'b', { timeoutMs: 10_000 });
  const count = 600;
  for (let i = 0; i < count; i++) a.send({ action: 'send', dest: 'b', message: i, ref: `r${i}` });
  for (let i = 0; i < count; i++) {
    const sent = await a.next((f) => f.action === 'sent');
    if (sent.ref !== `r${i}`) return t.fail(`reply ${i} is for ${String(sent.ref)}`);
    const message = await b.next((f) => f.action === 'message');
    if (message.message !== i) return t.fail(`delivery ${i} carries ${String(message.message)}`);
  }
  t.pass(`${count} replies and ${count} deliveries, each in the order sent`);
  // Once the burst is over, a lone request goes through as ever.
  b.send({ action: 'register', id: 'b2', ref: 'x' });
  t.match(await b.next((f) => f.ref === 'x'), { action: 'registered', id: 'b2' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('over real sockets: frames behind an authenticate hook that takes its time wait for it, and then run in order [SB-2-8]', async (t) => {
  const identity = { id: 'svc', permissions: { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] } };
  const policy = tokenPolicy([{ ...identity, tokenSha256: sha256('good').toString('hex') }]);
  const authenticate = async (token: string) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return policy.authenticate!(token, { remoteAddress: '127.0.0.1' });
  };
  const { broker, url } = await startBroker(t, { auth: { authenticate, authorize: policy.authorize } });
  const p = await Peer.connect(url);
  p.send({ action: 'auth', token: 'good' });
  p.send({ action: 'register', id: 'late', ref: 'r1' });
  p.send({ action: 'send', dest: 'late', message: 'to myself', ref: 'r2' });
  t.match(await p.next(), { action: 'authenticated', identity: 'svc' });
  t.match(await p.next(), { action: 'registered', id: 'late', ref: 'r1' });
  const rest = [await p.next(), await p.next()];
  t.match(rest.find((f) => f.action === 'sent'), { ref: 'r2', delivered: ['late'] });
  t.match(rest.find((f) => f.action === 'message'), { message: 'to myself', from: 'late' });
  await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('writes made outside a pass can be corked until the synchronous run ends, then leave together', async (t) => {
  const batch = new Batch();
  const uncorked: string[] = [];
  const written = (name: string) => ({ uncork: () => uncorked.push(name) }) as unknown as Session;
  batch.untilMicrotask();
  t.equal(batch.corking, true, 'a session written to now corks its socket');
  batch.written.push(written('a'), written('b'));
  batch.untilMicrotask(); // a second batch of records in the same run joins the first
  t.same(uncorked, [], 'nothing leaves during the synchronous run');
  await Promise.resolve();
  t.same(uncorked, ['a', 'b'], 'each socket uncorked once when it ends');
  t.equal(batch.corking, false);
  t.equal(batch.written.length, 0);
});
