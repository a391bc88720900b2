/**
 * `pull` (protocol.md section 13): the sender of a streaming request took more parts; each receiver still
 * working on it may send as many more, and is told so by its delivery id.
 */
import type { PullFrame } from '../../protocol/wire.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handlePull(ctx: BrokerContext, session: Session, frame: PullFrame): void {
  // [SB-13-3] A pull that finds no streaming request (it crossed the outcome) changes nothing and is not answered.
  for (const { delivery, gained } of ctx.pending.pull(session, frame.ack, frame.n)) {
    if (delivery.receiver.dialect === 'extended') delivery.receiver.send({ action: 'pull', ack: delivery.id, n: gained }); // [SB-13-5]
  }
}
