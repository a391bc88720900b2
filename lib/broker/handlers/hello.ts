/**
 * `hello` (protocol.md section 4.10): the protocol edition, the features and the limits of this broker,
 * so that a client can learn what it may use before it uses it. Answered also before `auth`.
 */
import { EDITION, FEATURES, SUBPROTOCOL, type HelloFrame } from '../../protocol/wire.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleHello(ctx: BrokerContext, session: Session, frame: HelloFrame): void {
  const answer = { action: 'hello' as const, protocol: SUBPROTOCOL, edition: EDITION, features: [...FEATURES], limits: { ...ctx.limits } };
  session.send(frame.ref === undefined ? answer : { ...answer, ref: frame.ref }); // [SB-4.10-1]
}
