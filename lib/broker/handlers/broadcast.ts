/**
 * `broadcast` (protocol.md section 4.8): one message to every other connection that holds a name, on
 * every node of a cluster.
 */
import { encodeMessage, messageSuffix, traceSuffix, type BroadcastFrame } from '../../protocol/wire.js';
import { forwardable, idsOf, senderName } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Payload, Target } from '../pending.js';
import { route, traceFor } from '../route.js';
import type { Session } from '../session.js';

export function handleBroadcast(ctx: BrokerContext, session: Session, frame: BroadcastFrame, raw: string | undefined): Promise<void> | void {
  const ids = idsOf(frame);
  const from = senderName(session, ids, 'broadcasting'); // [SB-4.8-1]
  if (from === undefined) return;
  if (!ctx.authorize(session, 'send', '*')) {
    session.error('forbidden', 'this identity may not broadcast', { ...ids, id: '*' }); // [SB-4.5-3]
    return;
  }
  const body = forwardable(session, frame.message, raw, ids); // [SB-4.3-5]
  if (body === undefined) return;
  const targets: Target<Session>[] = [];
  for (const peer of ctx.namedSessions()) {
    if (peer !== session) targets.push({ peer, name: peer.primaryName as string });
  }
  const payload = { body, from, suffix: messageSuffix({ event: frame.event }), trace: frame.trace && traceSuffix(frame.trace) }; // [SB-15-1]
  const published = (elsewhere: number) => session.send({ action: 'published', receivers: targets.length + elsewhere, ...ids }); // [SB-4.8-1]
  const deliver = () => route(ctx, session, { targets, queued: [] }, { payload, ref: frame.ref, timeoutMs: 0, gather: false, retry: false });
  if (ctx.cluster === undefined) {
    published(0);
    return deliver();
  }
  // [SB-16-5] In a cluster, `published` waits for every other node to say how many it reached.
  deliver();
  return ctx.cluster.broadcast(payload).then(published);
}

/** A broadcast from another node of the cluster, to this node's named connections ([SB-16-5]); how many it reached. */
export function deliverRemoteBroadcast(ctx: BrokerContext, payload: Payload): number {
  let plain: Buffer | undefined;
  let traced: Buffer | undefined;
  let receivers = 0;
  for (const session of ctx.namedSessions()) {
    receivers++;
    const trace = traceFor(session, payload); // [SB-15-2]
    const frame = trace === '' ? (plain ??= encoded(payload, '')) : (traced ??= encoded(payload, trace));
    session.write('message', frame);
  }
  return receivers;
}

/** One `message` frame for every receiver of a broadcast, with `trace` or without. */
function encoded(payload: Payload, trace: string): Buffer {
  return Buffer.from(encodeMessage(payload.body, payload.from, undefined, payload.suffix + trace));
}
