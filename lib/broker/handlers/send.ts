/**
 * `send` (protocol.md sections 4.3 and 6): resolve the destinations (an exclusive holder, one member of
 * a pool, or the mailbox of an offline durable name), refuse what breaks a rule or a limit, report
 * delivery when asked (`ref`), then route. Every refusal happens before the first delivery, so a send is
 * delivered whole or not at all.
 */
import { messageSuffix, type SendFrame } from '../../protocol/index.js';
import { admitRequest, forwardable, idsOf, senderName } from '../admit.js';
import type { BrokerContext } from '../context.js';
import type { Target } from '../pending.js';
import { route } from '../route.js';
import type { Session } from '../session.js';

export function handleSend(ctx: BrokerContext, session: Session, frame: SendFrame, raw: string | undefined): void {
  const ids = idsOf(frame);
  const from = senderName(session, ids, 'sending'); // [SB-4.3-1]
  if (from === undefined) return;
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

  const resolved = resolve(ctx, dest, frame.ack !== undefined);
  if ('refused' in resolved) {
    if (resolved.refused === 'pool_busy') {
      const message = 'every member of a pool among the destinations is at its in-flight limit';
      session.error('limit_exceeded', message, { ...ids, limit: 'maxInFlightPerMember' }); // [SB-6.4-1]
    } else {
      session.error('mailbox_full', 'the mailbox of an offline destination is full', { ...ids, id: resolved.name }); // [SB-6.3-2]
    }
    return;
  }
  const body = forwardable(session, frame.message, raw, ids); // [SB-4.3-5]
  if (body === undefined) return;
  const { targets, delivered, unknown, queued } = resolved;
  if (frame.ref !== undefined) {
    const sent = { action: 'sent' as const, ...ids, ref: frame.ref, delivered, unknown };
    session.send(queued.length > 0 ? { ...sent, queued } : sent); // [SB-4.3-3]
  }
  route(ctx, session, targets, queued, {
    payload: { body, from, suffix: messageSuffix({ event: frame.event }) },
    ack: frame.ack,
    ref: frame.ref,
    timeoutMs,
    gather: frame.gather === true,
    retry: frame.retry === true,
  });
}

interface Resolved {
  targets: Target<Session>[];
  delivered: string[];
  unknown: string[];
  queued: string[];
}

type Refused = { refused: 'pool_busy' } | { refused: 'mailbox_full'; name: string };

/**
 * One target per connection ([SB-4.3-2]), one pool member per pool name ([SB-6.4-1]), the offline durable
 * names, and the names nobody holds; or why the send is refused before anything is delivered.
 */
function resolve(ctx: BrokerContext, dest: readonly string[], isRequest: boolean): Resolved | Refused {
  const resolved: Resolved = { targets: [], delivered: [], unknown: [], queued: [] };
  const seenNames = new Set<string>();
  const seenPeers = new Set<Session>();
  const cap = ctx.limits.maxInFlightPerMember;
  const usable = isRequest ? (member: Session) => ctx.pending.inFlight(member) < cap : undefined;
  for (const name of dest) {
    if (seenNames.has(name)) continue;
    seenNames.add(name);
    const entry = ctx.names.entry(name);
    if (entry === undefined) {
      if (!ctx.mailboxes.has(name)) resolved.unknown.push(name);
      else if (!ctx.mailboxes.canQueue(name)) return { refused: 'mailbox_full', name };
      else resolved.queued.push(name);
      continue;
    }
    const peer = ctx.names.pick(name, entry.shared ? usable : undefined);
    if (peer === undefined) return { refused: 'pool_busy' };
    resolved.delivered.push(name);
    if (seenPeers.has(peer)) continue;
    seenPeers.add(peer);
    resolved.targets.push({ peer, name });
  }
  return resolved;
}
