/**
 * `auth` (protocol.md section 4.5): a token makes the connection its identity; a bad one closes it.
 * A policy may answer asynchronously: the connection's next frames wait until it has.
 */
import { CLOSE_CODES, type AuthFrame } from '../../protocol/index.js';
import type { Identity } from '../auth/policy.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleAuth(ctx: BrokerContext, session: Session, frame: AuthFrame): void {
  if (session.authenticated) {
    session.error('forbidden', 'this connection has already authenticated'); // [SB-4.5-4]
    return;
  }
  const identity = ctx.authenticate(session, frame.token);
  if (identity instanceof Promise) {
    ctx.holdWhile(
      session,
      identity.then(
        (found) => admit(session, found),
        () => admit(session, undefined),
      ),
    );
    return;
  }
  admit(session, identity);
}

function admit(session: Session, identity: Identity | undefined): void {
  if (identity === undefined) {
    session.error('unauthorized', 'the token is not valid'); // [SB-4.5-2]
    session.close(CLOSE_CODES.policyViolation, 'unauthorized');
    return;
  }
  session.identity = identity; // [SB-4.5-1]
  session.authenticated = true;
  session.send({ action: 'authenticated', identity: identity.id });
}
