/**
 * `publish` (protocol.md section 4.7): deliver to the current subscribers of one or several topics, each
 * subscriber once, with the topic and the subscription that matched; with `ack`, a request to them. In a
 * cluster, the subscribers on other nodes are reached too: this node keeps their subscriptions.
 */
import { messageSuffix, traceSuffix, type PublishFrame } from '../../protocol/wire.js';
import { admitRequest, forwardable, idsOf, senderName } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Target } from '../pending.js';
import { route } from '../route.js';
import type { Session } from '../session.js';
import { bySpecificity } from '../filter-trie.js';
import type { Match } from '../topics.js';

export function handlePublish(ctx: BrokerContext, session: Session, frame: PublishFrame, raw: string | undefined): void {
  const ids = idsOf(frame);
  const from = senderName(session, ids, 'publishing'); // [SB-4.7-1]
  if (from === undefined) return;
  const topics = typeof frame.topic === 'string' ? [frame.topic] : frame.topic;
  if (topics.length > ctx.limits.maxDestinations) {
    const message = `a publish may name at most ${ctx.limits.maxDestinations} topics`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxDestinations' });
    return;
  }
  const denied = topics.find((topic) => !ctx.authorize(session, 'publish', topic));
  if (denied !== undefined) {
    session.error('forbidden', `this identity may not publish to "${denied}"`, { ...ids, id: denied }); // [SB-4.5-3]
    return;
  }
  const timeoutMs = frame.timeout ?? ctx.limits.defaultTimeoutMs;
  if (frame.ack !== undefined && !admitRequest(ctx, session, frame.ack, timeoutMs, ids)) return;
  const body = forwardable(session, frame.message, raw, ids); // [SB-4.3-5]
  if (body === undefined) return;
  const targets: Target<Session>[] = [];
  for (const [peer, match] of subscribers(ctx, topics)) {
    const name = peer.primaryName;
    if (name === undefined) continue; // a subscriber that holds no name now is not reached ([SB-4.7-4], [SB-5.3-1])
    targets.push({ peer, name, suffix: messageSuffix(match) }); // [SB-4.7-2]
  }
  const published = { action: 'published' as const, receivers: targets.length, ...ids };
  session.send(published); // [SB-4.7-1]
  // [SB-4.7-3] with ack, a request to the subscribers
  route(ctx, session, { targets, queued: [] }, {
    payload: { body, from, suffix: messageSuffix({ event: frame.event }), trace: frame.trace && traceSuffix(frame.trace) }, // [SB-15-1]
    ack: frame.ack,
    ref: frame.ref,
    timeoutMs,
    gather: frame.gather === true && session.dialect === 'extended', // [SB-6.2-2]
    retry: false,
  });
}

/**
 * The subscribers of `topics` in the order of [SB-6.2-1]. In a cluster, this node's and the other nodes'
 * merged into that order: by topic, then the most specific filter first, then the cluster's order of
 * subscriptions ([SB-16-5]).
 */
function subscribers(ctx: BrokerContext, topics: readonly string[]): Iterable<[Session, Match]> {
  const local = ctx.topics.match(topics);
  const remote = ctx.cluster?.topics.match(topics);
  if (remote === undefined || remote.size === 0) return local;
  const all: Array<[Session, Match]> = [...local, ...remote];
  const rank = (match: Match) => topics.indexOf(match.topic);
  return all.sort(([, a], [, b]) => rank(a) - rank(b) || bySpecificity(a.context, b.context) || a.order - b.order);
}
