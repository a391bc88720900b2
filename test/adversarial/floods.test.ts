/**
 * Floods (robustness.md, "Frames and validation" and "Resource limits"; protocol.md sections 6 and 7):
 * garbage until the budget closes the connection, garbage that goes on after the close, valid sends and
 * requests as fast as a socket takes them. The victim's round trips must keep completing (within the
 * fixtures' generous deadline: timing belongs to `npm run stress`), and the flooder must hit the limit
 * that is there for it.
 */
import t from 'tap';
import WebSocket from 'ws';
import type { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';
import { encodeFrame, OPCODE, RawPeer } from '../fixtures/raw.js';
import { startVictim } from '../fixtures/victim.js';

function disconnects(broker: Broker): number[] {
  const codes: number[] = [];
  broker.on('disconnect', (_info, code) => codes.push(code));
  return codes;
}

t.test('a garbage flooder is closed by the budget every time it reconnects; the victim keeps working [SB-7-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { badFrameBudget: 20 } });
  const victim = await startVictim(url);
  const closes: number[] = [];
  for (let round = 0; round < 10; round++) {
    const flooder = await Peer.connect(url);
    for (let i = 0; i < 200; i++) flooder.send('{"action": garbage');
    closes.push((await flooder.closed()).code);
    await victim.check(t, `after flood ${round}`);
  }
  t.same(closes, Array.from({ length: 10 }, () => 1008), 'every round ends with 1008');
  t.ok(broker.stats().badFrames >= 10 * 21, `${broker.stats().badFrames} bad frames counted`);
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a garbage flooder that ignores the close is cut within seconds, not left streaming for ws\'s 30 s close timeout [SB-7-3]', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const codes = disconnects(broker);
  const victim = await startVictim(url);
  const flooder = await RawPeer.open(port);
  flooder.socket.on('data', () => {}); // reads the close frame, and never answers it
  const garbage = encodeFrame({ opcode: OPCODE.text, payload: 'not json' });
  const batch = Buffer.concat(Array.from({ length: 500 }, () => garbage));
  const started = Date.now();
  while (!flooder.socket.destroyed && Date.now() - started < 3000) {
    await flooder.write(batch);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const lasted = Date.now() - started;
  t.ok(flooder.frames.some((f) => f.opcode === OPCODE.close), 'the broker sent its close frame');
  t.ok(flooder.socket.destroyed, `the broker cut the connection (it was still streaming after ${lasted} ms; disconnects: ${JSON.stringify(codes)})`);
  await victim.check(t, 'during and after the flood');
  flooder.destroy();
  await victim.close();
  // ws parses what it had already read, one message per loop turn, before it lets a closed socket go
  t.same(await drained(broker, 5000), NOTHING_HELD);
});

t.test('a flood of valid sends from one connection leaves the victim\'s requests completing [SB-4.3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const victim = await startVictim(url);
  const sink = await Peer.named(url, 'sink');
  let sunk = 0;
  sink.ws.on('message', () => sunk++);
  const flooder = await Peer.named(url, 'flooder');
  const frame = JSON.stringify({ action: 'send', dest: 'sink', message: 'x'.repeat(64) });
  const total = 50_000;
  for (let i = 0; i < total; i++) flooder.ws.send(frame);
  for (let i = 0; i < 20; i++) await victim.roundTrip();
  t.pass('20 victim round trips completed while the flood was being handled');
  const deadline = Date.now() + 15_000;
  while (sunk < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(sunk, total, 'and the sink got every message of the flood');
  await Promise.all([sink.close(), flooder.close(), victim.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a request flood to a responder that never answers stops at maxPendingPerConnection; the victim keeps working [SB-6-12]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxPendingPerConnection: 100 } });
  const victim = await startVictim(url);
  const black = await Peer.named(url, 'black-hole');
  const flooder = await Peer.named(url, 'flooder');
  const refused: string[] = [];
  flooder.ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { code?: string; limit?: string };
    if (f.code === 'limit_exceeded' && f.limit === 'maxPendingPerConnection') refused.push('x');
  });
  for (let i = 0; i < 5000; i++) flooder.ws.send(JSON.stringify({ action: 'send', dest: 'black-hole', message: i, ack: `f${i}`, timeout: 60_000 }));
  const deadline = Date.now() + 10_000;
  while (refused.length < 4900 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(refused.length, 4900, 'everything past the 100th is refused with limit_exceeded');
  t.equal(broker.stats().pending, 100, 'the broker holds exactly 100 of its requests');
  await victim.check(t, 'with the flooder at its cap');
  await flooder.close();
  t.equal((await drained(broker, 2000, { connections: 3, names: 3, pending: 0, deliveries: 0 })).pending, 0, 'the flooder\'s requests are freed when it leaves [SB-6-10]');
  await Promise.all([black.close(), victim.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('limits that Node\'s timers cannot hold (over 2^31 - 1 ms) are refused or honoured, never cut to 1 ms', async (t) => {
  const big = 2 ** 31 + 1000;
  for (const limits of [{ maxTimeoutMs: big, defaultTimeoutMs: big }, { heartbeatMs: big }]) {
    const label = JSON.stringify(limits);
    let started: Awaited<ReturnType<typeof startBroker>>;
    try {
      started = await startBroker(t, { limits });
    } catch (error) {
      t.match(String(error), /invalid broker options/, `${label} is refused with a clear message`);
      continue;
    }
    const { broker, url } = started;
    try {
      const a = await Peer.named(url, 'a');
      const b = await Peer.named(url, 'b');
      a.send({ action: 'send', dest: 'b', message: 1, ack: 'long' });
      await b.next((f) => f.action === 'message');
      t.same(await a.quiet(200), [], `${label}: a request with the long deadline is still pending after 200 ms`);
      t.equal(b.ws.readyState, WebSocket.OPEN, `${label}: a healthy peer is still connected`);
      await Promise.all([a.close(), b.close()]);
    } catch (error) {
      t.fail(`${label}: a healthy peer could not finish a request: ${String(error).slice(0, 200)}`);
    }
    t.same(await drained(broker), NOTHING_HELD);
  }
});
