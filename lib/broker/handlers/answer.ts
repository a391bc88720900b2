/**
 * `answer` (protocol.md section 4.4): hand an answer to the pending-request table, which decides
 * whether it wins, is late, or is unknown.
 */
import type { AnswerFrame } from '../../protocol/index.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleAnswer(ctx: BrokerContext, session: Session, frame: AnswerFrame): void {
  const result = ctx.pending.answer(session, frame.ack, frame.message ?? null, frame.error);
  if (result === 'unknown') {
    // [SB-4.4-1] Unknown, foreign and expired delivery ids look the same: nothing is revealed.
    session.error('unknown_ack', 'no request this connection may answer has this ack', { ack: frame.ack });
  }
}
