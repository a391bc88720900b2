/**
 * `subscribe` and `unsubscribe` (protocol.md section 4.6): each is answered, and both are idempotent. A
 * subscription's topic is a filter ([SB-3-5]): a topic, or one with `*` and `>` segments ([SB-4.6-4]).
 */
import { isTopic, type SubscribeFrame, type UnsubscribeFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleSubscribe(ctx: BrokerContext, session: Session, frame: SubscribeFrame): Promise<void> | void {
  const { topic } = frame;
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (!wildcardsAllowed(session, frame, ids)) return;
  if (session.primaryName === undefined) {
    session.error('not_registered', 'register a name before subscribing', { id: topic, ...ids }); // [SB-4.6-1]
    return;
  }
  if (!ctx.authorize(session, 'subscribe', topic)) {
    session.error('forbidden', `this identity may not subscribe to "${topic}"`, { id: topic, ...ids }); // [SB-4.5-3], [SB-12-4]
    return;
  }
  if (!ctx.topics.has(session, topic) && ctx.topics.countOf(session) >= ctx.limits.maxSubscriptionsPerConnection) {
    const message = `a connection may hold at most ${ctx.limits.maxSubscriptionsPerConnection} subscriptions`;
    session.error('limit_exceeded', message, { id: topic, limit: 'maxSubscriptionsPerConnection', ...ids }); // [SB-4.6-3]
    return;
  }
  const subscribed = () => session.send({ action: 'subscribed', topic, ...ids }); // [SB-4.6-1]
  const cluster = ctx.cluster;
  if (cluster === undefined) {
    ctx.topics.subscribe(session, topic);
    return subscribed();
  }
  // [SB-16-5] In a cluster, in the cluster's order of subscriptions, and `subscribed` once every node knows it.
  const order = ctx.topics.orderOf(session, topic) ?? cluster.order();
  ctx.topics.subscribe(session, topic, order);
  return cluster.subscribed(session, topic, order).then(subscribed);
}

export function handleUnsubscribe(ctx: BrokerContext, session: Session, frame: UnsubscribeFrame): Promise<void> | void {
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (!wildcardsAllowed(session, frame, ids)) return;
  ctx.topics.unsubscribe(session, frame.topic);
  const unsubscribed = () => session.send({ action: 'unsubscribed', topic: frame.topic, ...ids }); // [SB-4.6-1]
  if (ctx.cluster !== undefined) return ctx.cluster.unsubscribed(session, frame.topic).then(unsubscribed); // [SB-16-5]
  unsubscribed();
}

/**
 * [SB-4.6-4] A filter with `*` or `>` is taken only from an extended client whose frame says
 * `"wildcards": true`. Without it, such a filter is refused as the second edition refused it (a bad frame
 * naming `/topic`), so a client of that edition sees no change ([SB-3-4]); a legacy client's is dropped
 * ([SB-4.0-3]).
 */
function wildcardsAllowed(session: Session, frame: SubscribeFrame | UnsubscribeFrame, ids: { ref?: string }): boolean {
  if (isTopic(frame.topic) || (frame.wildcards === true && session.dialect === 'extended')) return true;
  const message = 'topic: a filter with * or > needs "wildcards": true (protocol.md section 4.6)';
  session.error('bad_frame', message, { path: '/topic', ...ids });
  return false;
}
