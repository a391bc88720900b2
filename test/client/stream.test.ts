/**
 * Streaming answers through lib/client and a real broker (protocol.md section 13): `client.stream()` on
 * the caller, `ctx.progress()` in the handler. A slow loop bounds what is in flight towards it; either
 * side can end the stream early, each with one clear outcome.
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { readyClient, rejection } from '../fixtures/clients.js';
import type { MessageContext, SwitchboardError } from '../../lib/client/node.js';

const WINDOW = 16; // the broker's default streamWindow

t.test('10,000 parts to a slow loop: in order, then the answer, with never more than the window in flight [SB-13-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web' });
  const TOTAL = 10_000;
  let written = 0; // parts the handler has had written (its progress() resolved)
  let taken = 0; // parts the caller's loop has taken
  let widest = 0; // the most parts ever written and not yet taken: what the broker and the sockets hold
  calc.handle(async (count, ctx) => {
    for (let i = 0; i < (count as number); i++) {
      await ctx.progress(i);
      written++;
      widest = Math.max(widest, written - taken);
    }
    return 'all sent';
  });
  const stream = web.stream<number, string>('calc', TOTAL, { timeout: 120_000 });
  let expected = 0;
  let ordered = true;
  for await (const part of stream) {
    if (part.message !== expected || part.from !== 'calc') ordered = false;
    expected++;
    taken++;
    if (taken % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 2)); // a slow reader
  }
  t.equal(expected, TOTAL, 'every part arrived');
  t.ok(ordered, 'in order, each from calc');
  t.same(await stream.result, { from: 'calc', message: 'all sent' }, 'then the final answer');
  t.ok(widest <= WINDOW, `at most ${WINDOW} parts were ever written and not yet taken (widest: ${widest})`);
  t.ok(widest > 1, `the window was used, not one part at a time (widest: ${widest})`);
  await web.close();
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('leaving the loop midway cancels the request: the handler\'s progress rejects and its signal aborts [SB-13-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web' });
  let ended: { code?: string; aborted: boolean; sent: number } | undefined;
  const done = new Promise<void>((resolve) => {
    calc.handle(async (_message, ctx: MessageContext) => {
      let sent = 0;
      try {
        for (;;) {
          await ctx.progress(sent);
          sent++;
        }
      } catch (error) {
        ended = { code: (error as SwitchboardError).code, aborted: ctx.signal.aborted, sent };
        resolve();
      }
    });
  });
  const stream = web.stream<number>('calc', 'forever', { timeout: 60_000 });
  const seen: number[] = [];
  for await (const part of stream) {
    seen.push(part.message);
    if (seen.length === 100) break;
  }
  await done;
  t.same(seen, Array.from({ length: 100 }, (_, i) => i), 'the first 100 parts, in order');
  t.equal(ended?.code, 'cancelled', 'the handler\'s next progress rejects with cancelled');
  t.equal(ended?.aborted, true, 'and its signal is aborted');
  t.ok((ended?.sent ?? 0) <= 100 + WINDOW, `the handler got no further than the credit allowed (${ended?.sent} parts)`);
  t.equal((await rejection(stream.result)).code, 'aborted', 'the stream\'s result says it was left');
  await web.close();
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a handler that ends the stream midway with an error ends the caller\'s loop with it, after the parts it sent [SB-13-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web' });
  calc.handle(async (_message, ctx) => {
    for (let i = 0; i < 40; i++) await ctx.progress(i);
    throw Object.assign(new Error('the disk is full'), { code: 'disk_full' });
  });
  const stream = web.stream<number>('calc', 'export', { timeout: 60_000 });
  const seen: number[] = [];
  let thrown: SwitchboardError | undefined;
  try {
    for await (const part of stream) seen.push(part.message);
  } catch (error) {
    thrown = error as SwitchboardError;
  }
  t.equal(seen.length, 40, 'every part sent before the error arrived');
  t.equal(thrown?.code, 'responder_error');
  t.equal(thrown?.remoteCode, 'disk_full');
  t.equal((await rejection(stream.result)).remoteCode, 'disk_full');
  await web.close();
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('progress on a request that is no stream rejects, and a plain request to a streaming handler still answers', async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web' });
  let refusal: SwitchboardError | undefined;
  let streaming: boolean | undefined;
  calc.handle(async (_message, ctx) => {
    streaming = ctx.streaming;
    if (!ctx.streaming) refusal = await rejection(ctx.progress('part'));
    else await ctx.progress('part');
    return 'answer';
  });
  t.same(await web.request('calc', 'plain'), { from: 'calc', message: 'answer' });
  t.equal(streaming, false);
  t.equal(refusal?.code, 'invalid_argument');
  const parts: unknown[] = [];
  const stream = web.stream('calc', 'streamed');
  for await (const part of stream) parts.push(part.message);
  t.same(parts, ['part']);
  t.same(await stream.result, { from: 'calc', message: 'answer' });
  t.equal((await rejection(Promise.resolve().then(() => web.stream({ topic: 'news' } as never, 1).result))).code, 'invalid_argument', 'a stream goes to names, never topics');
});
