/**
 * `cancel` (protocol.md section 6.1): the sender ends its own pending request; its outcome is
 * `cancelled` and the receivers still working on it are told to stop. A cancel that finds no pending
 * request (it raced the outcome) changes nothing and is not answered.
 */
import type { CancelFrame } from '../../protocol/wire.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleCancel(ctx: BrokerContext, session: Session, frame: CancelFrame): void {
  ctx.pending.cancel(session, frame.ack); // [SB-6.1-1]
}
