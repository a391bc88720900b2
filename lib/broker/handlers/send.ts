/**
 * `send` (protocol.md sections 4.3 and 6): resolve the destinations, refuse what breaks a rule or a
 * limit, report delivery when asked (`ref`), open the request when it has an `ack`, then deliver.
 * Every refusal happens before the first delivery, so a send is delivered whole or not at all.
 */
import { encodeMessage, type SendFrame } from '../../protocol/index.js';
import type { BrokerContext } from '../context.js';
import type { Target } from '../pending.js';
import type { Session, ErrorDetails } from '../session.js';

export function handleSend(ctx: BrokerContext, session: Session, frame: SendFrame): void {
  const ids: ErrorDetails = {};
  if (frame.ack !== undefined) ids.ack = frame.ack;
  if (frame.ref !== undefined) ids.ref = frame.ref;

  const from = session.primaryName;
  if (from === undefined) {
    session.error('not_registered', 'register a name before sending', ids); // [SB-4.3-1]
    return;
  }
  const dest = typeof frame.dest === 'string' ? [frame.dest] : frame.dest;
  if (dest.length > ctx.limits.maxDestinations) {
    const message = `a send may name at most ${ctx.limits.maxDestinations} destinations`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxDestinations' }); // [SB-4.3-4]
    return;
  }
  const denied = dest.find((name) => !ctx.authorize(session, 'send', name));
  if (denied !== undefined) {
    session.error('forbidden', `this identity may not send to "${denied}"`, { ...ids, id: denied }); // [SB-4.5-3]
    return;
  }
  const timeoutMs = frame.timeout ?? ctx.limits.defaultTimeoutMs;
  if (frame.ack !== undefined && !admitRequest(ctx, session, frame.ack, timeoutMs, ids)) return;

  const { targets, delivered, unknown } = resolve(ctx, dest);
  let body: string;
  try {
    body = JSON.stringify(frame.message);
  } catch {
    session.error('bad_frame', 'message is nested too deeply to forward', { ...ids, path: '/message' }); // [SB-4.3-5]
    return;
  }

  if (frame.ref !== undefined) {
    session.send({ action: 'sent', ...ids, ref: frame.ref, delivered, unknown }); // [SB-4.3-3]
  }
  if (frame.ack === undefined) {
    const text = encodeMessage(body, from);
    for (const target of targets) target.peer.write('message', text); // [SB-4.3-2]
    return;
  }
  if (targets.length === 0) {
    session.error('no_responders', 'no destination of the request is registered', ids); // [SB-6-6]
    return;
  }
  const deliveries = ctx.pending.add(session, frame.ack, session.dialect === 'legacy', timeoutMs, targets);
  for (const delivery of deliveries) delivery.receiver.write('message', encodeMessage(body, from, delivery.id));
}

/** The checks a request passes before anything is delivered ([SB-2-6], [SB-6-2], [SB-6-8], [SB-6-12]). */
function admitRequest(ctx: BrokerContext, session: Session, ack: string, timeoutMs: number, ids: ErrorDetails): boolean {
  const { limits, pending } = ctx;
  if (!ctx.acceptingRequests) {
    session.error('shutting_down', 'the broker is shutting down and accepts no new request', ids);
    return false;
  }
  if (pending.has(session, ack)) {
    session.error('duplicate_ack', `a request with ack "${ack}" is already pending`, ids);
    return false;
  }
  if (timeoutMs > limits.maxTimeoutMs) {
    const message = `timeout ${timeoutMs} ms exceeds the maximum of ${limits.maxTimeoutMs} ms`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxTimeoutMs' });
    return false;
  }
  if (pending.openOf(session) >= limits.maxPendingPerConnection) {
    const message = `a connection may have at most ${limits.maxPendingPerConnection} pending requests`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxPendingPerConnection' });
    return false;
  }
  if (pending.open >= limits.maxPendingTotal) {
    const message = `the broker has ${limits.maxPendingTotal} pending requests, its maximum`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxPendingTotal' });
    return false;
  }
  return true;
}

/** Registered destinations, one target per connection ([SB-4.3-2]), and the names that are not registered. */
function resolve(ctx: BrokerContext, dest: readonly string[]) {
  const targets: Target<Session>[] = [];
  const delivered: string[] = [];
  const unknown: string[] = [];
  const seenNames = new Set<string>();
  const seenPeers = new Set<Session>();
  for (const name of dest) {
    if (seenNames.has(name)) continue;
    seenNames.add(name);
    const peer = ctx.names.lookup(name);
    if (peer === undefined) {
      unknown.push(name);
      continue;
    }
    delivered.push(name);
    if (seenPeers.has(peer)) continue;
    seenPeers.add(peer);
    targets.push({ peer, name });
  }
  return { targets, delivered, unknown };
}
