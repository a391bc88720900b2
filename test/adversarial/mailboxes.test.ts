/**
 * Mailbox floods (robustness.md, "Resource limits" and "Delivery, stated honestly"; protocol.md section
 * 6.3, [SB-6.3-2]; issue 12, item 6). Mailboxes were bounded in count only: one client's 300 sends of
 * about 1 MiB to an offline durable name grew the broker from 80 to 430 MiB. They must be bounded in
 * bytes, per mailbox (`maxMailboxBytes`, refused with `mailbox_full`) and in all
 * (`maxMailboxBytesTotal`, refused with `limit_exceeded`), every refusal told to the sender and nothing
 * of a refused send delivered; and a queued message must not keep its closed sender alive. The
 * broker's memory under the same flood, in its own process, is measured by `npm run stress`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import type { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const MAX_MAILBOX_BYTES = 8 * 1024 * 1024; // the documented default (protocol.md section 9)

/** A `send` of a string body of exactly `bytes` UTF-8 bytes (quotes included) that starts with `tag`. */
function sendText(dest: string | string[], tag: string, bytes: number, ids: { ref?: string; ack?: string } = {}): string {
  const body = `"${tag}:${'x'.repeat(bytes - tag.length - 3)}"`;
  return JSON.stringify({ action: 'send', dest, ...ids, message: 0 }).replace(/"message":0/, `"message":${body}`);
}

/** Register `name` as durable on the extended dialect, then close, leaving a mailbox ([SB-6.3-1]). */
async function goOffline(url: string, name: string): Promise<void> {
  const holder = await Peer.connect(url);
  holder.send({ action: 'register', id: name, durable: true });
  await holder.next((f) => f.action === 'registered' && f.id === name);
  await holder.close();
}

/** Wait (with a deadline) until the broker holds `connections` connections: the closes were handled. */
async function connectionsDown(broker: Broker, connections: number): Promise<void> {
  await drained(broker, 2000, { connections });
}

/** The broker's object for the connection holding `name`, held weakly: no strong reference stays. */
function weakHolder(broker: Broker, name: string): WeakRef<object> {
  const entry = broker.names.entry(name);
  if (entry === undefined || entry.shared) throw new Error(`${name} has no exclusive holder`);
  return new WeakRef(entry.holder as object);
}

const outcomeOf = (ref: string) => (f: Frame) => f.ref === ref;

