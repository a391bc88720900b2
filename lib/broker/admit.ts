/**
 * The checks a request passes before anything is delivered, shared by `send` and `publish`
 * ([SB-2-6], [SB-6-2], [SB-6-8], [SB-6-12]). Each failure tells the sender and returns false.
 */
import type { BrokerContext } from './context.js';
import type { ErrorDetails, Session } from './session.js';

export function admitRequest(ctx: BrokerContext, session: Session, ack: string, timeoutMs: number, ids: ErrorDetails): boolean {
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

/** The correlation fields of a frame, to echo in errors about it ([SB-7-2]). */
export function idsOf(frame: { ack?: string; ref?: string }): ErrorDetails {
  const ids: ErrorDetails = {};
  if (frame.ack !== undefined) ids.ack = frame.ack;
  if (frame.ref !== undefined) ids.ref = frame.ref;
  return ids;
}
