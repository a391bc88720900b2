/**
 * The checks that `send`, `publish` and `broadcast` share before anything is delivered: the sender's
 * name, the body to forward, and a request's admission ([SB-2-6], [SB-6-2], [SB-6-8], [SB-6-12]). Each
 * failure tells the sender.
 */
import type { BrokerContext } from './context.js';
import { bodyOf } from './route.js';
import type { ErrorDetails, Session } from './session.js';

/** The name the sender sends from, or undefined after telling it to register first ([SB-4.3-1]). */
export function senderName(session: Session, ids: ErrorDetails, doing: string): string | undefined {
  const from = session.primaryName;
  if (from === undefined) session.error('not_registered', `register a name before ${doing}`, ids);
  return from;
}

/** The encoded body to forward, or undefined after refusing it ([SB-4.3-5]). */
export function forwardable(session: Session, message: unknown, raw: string | undefined, ids: ErrorDetails): string | undefined {
  const body = bodyOf(message, raw);
  if (body === undefined) session.error('bad_frame', 'message is nested too deeply to forward', { ...ids, path: '/message' });
  return body;
}

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

/**
 * The `ref` of a control frame, to echo in every reply and error it causes ([SB-4.0-5]); legacy clients,
 * whose frames are exactly wsmsgbroker's, never get one.
 */
export function refOf(session: Session, frame: { ref?: string }): { ref?: string } {
  return frame.ref === undefined || session.dialect === 'legacy' ? {} : { ref: frame.ref };
}

/** The correlation fields of a frame, to echo in errors about it ([SB-7-2]). */
export function idsOf(frame: { ack?: string; ref?: string }): ErrorDetails {
  const ids: ErrorDetails = {};
  if (frame.ack !== undefined) ids.ack = frame.ack;
  if (frame.ref !== undefined) ids.ref = frame.ref;
  return ids;
}