t.test('300 sends of ~1 MB to an offline durable name: the first 8 are queued, the rest refused with mailbox_full at maxMailboxBytes [SB-6.3-2]', async (t) => {
  const { broker, url } = await startBroker(t); // default limits: maxMessageBytes 1 MiB, maxMailboxBytes 8 MiB
  const writer = await Peer.named(url, 'writer', { timeoutMs: 5000 });
  const live = await Peer.named(url, 'live');
  await goOffline(url, 'box');
  await connectionsDown(broker, 2);

  const BYTES = 1_000_000;
  const fit = Math.floor(MAX_MAILBOX_BYTES / BYTES); // 8
  const outcomes: Frame[] = [];
  for (let i = 0; i < 300; i++) {
    writer.send(sendText('box', `m${i}`, BYTES, { ref: `s${i}` }));
    outcomes.push(await writer.next(outcomeOf(`s${i}`)));
    // Past twice the bound the defect is shown; stop before it costs the test process hundreds of MiB.
    if (outcomes.filter((o) => o.action === 'sent').length > 2 * fit) break;
  }
  const queued = outcomes.filter((o) => o.action === 'sent');
  const refused = outcomes.filter((o) => o.action === 'error');
  t.same(
    queued.slice(0, fit),
    Array.from({ length: fit }, (_, i) => ({ action: 'sent', ref: `s${i}`, delivered: [], unknown: [], queued: ['box'] })),
    `the first ${fit} are queued, reported in "queued" [SB-4.3-3]`,
  );
  t.equal(queued.length, fit, `exactly ${fit} queued of ${outcomes.length} sent (${fit} x ${BYTES} bytes fit in ${MAX_MAILBOX_BYTES})`);
  t.equal(refused.length, 300 - fit, `the other ${300 - fit} are refused`);
  t.ok(
    refused.every((f) => f.code === 'mailbox_full' && f.id === 'box' && typeof f.message === 'string'),
    'each with mailbox_full naming the name',
    { first: refused[0] },
  );
  t.equal(broker.stats().queued, fit, `the broker holds ${fit} queued messages`);

  // A refused send is delivered to no one, also to its other destinations.
  writer.send(sendText(['live', 'box'], 'both', BYTES, { ref: 'both' }));
  t.match(await writer.next(outcomeOf('both')), { action: 'error', code: 'mailbox_full', id: 'box', ref: 'both' });
  t.same(await live.quiet(100), [], 'the live destination of the refused send got nothing');
  t.equal(writer.ws.readyState, writer.ws.OPEN, 'refusals do not spend the bad-frame budget: the writer is still connected');

  // The name comes back: what was queued arrives in order, and the mailbox's bytes are free again.
  const back = await Peer.connect(url, { timeoutMs: 5000 });
  const texts: string[] = [];
  back.ws.on('message', (data) => texts.push(data.toString()));
  back.send({ action: 'register', id: 'box' });
  await back.next((f) => f.action === 'registered');
  for (let i = 0; i < fit; i++) await back.next((f) => f.action === 'message');
  t.same(
    texts.filter((s) => s.startsWith('{"action":"message"')).map((s) => /"message":"(m\d+):/.exec(s)?.[1]),
    Array.from({ length: fit }, (_, i) => `m${i}`),
    'the queued messages are delivered in order when the name comes back [SB-6.3-1]',
  );
  t.equal(broker.stats().queued, 0, 'nothing is queued any more');
  writer.send(sendText('box', 'now', BYTES, { ref: 'now' }));
  t.match(await writer.next(outcomeOf('now')), { action: 'sent', delivered: ['box'], unknown: [] }, 'the name is reached directly again');
  await Promise.all([writer.close(), live.close(), back.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('all mailboxes together stop at maxMailboxBytesTotal: limit_exceeded naming the limit, and the bytes come back when a name does [SB-6.3-2]', async (t) => {
  // Limits lowered so the total is reached with little traffic: 2 bodies of 40,000 bytes per mailbox,
  // and 6 in all (250,000 bytes).
  const limits = { maxMailboxBytes: 100_000, maxMailboxBytesTotal: 250_000 };
  const { broker, url } = await startBroker(t, { limits });
  const writer = await Peer.named(url, 'writer');
  const boxes = ['box-a', 'box-b', 'box-c', 'box-d'];
  for (const box of boxes) await goOffline(url, box);
  await connectionsDown(broker, 1);

  const BYTES = 40_000;
  const send = async (dest: string | string[], ref: string) => {
    writer.send(sendText(dest, ref, BYTES, { ref }));
    return writer.next(outcomeOf(ref));
  };
  for (const box of ['box-a', 'box-b', 'box-c']) {
    for (const n of [1, 2]) t.match(await send(box, `${box}-${n}`), { action: 'sent', queued: [box] }, `${box} queues message ${n}`);
  }
  t.match(await send('box-a', 'box-a-3'), { action: 'error', code: 'mailbox_full', id: 'box-a' }, 'a third body would pass maxMailboxBytes: mailbox_full');
  t.match(
    await send('box-d', 'box-d-1'),
    { action: 'error', code: 'limit_exceeded', ref: 'box-d-1', limit: 'maxMailboxBytesTotal' },
    'a fourth mailbox would take the total past maxMailboxBytesTotal: limit_exceeded naming it',
  );
  t.equal(broker.stats().queued, 6, 'six messages queued, nothing of the refused sends');

  // box-a comes back and takes its two: their bytes count no more, and box-d has room.
  const back = await Peer.named(url, 'box-a');
  for (const n of [1, 2]) t.match(await back.next((f) => f.action === 'message'), { from: 'writer' }, `box-a gets its message ${n}`);
  t.match(await send('box-d', 'box-d-2'), { action: 'sent', queued: ['box-d'] }, 'after box-a took its messages, box-d queues');
  await Promise.all([writer.close(), back.close()]);
  t.same(await drained(broker, 2000, { connections: 0, names: 0, pending: 0, deliveries: 0 }), { connections: 0, names: 0, pending: 0, deliveries: 0 });
});

t.test('a queued message keeps no reference to its closed sender: the sender\'s session can be collected [SB-6.3-2]', async (t) => {
  // The test process may lack --expose-gc; V8 can still hand out its gc function at run time.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { broker, url } = await startBroker(t);
  await goOffline(url, 'box');
  const sender = await Peer.named(url, 'sender');
  const session = weakHolder(broker, 'sender');
  sender.send({ action: 'send', dest: 'box', message: 'from a sender about to leave', ref: 'q' });
  t.match(await sender.next((f) => f.ref === 'q'), { action: 'sent', queued: ['box'] });
  await sender.close();
  await connectionsDown(broker, 0);
  t.equal(broker.stats().queued, 1, 'the message is still queued');
  let collected = false;
  for (let round = 0; round < 20 && !collected; round++) {
    await new Promise((resolve) => setTimeout(resolve, 20)); // WeakRef targets live until the job ends
    gc();
    collected = session.deref() === undefined;
  }
  t.ok(collected, 'the closed sender\'s session was garbage-collected while its message waits in the mailbox');
  const back = await Peer.named(url, 'box');
  t.match(await back.next((f) => f.action === 'message'), { message: 'from a sender about to leave', from: 'sender' }, 'and the message is still delivered, from its name');
  await back.close();
  t.same(await drained(broker), NOTHING_HELD);
});
