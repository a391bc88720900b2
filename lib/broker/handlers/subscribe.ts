/**
 * `subscribe` and `unsubscribe` (protocol.md section 4.6): each is answered, and both are idempotent.
 */
import type { SubscribeFrame, UnsubscribeFrame } from '../../protocol/index.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleSubscribe(ctx: BrokerContext, session: Session, frame: SubscribeFrame): void {
  const { topic } = frame;
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (session.primaryName === undefined) {
    session.error('not_registered', 'register a name before subscribing', { id: topic, ...ids }); // [SB-4.6-1]
    return;
  }
  if (!ctx.authorize(session, 'subscribe', topic)) {
    session.error('forbidden', `this identity may not subscribe to "${topic}"`, { id: topic, ...ids }); // [SB-4.5-3]
    return;
  }
  if (!ctx.topics.has(session, topic) && ctx.topics.countOf(session) >= ctx.limits.maxSubscriptionsPerConnection) {
    const message = `a connection may hold at most ${ctx.limits.maxSubscriptionsPerConnection} subscriptions`;
    session.error('limit_exceeded', message, { id: topic, limit: 'maxSubscriptionsPerConnection', ...ids }); // [SB-4.6-3]
    return;
  }
  ctx.topics.subscribe(session, topic);
  session.send({ action: 'subscribed', topic, ...ids }); // [SB-4.6-1]
}

export function handleUnsubscribe(ctx: BrokerContext, session: Session, frame: UnsubscribeFrame): void {
  ctx.topics.unsubscribe(session, frame.topic);
  session.send({ action: 'unsubscribed', topic: frame.topic, ...refOf(session, frame) }); // [SB-4.6-1], [SB-4.0-5]
}
