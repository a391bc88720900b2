/**
 * `auth` (protocol.md section 4.5): a token makes the connection its identity; a bad one closes it.
 * A policy may answer asynchronously: the connection's next frames wait until it has (the returned
 * promise), and a hook that fails or does not answer in time refuses the token (hooks.ts).
 */
import { CLOSE_CODES, type AuthFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Authenticated } from '../hooks.js';
import type { Session } from '../session.js';

export function handleAuth(ctx: BrokerContext, session: Session, frame: AuthFrame): Promise<void> | void {
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (session.authenticated) {
    session.error('forbidden', 'this connection has already authenticated', ids); // [SB-4.5-4]
    return;
  }
  const result = ctx.authenticate(session, frame.token);
  if (result instanceof Promise) return result.then((settled) => settle(ctx, session, settled, ids));
  settle(ctx, session, result, ids);
}

function settle(ctx: BrokerContext, session: Session, result: Authenticated, ids: { ref?: string }): void {
  if (result.identity === undefined) {
    if (result.fault !== undefined) ctx.fault(result.fault);
    ctx.refused(session, 'unauthorized', 'auth');
    session.error('unauthorized', 'the token is not valid', ids); // [SB-4.5-2]
    session.close(CLOSE_CODES.policyViolation, result.fault === undefined ? 'unauthorized' : 'unauthorized: the policy failed');
    return;
  }
  session.identity = result.identity; // [SB-4.5-1]
  session.authenticated = true;
  session.send({ action: 'authenticated', identity: result.identity.id, ...ids });
}
