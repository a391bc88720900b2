/**
 * Deep nesting outside `message` (robustness.md, "Frames and validation"; protocol.md [SB-4.0-4];
 * issue 12, item 5). A 400,000-deep array is 800 KB, under `maxMessageBytes`; parsed whole it costs
 * about 230 ms of the broker's single thread on this machine before any schema can refuse it, so three
 * connections spending their bad-frame budget on such frames stall every other client for seconds.
 * The depth bound must hold for every field, and for the frame as a whole, before any full parse: each
 * such frame is refused with `bad_frame` naming the field, at the cost of a linear scan.
 *
 * Cost is measured against a shallow frame of the same size, so that transfer and a busy machine
 * cancel out; the bounds are generous for 2 shared cores (the fix costs nothing more than the shallow
 * frame, the defect 80 to 330 ms more). The victim's p99 under this attack is measured by
 * `npm run stress`.
 */
import t from 'tap';
import type { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';
import { startVictim } from '../fixtures/victim.js';

const DEPTH = 400_000;
const deep = (depth = DEPTH) => '['.repeat(depth) + ']'.repeat(depth);

/**
 * One frame per place a deep value can hide outside `message`, the `path` [SB-4.0-4] asks for, and a
 * shallow twin: the same frame with the deep value replaced by a string of the same length, which is
 * refused too but costs only the size of the frame (transfer, UTF-8 check, scan), never its depth.
 */
function attacks(tag: string): Array<{ label: string; text: string; twin: string; path: string; ids: Frame }> {
  const nest = deep();
  const flat = `"${'x'.repeat(nest.length - 2)}"`;
  const both = (make: (value: string) => string) => ({ text: make(nest), twin: make(flat) });
  return [
    { label: 'in ack', ...both((v) => `{"action":"answer","ack":${v},"message":1}`), path: '/ack', ids: {} },
    { label: 'in dest', ...both((v) => `{"action":"send","dest":${v},"message":1,"ref":"${tag}-dest"}`), path: '/dest', ids: { ref: `${tag}-dest` } },
    {
      label: 'in an unknown field',
      ...both((v) => `{"action":"send","dest":"nobody","message":1,"ack":"${tag}-extra","extra":${v}}`),
      path: '/extra',
      ids: { ack: `${tag}-extra` },
    },
    { label: 'as the whole frame', ...both((v) => v), path: '', ids: {} },
  ];
}

/**
 * What a deep frame costs the broker beyond a shallow frame of the same size: the median difference
 * of their turnarounds, measured in alternation so that a busy machine slows both alike.
 */
const EXCESS_BOUND_MS = 30; // the fix: about 0 (a deep frame is refused sooner); a whole parse: 80 to 260 ms here

const isError = (f: Frame) => f.action === 'error';

/** Send `text` and wait for the broker's `error`: the turnaround in ms, and the frame. */
async function refusal(peer: Peer, text: string, timeoutMs: number): Promise<{ ms: number; frame: Frame }> {
  const started = performance.now();
  peer.send(text);
  const frame = await peer.next(isError, timeoutMs);
  return { ms: performance.now() - started, frame };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function faults(broker: Broker): string[] {
  const seen: string[] = [];
  broker.on('error', (error) => seen.push(String(error)));
  return seen;
}

t.test('a 400,000-deep value in ack, in dest, in an unknown field or as the whole frame is refused with bad_frame naming the field, cheaply [SB-4.0-4] [SB-4.0-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const errors = faults(broker);
  const a = await Peer.named(url, 'a', { timeoutMs: 5000 });
  const b = await Peer.named(url, 'b');
  const REPEAT = 5; // 4 kinds x 5 = the whole default budget of 20 ([SB-7-3]): the connection must stay
  for (const { label, text, twin, path, ids } of attacks('once')) {
    const excess: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const { ms, frame } = await refusal(a, text, 5000);
      if (i === 0) t.match(frame, { action: 'error', code: 'bad_frame', path, ...ids }, `${label}: bad_frame, path ${JSON.stringify(path)}`);
      const shallow = await refusal(b, twin, 5000);
      excess.push(ms - shallow.ms);
    }
    const typical = median(excess);
    t.ok(typical < EXCESS_BOUND_MS, `${label}: ${typical.toFixed(1)} ms more than a shallow frame of its size (median of ${REPEAT}; bound ${EXCESS_BOUND_MS} ms)`, { excess });
  }
  t.equal(a.ws.readyState, a.ws.OPEN, 'twenty refusals are within the budget: the connection stays open');
  a.send({ action: 'send', dest: 'b', message: 'still here', ref: 'after' });
  t.match(await a.next((f) => f.ref === 'after'), { action: 'sent', delivered: ['b'] }, 'and it can still send');
  t.match(await b.next((f) => f.action === 'message'), { message: 'still here', from: 'a' });
  t.same(errors, [], 'no fault in the broker');
  await Promise.all([a.close(), b.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client\'s 400,000-deep frames are dropped silently and just as cheaply [SB-4.0-4] [SB-4.0-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const legacy = await Peer.named(url, 'old', { extended: false, timeoutMs: 5000 });
  const b = await Peer.named(url, 'b');
  // A legacy client hears nothing of a refused frame: the send that follows it, once delivered,
  // shows that it was handled.
  const excess: number[] = [];
  let n = 0;
  const handled = async (text: string) => {
    const started = performance.now();
    legacy.send(text);
    legacy.send({ action: 'send', dest: 'b', message: ++n });
    await b.next((f) => f.action === 'message' && f.message === n, 5000);
    return performance.now() - started;
  };
  for (const { text, twin } of attacks('legacy')) {
    for (let i = 0; i < 2; i++) excess.push((await handled(text)) - (await handled(twin)));
  }
  const typical = median(excess);
  t.ok(typical < EXCESS_BOUND_MS, `a deep frame costs ${typical.toFixed(1)} ms more than a shallow one of its size (median of ${excess.length}; bound ${EXCESS_BOUND_MS} ms)`, { excess });
  t.same(legacy.received.filter((f) => f.action !== 'registered'), [], 'the legacy client got no frame for them');
  await Promise.all([legacy.close(), b.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('three connections spending their whole bad-frame budget on 400,000-deep frames do not stall a victim [SB-4.0-4] [SB-7-5]', async (t) => {
  // The attack: 3 x 20 frames, inside the default budget (20 per 10 s), so nothing closes them.
  // Parsed whole, that is ~14 s of the broker's thread, and a victim waits seconds for a round trip.
  const { broker, url } = await startBroker(t);
  const errors = faults(broker);
  const victim = await startVictim(url, 5000);
  await victim.roundTrip(); // warm
  const attackers = await Promise.all([0, 1, 2].map((i) => Peer.named(url, `deep-${i}`, { timeoutMs: 30_000 })));
  const PER_CONNECTION = 20;
  attackers.forEach((peer, i) => {
    const kinds = attacks(`c${i}`);
    for (let k = 0; k < PER_CONNECTION; k++) peer.send(kinds[k % kinds.length].text);
  });
  const refused = Promise.all(
    attackers.map(async (peer) => {
      for (let k = 0; k < PER_CONNECTION; k++) await peer.next(isError, 30_000);
    }),
  ).then(
    () => true,
    () => false,
  );
  let done = false;
  void refused.then(() => (done = true));
  const BOUND_MS = 2000; // the fix leaves a few hundred ms at worst on 2 shared cores; the defect, seconds
  const latencies: number[] = [];
  const failures: string[] = [];
  const until = Date.now() + 30_000;
  while (!done && Date.now() < until) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${BOUND_MS} ms`), BOUND_MS)));
    const result = await Promise.race([victim.roundTrip().catch((error: Error) => error.message), deadline]);
    clearTimeout(timer);
    if (typeof result === 'number') latencies.push(result);
    else {
      failures.push(result);
      break; // one stalled round trip proves the stall; the next would only wait behind it
    }
  }
  t.ok(await refused, 'every attacker got its 20 bad_frame errors');
  t.same(failures, [], `every victim round trip during the attack completed within ${BOUND_MS} ms`);
  const worst = latencies.length > 0 ? `the slowest ${Math.max(...latencies).toFixed(1)} ms` : 'none completed';
  t.ok(latencies.length > 0 && Math.max(...latencies) < BOUND_MS, `${latencies.length} victim round trips during the attack, ${worst}`);
  t.ok(attackers.every((p) => p.ws.readyState === p.ws.OPEN), 'the attackers stayed inside the budget: still connected');
  t.same(errors, [], 'no fault in the broker');
  await Promise.all(attackers.map((p) => p.close()));
  await victim.close();
  t.same(await drained(broker, 5000), NOTHING_HELD);
});
