/**
 * `answer` (protocol.md section 4.4): hand an answer to the pending-request table, which decides
 * whether it wins, is late, or is unknown; in cluster mode, to the node that keeps its request.
 */
import type { AnswerFrame } from '../../protocol/wire.js';
import { forwardable } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Answer } from '../pending.js';
import type { Session } from '../session.js';

export function handleAnswer(ctx: BrokerContext, session: Session, frame: AnswerFrame, raw: string | undefined): void {
  let answer: Answer;
  if (frame.error !== undefined) {
    answer = { error: frame.error, trace: frame.trace };
  } else {
    // [SB-4.3-5] refused before it can reach anyone; the request still waits for a usable answer
    const body = forwardable(session, frame.message ?? null, raw, { ack: frame.ack });
    if (body === undefined) return;
    answer = { body, trace: frame.trace }; // [SB-15-1] the trace goes on with the outcome
  }
  const result = ctx.pending.answer(session, frame.ack, answer);
  if (result === 'unknown') {
    // [SB-16-2] A request kept on another node: its answer goes there, and is judged there.
    const relayed = { action: 'answer' as const, ack: frame.ack, error: frame.error, trace: frame.trace };
    if (ctx.cluster?.relay(session, relayed, 'body' in answer ? answer.body : undefined) === true) return;
    // [SB-4.4-1] Unknown, foreign and expired delivery ids look the same: nothing is revealed.
    session.error('unknown_ack', 'no request this connection may answer has this ack', { ack: frame.ack });
  }
}
